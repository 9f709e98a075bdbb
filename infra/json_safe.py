"""One JSON-safe form of the values GLIM writes (records, label tables, metrics files)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON data: numpy scalars and arrays to Python numbers and lists, tuples
    to lists, mappings recursively, a NaN or infinite float to ``None``."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, Mapping):
        return {k: json_safe(v) for k, v in value.items()}
    return value
