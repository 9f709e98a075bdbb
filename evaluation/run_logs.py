"""The training logs of a checkpoint's run, when they lie beside it: the CSV logger's
``logs/version_*/metrics.csv`` (train / val losses, val retrieval, full-validation means) and the
full validations' ``full_val/epoch=*/metrics.json``."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from evaluation import columns as C

LOSS_PREFIXES = ("train/loss", "val/loss")
VAL_RETRIEVAL = ("val/top1", "val/top5", "val/top10")
FULL_VAL_CURVES = (C.bleu(1), C.gm_bleu(1, C.RAW_TAG), C.rouge("fmeasure"), C.rouge_at("fmeasure", C.RAW_TAG), "WER", C.POOL_MRR)


def run_directory(ckpt: str | Path) -> Path:
    """The directory a checkpoint was written to (train.py's ``--out_dir``)."""
    return Path(ckpt).resolve().parent


def csv_logs(run_dir: Path) -> pd.DataFrame | None:
    """Every ``logs/version_*/metrics.csv`` (a resumed run writes one version per start), in version
    order, one row per logged step; None without any."""
    paths = sorted(run_dir.glob("logs/version_*/metrics.csv"), key=lambda p: int(re.sub(r"\D", "", p.parent.name) or 0))
    frames = [pd.read_csv(p) for p in paths if p.stat().st_size]
    return pd.concat(frames, ignore_index=True) if frames else None


def full_val_means(run_dir: Path) -> pd.DataFrame | None:
    """One row per full validation (``epoch`` and every mean of its metrics.json), by epoch; None without any."""
    rows = []
    for p in run_dir.glob("full_val/epoch=*/metrics.json"):
        result = json.loads(p.read_text())
        rows.append({"epoch": result["epoch"], **{k: v for k, v in result["metrics"].items() if isinstance(v, (int, float))}})
    return pd.DataFrame(rows).sort_values("epoch", ignore_index=True) if rows else None


def epoch_curves(logs: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Per epoch, the last logged value of each column (NaN rows dropped)."""
    keep = [c for c in columns if c in logs.columns]
    return logs[["epoch", *keep]].dropna(subset=keep, how="all").groupby("epoch").last().reset_index()


def training_curves(ckpt: str | Path) -> dict[str, pd.DataFrame]:
    """``losses`` and ``val retrieval`` per epoch from the CSV logs, ``full validation`` means per
    epoch; only the curves found."""
    run_dir = run_directory(ckpt)
    out: dict[str, pd.DataFrame] = {}
    logs = csv_logs(run_dir)
    if logs is not None and "epoch" in logs:
        losses = [c for c in logs.columns if c.startswith(LOSS_PREFIXES)]
        if losses:
            out["losses"] = epoch_curves(logs, losses)
        if any(c in logs for c in VAL_RETRIEVAL):
            out["val retrieval"] = epoch_curves(logs, list(VAL_RETRIEVAL))
    full = full_val_means(run_dir)
    if full is not None:
        out["full validation"] = full[["epoch", *[c for c in FULL_VAL_CURVES if c in full]]]
    return {k: v for k, v in out.items() if len(v)}
