"""Per-sample scores of a test run: generation, retrieval and zero-shot columns, and their summary.

Every metric is a per-sample column (NaN where a sample does not count), so that summaries,
group means, bootstrap CIs and paired control comparisons are all computed the same way.
"""
from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from evaluation.metrics import (
    RAW_TAG,
    ref_tags,
    roundtrip,
    score_samples,
    score_teacher_forced,
)
from evaluation.retrieval import retrieval_batch_ids, sample_retrieval
from evaluation.zero_shot import TASKS, ZeroShotTask, zero_shot_frame

METRIC_PREFIXES = ("Bleu", "Rouge1-", "GM\\.", "WER", "retrieval_", "zero_shot/")
HEADLINE = ("Bleu1", "Bleu2", "Bleu3", "Bleu4", "Rouge1-precision", "Rouge1-recall", "Rouge1-fmeasure", "WER")


def is_metric(column: str) -> bool:
    """Columns holding a per-sample metric (their mean is a reported figure)."""
    return column.startswith(METRIC_PREFIXES)


def lower_is_better(column: str) -> bool:
    return column.startswith("WER")


def metric_names(samples: pd.DataFrame) -> list[str]:
    return [c for c in samples.columns if is_metric(c)]


# ----------------------------------------------------------------------------- generation
TF_TARGET = "Target Text (w/tf)"
"""The teacher-forcing target as the model saw it (the raw sentence for val/test samples)."""


def roundtrip_texts(samples: pd.DataFrame, tokenizer: Any, target_len: int, input_len: int) -> pd.DataFrame:
    """The strings the metrics compare (SPEC §5), round-tripped through the tokenizer: references,
    generated and teacher-forced texts and the teacher-forcing target at ``target_len`` tokens,
    the raw sentence (``Input Text``) at ``input_len``; ``targets`` (lists) become ``targets_json``."""
    n_refs = len(samples["targets"].iloc[0])
    flat = roundtrip([t for ts in samples["targets"] for t in ts], tokenizer, target_len)
    refs = [flat[i * n_refs:(i + 1) * n_refs] for i in range(len(samples))]
    short = {c: roundtrip(list(samples[c]), tokenizer, target_len)
             for c in ("Generated Text", "Generated Text (w/tf)", TF_TARGET)}
    return samples.assign(**{
        "Input Text": roundtrip(list(samples["Input Text"]), tokenizer, input_len), **short,
        "targets_json": [json.dumps(r, ensure_ascii=False) for r in refs],
    }).drop(columns="targets")


def single_reference_prf(generated: Sequence[str], refs: list[list[str]], raw: Sequence[str]) -> pd.DataFrame:
    """ROUGE-1 precision and F against each reference alone and the raw sentence
    (`Rouge1-precision@MTV03` ...; recall is the published `GM\\.ROUGE1@...`)."""
    singles = [[r[k] for r in refs] for k in range(len(refs[0]))] + [list(raw)]
    out = {}
    for tag, ref in zip(ref_tags(len(refs[0])) + [RAW_TAG], singles):
        s = score_samples(generated, [[r] for r in ref], raw)
        out |= {f"Rouge1-{f}@{tag}": s[f"Rouge1-{f}"].to_numpy() for f in ("precision", "fmeasure")}
    return pd.DataFrame(out)


def score_generation(samples: pd.DataFrame) -> pd.DataFrame:
    """Per-sample generation metrics of round-tripped samples: @MTV, @MTVk, @RAW, WER, and the
    teacher-forced `(w/tf)` columns (BLEU/ROUGE against ``TF_TARGET``, WER against the raw sentence)."""
    refs = [json.loads(t) for t in samples["targets_json"]]
    gen, raw = list(samples["Generated Text"]), list(samples["Input Text"])
    tf = score_teacher_forced(list(samples["Generated Text (w/tf)"]), raw, list(samples[TF_TARGET]))
    return pd.concat([score_samples(gen, refs, raw), single_reference_prf(gen, refs, raw), tf], axis=1)


