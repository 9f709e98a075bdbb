"""What the per-sample scores of a run add up to: the mean of every metric (``summarize``), the
headline metrics (``key_metrics``) and their means per group task–dataset–subject–raw task
(``group_means``). metrics.json, the report, full validation and the loggers all read these."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evaluation import columns as C
from evaluation.columns import (
    GROUP_KEYS,
    POOL_SIZE,
    RANK_PREFIX,
    RETRIEVAL_PREFIX,
    TEXT_UID,
    median_rank,
    metric_names,
)
from evaluation.zero_shot import TASKS
from infra.json_safe import json_safe


def summarize(samples: pd.DataFrame) -> dict[str, Any]:
    """Mean of every metric column, median ranks and counts (None for undefined values)."""
    out: dict[str, Any] = {c: float(np.nanmean(samples[c])) if samples[c].notna().any() else None
                           for c in metric_names(samples)}
    for c in [c for c in samples.columns if c.startswith(RANK_PREFIX)]:
        scope = c.removeprefix(RANK_PREFIX)
        out[median_rank(scope)] = float(np.nanmedian(samples[c])) if samples[c].notna().any() else None
    out[POOL_SIZE] = int(samples[TEXT_UID].nunique())
    for c in [c for c in samples.columns if c.startswith(RETRIEVAL_PREFIX + "batch") and c.endswith("/top1")]:
        out[c.replace("/top1", "/n")] = int(samples[c].notna().sum())
    out["n_samples"] = len(samples)
    return json_safe(out)  # undefined values (NaN) as None


def key_metrics(samples: pd.DataFrame) -> list[str]:
    """The headline metrics, @RAW beside @MTV."""
    batch = [c for c in samples.columns if c.startswith("retrieval_batch")]
    zs = [C.zero_shot(t.name, "EEG", k) for t in TASKS.values() for k in t.topk]
    return [C.bleu(1), C.gm_bleu(1, C.RAW_TAG), C.bleu(2), C.bleu(3), C.bleu(4), C.rouge("precision"), C.rouge("recall"),
            C.rouge("fmeasure"), C.rouge_at("fmeasure", C.RAW_TAG), "WER", *batch, C.pool_recall(1), C.pool_recall(5),
            C.pool_recall(10), C.POOL_MRR, *zs]


def group_means(samples: pd.DataFrame, columns: list[str], keys: tuple[str, ...] = GROUP_KEYS) -> pd.DataFrame:
    """Means of metric columns per group task-dataset-subject-raw task (NaNs skipped), with counts."""
    g = samples.groupby(list(keys), dropna=False)
    return g[columns].mean().join(g.size().rename("n")).reset_index()
