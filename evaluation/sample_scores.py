"""Per-sample scores of a test run: generation, retrieval and zero-shot columns, and their summary.

Every metric is a per-sample column (NaN where a sample does not count), so that summaries,
group means, bootstrap CIs and paired control comparisons are all computed the same way.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import torch

from evaluation.columns import (
    DATASET,
    GENERATED,
    GENERATED_TF,
    HEADLINE,
    INPUT_TEXT,
    MTV_TAG,
    POOL_SIZE,
    RANK_PREFIX,
    RAW_TAG,
    RAW_TASK_KEY,
    RELATION_LABEL,
    RETRIEVAL_BATCH,
    RETRIEVAL_PREFIX,
    SENTIMENT_LABEL,
    SUBJECT,
    TARGETS,
    TARGETS_JSON,
    TASK,
    TEXT_UID,
    TF_TARGET,
    WER,
    bleu,
    gm_bleu,
    gm_rouge,
    is_metric,
    lower_is_better,
    median_rank,
    metric_names,
    ref_tags,
    rouge,
    tf,
)
from evaluation.metrics import roundtrip, score_samples, score_teacher_forced
from evaluation.retrieval import retrieval_batch_ids, sample_retrieval
from evaluation.zero_shot import TASKS, ZeroShotTask, zero_shot_frame
from infra.json_safe import json_safe

__all__ = ["HEADLINE", "TF_TARGET", "export_order", "is_metric", "lower_is_better", "metric_names",
           "published_columns", "retrieval_batches", "roundtrip_texts", "score_generation", "score_run",
           "summarize"]


# ----------------------------------------------------------------------------- generation
def roundtrip_texts(samples: pd.DataFrame, tokenizer: Any, target_len: int, input_len: int) -> pd.DataFrame:
    """The strings the metrics compare (SPEC §5), round-tripped through the tokenizer: references,
    generated and teacher-forced texts and the teacher-forcing target at ``target_len`` tokens,
    the raw sentence (``Input Text``) at ``input_len``; ``targets`` (lists) become ``targets_json``."""
    n_refs = len(samples[TARGETS].iloc[0])
    flat = roundtrip([t for ts in samples[TARGETS] for t in ts], tokenizer, target_len)
    refs = [flat[i * n_refs:(i + 1) * n_refs] for i in range(len(samples))]
    short = {c: roundtrip(list(samples[c]), tokenizer, target_len) for c in (GENERATED, GENERATED_TF, TF_TARGET)}
    return samples.assign(**{
        INPUT_TEXT: roundtrip(list(samples[INPUT_TEXT]), tokenizer, input_len), **short,
        TARGETS_JSON: [json.dumps(r, ensure_ascii=False) for r in refs],
    }).drop(columns=TARGETS)


def score_generation(samples: pd.DataFrame) -> pd.DataFrame:
    """Per-sample generation metrics of round-tripped samples: @MTV, @MTVk, @RAW (BLEU, ROUGE-1
    recall, and ROUGE-1 precision / F per reference from the same pass), WER, and the
    teacher-forced `(w/tf)` columns (BLEU/ROUGE against ``TF_TARGET``, WER against the raw sentence)."""
    refs = [json.loads(t) for t in samples[TARGETS_JSON]]
    gen, raw = list(samples[GENERATED]), list(samples[INPUT_TEXT])
    tf_scores = score_teacher_forced(list(samples[GENERATED_TF]), raw, list(samples[TF_TARGET]))
    return pd.concat([score_samples(gen, refs, raw), tf_scores], axis=1)


# ----------------------------------------------------------------------------- all scores
def retrieval_batches(samples: pd.DataFrame, retrieval_batch: int) -> np.ndarray:
    """Batch id of each sample for batch retrieval: the loader's batches (column ``batch``, the
    sampler's test batches: SPEC §5) when they are batches of ``retrieval_batch``, else the
    samples, in order, cut into batches of that many distinct texts."""
    if "batch" in samples and samples.groupby("batch").size().max() == retrieval_batch:
        return pd.factorize(samples["batch"], sort=True)[0].astype(np.int64)
    return retrieval_batch_ids(samples[TEXT_UID].to_numpy(), retrieval_batch)



def score_run(samples: pd.DataFrame, eeg_vec: torch.Tensor, text_vec: torch.Tensor, gen_vec: torch.Tensor,
              labels: dict[str, torch.Tensor], retrieval_batch: int = 24,
              tasks: dict[str, ZeroShotTask] = TASKS) -> pd.DataFrame:
    """Round-tripped samples (n rows) + generation, retrieval and zero-shot columns.
    ``eeg_vec``/``text_vec``/``gen_vec`` (n, d): EEG, raw-sentence and generated-sentence vectors."""
    samples = samples.reset_index(drop=True)
    uids = samples[TEXT_UID].to_numpy()
    batch_ids = retrieval_batches(samples, retrieval_batch)
    parts = [samples, score_generation(samples),
             sample_retrieval(eeg_vec, text_vec, uids, batch_ids, retrieval_batch),
             zero_shot_frame(samples, {"EEG": eeg_vec, "raw": text_vec, "gen": gen_vec}, labels, tasks)]
    return pd.concat(parts, axis=1).assign(**{RETRIEVAL_BATCH: batch_ids})


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


def published_columns(n_refs: int = 8) -> list[str]:
    """The column order of the published per-sample export (our extra columns come after)."""
    tags = ref_tags(n_refs) + [RAW_TAG]
    gm = [gm_bleu(n, t) for n in (1, 2) for t in tags] + [gm_rouge(t) for t in tags]
    headline_order = (bleu(1), bleu(2), rouge("precision"), rouge("fmeasure"), WER, bleu(3), bleu(4),
                      rouge("recall"))
    return [TASK, DATASET, SUBJECT, RAW_TASK_KEY, INPUT_TEXT, TARGETS_JSON, GENERATED,
            bleu(1), bleu(2), rouge("recall"), SENTIMENT_LABEL, RELATION_LABEL, *gm, rouge("precision"),
            rouge("fmeasure"), WER, bleu(3), bleu(4), GENERATED_TF, *(tf(c) for c in headline_order)]


def export_order(samples: pd.DataFrame) -> pd.DataFrame:
    """Published columns first (in their order), then every other column."""
    n_refs = sum(c.startswith(gm_bleu(1, MTV_TAG)) for c in samples.columns)
    first = [c for c in published_columns(n_refs) if c in samples.columns]
    return samples[first + [c for c in samples.columns if c not in set(first)]]