# ----------------------------------------------------------------------------- all scores
def retrieval_batches(samples: pd.DataFrame, retrieval_batch: int) -> np.ndarray:
    """Batch id of each sample for batch retrieval: the loader's batches (column ``batch``, the
    sampler's test batches: SPEC §5) when they are batches of ``retrieval_batch``, else the
    samples, in order, cut into batches of that many distinct texts."""
    if "batch" in samples and samples.groupby("batch").size().max() == retrieval_batch:
        return pd.factorize(samples["batch"], sort=True)[0].astype(np.int64)
    return retrieval_batch_ids(samples["text uid"].to_numpy(), retrieval_batch)



def score_run(samples: pd.DataFrame, eeg_vec: torch.Tensor, text_vec: torch.Tensor, gen_vec: torch.Tensor,
              labels: dict[str, torch.Tensor], retrieval_batch: int = 24,
              tasks: dict[str, ZeroShotTask] = TASKS) -> pd.DataFrame:
    """Round-tripped samples (n rows) + generation, retrieval and zero-shot columns.
    ``eeg_vec``/``text_vec``/``gen_vec`` (n, d): EEG, raw-sentence and generated-sentence vectors."""
    samples = samples.reset_index(drop=True)
    uids = samples["text uid"].to_numpy()
    batch_ids = retrieval_batches(samples, retrieval_batch)
    parts = [samples, score_generation(samples),
             sample_retrieval(eeg_vec, text_vec, uids, batch_ids, retrieval_batch),
             zero_shot_frame(samples, {"EEG": eeg_vec, "raw": text_vec, "gen": gen_vec}, labels, tasks)]
    return pd.concat(parts, axis=1).assign(**{"retrieval batch": batch_ids})


def summarize(samples: pd.DataFrame) -> dict[str, Any]:
    """Mean of every metric column, median ranks and counts (None for undefined values)."""
    out: dict[str, Any] = {c: float(np.nanmean(samples[c])) if samples[c].notna().any() else None
                           for c in metric_names(samples)}
    for c in [c for c in samples.columns if c.startswith("rank@")]:
        out[f"retrieval_{c[5:]}/median_rank"] = float(np.nanmedian(samples[c])) if samples[c].notna().any() else None
    out["retrieval_pool/size"] = int(samples["text uid"].nunique())
    for c in [c for c in samples.columns if c.startswith("retrieval_batch") and c.endswith("/top1")]:
        out[c.replace("/top1", "/n")] = int(samples[c].notna().sum())
    out["n_samples"] = int(len(samples))
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in out.items()}


def published_columns(n_refs: int = 8) -> list[str]:
    """The column order of the published per-sample export (our extra columns come after)."""
    tags = ref_tags(n_refs) + [RAW_TAG]
    gm = [f"GM\\.BLEU{n}@{t}" for n in (1, 2) for t in tags] + [f"GM\\.ROUGE1@{t}" for t in tags]
    tf = [f"{c} (w/tf)" for c in ("Bleu1", "Bleu2", "Rouge1-precision", "Rouge1-fmeasure", "WER", "Bleu3",
                                  "Bleu4", "Rouge1-recall")]
    return ["Task", "Dataset", "Subject", "Raw Task Key", "Input Text", "targets_json", "Generated Text",
            "Bleu1", "Bleu2", "Rouge1-recall", "Sentiment label", "Relation label", *gm, "Rouge1-precision",
            "Rouge1-fmeasure", "WER", "Bleu3", "Bleu4", "Generated Text (w/tf)", *tf]


def export_order(samples: pd.DataFrame) -> pd.DataFrame:
    """Published columns first (in their order), then every other column."""
    n_refs = sum(c.startswith("GM\\.BLEU1@MTV") for c in samples.columns)
    first = [c for c in published_columns(n_refs) if c in samples.columns]
    return samples[first + [c for c in samples.columns if c not in set(first)]]
