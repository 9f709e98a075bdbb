"""Markdown tables of numbers: the one place a float becomes report text (numpy and pandas only)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def fmt(v: Any, digits: int = 4) -> str:
    """A value as table text: floats rounded to ``digits``, None and non-finite as an en dash."""
    if v is None:
        return "–"
    if isinstance(v, (float, np.floating)):
        return "–" if not np.isfinite(v) else f"{v:.{digits}f}"
    return str(v)


def markdown_table(df: pd.DataFrame, digits: int = 4) -> str:
    """A DataFrame as a Markdown table (floats rounded)."""
    rows = [" | ".join(map(str, df.columns)), " | ".join("---" for _ in df.columns)]
    rows += [" | ".join(fmt(v, digits).replace("|", "\\|").replace("\n", " ") for v in r)
             for r in df.itertuples(index=False)]
    return "\n".join(f"| {r} |" for r in rows)
