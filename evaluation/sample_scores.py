"""Every per-sample score of a run's predictions: generation, retrieval and zero-shot columns.

Every metric is a per-sample column (NaN where a sample does not count), so that summaries,
group means, bootstrap CIs and paired control comparisons (``evaluation.summary``,
``evaluation.stats``, ``evaluation.grounding``) are all computed the same way.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import torch

from data.prompts import INPUT_PREFIX
from evaluation.columns import (
    GENERATED,
    GENERATED_TF,
    INPUT_TEXT,
    RETRIEVAL_BATCH,
    TARGETS,
    TARGETS_JSON,
    TEXT_UID,
    TF_TARGET,
)
from evaluation.metrics import roundtrip, score_samples, score_teacher_forced
from evaluation.predict import Predictions
from evaluation.retrieval import retrieval_batch_ids, sample_retrieval
from evaluation.zero_shot import TASKS, ZeroShotTask, pooled_text_vectors, zero_shot_frame
from model.glim import GLIM


# ----------------------------------------------------------------------------- generation
def roundtrip_texts(samples: pd.DataFrame, tokenizer: Any, target_len: int, input_len: int) -> pd.DataFrame:
    """The strings the metrics compare (docs/protocol.md §evaluation), round-tripped through the tokenizer: references,
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
def retrieval_batches(samples: pd.DataFrame, retrieval_batch_size: int) -> np.ndarray:
    """Batch id of each sample for batch retrieval: the loader's batches (column ``batch``, the
    sampler's test batches: docs/protocol.md §evaluation) when they are batches of ``retrieval_batch_size``, else the
    samples, in order, cut into batches of that many distinct texts."""
    if "batch" in samples and samples.groupby("batch").size().max() == retrieval_batch_size:
        return pd.factorize(samples["batch"], sort=True)[0].astype(np.int64)
    return retrieval_batch_ids(samples[TEXT_UID].to_numpy(), retrieval_batch_size)


def score_run(samples: pd.DataFrame, eeg_vec: torch.Tensor, text_vec: torch.Tensor, gen_vec: torch.Tensor,
              labels: dict[str, torch.Tensor], retrieval_batch_size: int,
              tasks: dict[str, ZeroShotTask] = TASKS) -> pd.DataFrame:
    """Round-tripped samples (n rows) + generation, retrieval and zero-shot columns.
    ``eeg_vec``/``text_vec``/``gen_vec`` (n, d): EEG, raw-sentence and generated-sentence vectors."""
    samples = samples.reset_index(drop=True)
    uids = samples[TEXT_UID].to_numpy()
    batch_ids = retrieval_batches(samples, retrieval_batch_size)
    parts = [samples, score_generation(samples),
             sample_retrieval(eeg_vec, text_vec, uids, batch_ids, retrieval_batch_size),
             zero_shot_frame(samples, {"EEG": eeg_vec, "raw": text_vec, "gen": gen_vec}, labels, tasks)]
    return pd.concat(parts, axis=1).assign(**{RETRIEVAL_BATCH: batch_ids})


def score_predictions(model: GLIM, pred: Predictions, labels: dict[str, torch.Tensor],
                      retrieval_batch_size: int) -> pd.DataFrame:
    """Every per-sample metric of ``pred`` (one row per sample, in dataset order): generation
    (round-tripped strings), retrieval and zero-shot classification."""
    cfg = model.config
    samples = roundtrip_texts(pred.samples, model.text_model.tokenizer, cfg.tgt_text_len, cfg.input_text_len)
    gen_vec = pooled_text_vectors(model, [INPUT_PREFIX + t for t in samples[GENERATED]], cfg.input_text_len)
    return score_run(samples, pred.eeg_vec, pred.text_vec, gen_vec, labels, retrieval_batch_size)
