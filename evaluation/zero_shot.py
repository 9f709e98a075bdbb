"""Zero-shot classification with GLIM's aligner (docs/protocol.md §evaluation).

Candidate sentences → frozen text encoder (≤ 32 tokens) → ``aligner.pool_text`` → label vectors;
a sample's vector (EEG, or the text vector of its raw or generated sentence) is classified by the
softmax of its cosine similarities to the label vectors. The pure parts (probabilities, targets,
per-sample scores) take tensors / frames and know nothing of the model.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import torch

from data.label_sentences import (CORPORA, CORPUS_SENTENCES, RELATION_SENTENCES, RELATIONS, SENTIMENT_SENTENCES,
                                   SENTIMENTS)
from evaluation import columns as C
from infra.numerics import text_autocast
from model.loss import similarity

CANDIDATE_TOKENS = 32
SOURCES = ("EEG", "raw", "gen")  # the vector classified: EEG, raw sentence, generated sentence


@dataclass(frozen=True)
class ZeroShotTask:
    """Labels, the candidate sentence of each label, the top-k reported and which samples count."""

    name: str
    labels: tuple[str, ...]
    candidates: tuple[str, ...]
    topk: tuple[int, ...]
    target: Callable[[pd.DataFrame], pd.Series]  # label per sample, NaN/None where it does not count


def _sentiment_target(s: pd.DataFrame) -> pd.Series:
    return s["Sentiment label"].where((s["Raw Task Key"] == "task1") & s["Sentiment label"].isin(SENTIMENTS))


def _relation_target(s: pd.DataFrame) -> pd.Series:
    return s["Relation label"].where((s["Raw Task Key"] == "task3") & s["Relation label"].isin(RELATIONS))


def _corpus_target(s: pd.DataFrame) -> pd.Series:
    return pd.Series(np.where(s["Raw Task Key"] == "task1", CORPORA[0], CORPORA[1]), index=s.index)


TASKS: dict[str, ZeroShotTask] = {
    "sentiment": ZeroShotTask("sentiment", SENTIMENTS, SENTIMENT_SENTENCES, (1,), _sentiment_target),
    "relation": ZeroShotTask("relation", RELATIONS, RELATION_SENTENCES, (1, 3), _relation_target),
    "corpus": ZeroShotTask("corpus", CORPORA, CORPUS_SENTENCES, (1,), _corpus_target),
}


# ----------------------------------------------------------------------------- model side
@torch.no_grad()
def pooled_text_vectors(model, texts: list[str], max_len: int, batch_size: int = 64) -> torch.Tensor:
    """Texts → frozen text encoder (≤ ``max_len`` tokens) → ``aligner.pool_text``: (n, d) float32 on CPU.
    Under bf16 autocast when the text model is held in bf16 (the published GPU numerics)."""
    out = []
    device = model.device
    text_dtype = next(model.text_model.model.parameters()).dtype
    for lo in range(0, len(texts), batch_size):
        with text_autocast(text_dtype, device.type):
            states, mask = model.text_states(list(texts[lo:lo + batch_size]), max_len)  # (b, s, d), (b, s)
            out.append(model.aligner.pool_text(states, mask).float().cpu())
    return torch.cat(out) if out else torch.zeros(0, model.config.embed_dim)


def label_vectors(model, tasks: dict[str, ZeroShotTask] = TASKS) -> dict[str, torch.Tensor]:
    """Vectors (k, d) of every task's candidate sentences, computed once per model."""
    was_training = model.training
    model.eval()
    try:
        return {name: pooled_text_vectors(model, list(t.candidates), CANDIDATE_TOKENS) for name, t in tasks.items()}
    finally:
        model.train(was_training)


# ----------------------------------------------------------------------------- pure part
def zero_shot_probs(vectors: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Softmax over labels of the cosine similarity: vectors (n, d), labels (k, d) → (n, k)."""
    return similarity(vectors, labels).softmax(-1)


def prob_column(task: str, label: str, source: str) -> str:
    return f"P({task}={label}|{source})"


def score_column(task: str, k: int, source: str) -> str:
    return C.zero_shot(task, source, k)


def probability_frame(task: ZeroShotTask, probs: torch.Tensor, source: str) -> pd.DataFrame:
    """One column per label with the probabilities (n, k) of ``source``."""
    p = probs.detach().cpu().double().numpy()
    return pd.DataFrame({prob_column(task.name, lab, source): p[:, j] for j, lab in enumerate(task.labels)})


def topk_correct(probs: np.ndarray, target: np.ndarray, k: int) -> np.ndarray:
    """1.0 where the target index is among the k most probable labels, 0.0 otherwise, NaN where
    the target is negative (the sample does not count). probs (n, K), target (n,) int."""
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]  # (n, k)
    hit = (order == target[:, None]).any(1).astype(np.float64)
    return np.where(target >= 0, hit, np.nan)


def target_index(task: ZeroShotTask, samples: pd.DataFrame) -> np.ndarray:
    """Index of each sample's true label in ``task.labels``; -1 where the sample does not count."""
    lookup = {lab: i for i, lab in enumerate(task.labels)}
    return np.array([lookup.get(v, -1) if isinstance(v, str) else -1 for v in task.target(samples)], dtype=np.int64)


def zero_shot_frame(samples: pd.DataFrame, vectors: dict[str, torch.Tensor],
                    labels: dict[str, torch.Tensor], tasks: dict[str, ZeroShotTask] = TASKS) -> pd.DataFrame:
    """Per-sample probabilities and top-k hits of every task for every source vector (n, d)."""
    cols = []
    for name, task in tasks.items():
        target = target_index(task, samples)
        for source, vec in vectors.items():
            probs = zero_shot_probs(vec, labels[name])  # (n, k)
            cols.append(probability_frame(task, probs, source))
            p = probs.double().numpy()
            cols.append(pd.DataFrame({score_column(name, k, source): topk_correct(p, target, k) for k in task.topk}))
    return pd.concat(cols, axis=1).set_index(samples.index)


def confusion(samples: pd.DataFrame, task: ZeroShotTask, source: str) -> np.ndarray:
    """(K, K) counts: rows true label, columns top-1 predicted label, over the samples that count."""
    target = target_index(task, samples)
    probs = samples[[prob_column(task.name, lab, source) for lab in task.labels]].to_numpy()
    keep = target >= 0
    k = len(task.labels)
    pred = probs[keep].argmax(1)
    return np.bincount(target[keep] * k + pred, minlength=k * k).reshape(k, k)


# ----------------------------------------------------------------------------- baselines
MAJORITY = "majority class"  # the baseline that always answers the most frequent label(s)


def majority_labels(task: ZeroShotTask, samples: pd.DataFrame, k: int = 1) -> list[int]:
    """Indices of the k most frequent true labels among the samples that count (ties: label order)."""
    target = target_index(task, samples)
    counts = np.bincount(target[target >= 0], minlength=len(task.labels))
    return [int(i) for i in np.argsort(-counts, kind="stable")[:k]]


def majority_hits(task: ZeroShotTask, samples: pd.DataFrame, k: int = 1) -> np.ndarray:
    """Per sample 1.0 when its label is one of the k most frequent, NaN where it does not count:
    the top-k hits of always answering the majority class(es) on these samples."""
    target = target_index(task, samples)
    hit = np.isin(target, majority_labels(task, samples, k)).astype(np.float64)
    return np.where(target >= 0, hit, np.nan)


def majority_frame(samples: pd.DataFrame, source: str = "EEG", tasks: dict[str, ZeroShotTask] = TASKS) -> pd.DataFrame:
    """The majority-class baseline as a run: the `sample` column and the top-k hit columns of ``source``,
    paired with the samples (for ``evaluation.grounding.compare``)."""
    cols = {score_column(name, k, source): majority_hits(t, samples, k) for name, t in tasks.items() for k in t.topk}
    return pd.DataFrame({"sample": samples["sample"].to_numpy(), **cols}, index=samples.index)


def balanced_accuracy(samples: pd.DataFrame, task: ZeroShotTask, source: str) -> float:
    """Mean over the true labels present of the top-1 recall (NaN without samples); chance is 1/K
    whatever the label balance, and the majority-class baseline scores 1/(labels present)."""
    cm = confusion(samples, task, source)
    present = cm.sum(1) > 0
    return float((np.diag(cm)[present] / cm.sum(1)[present]).mean()) if present.any() else float("nan")


def baselines(samples: pd.DataFrame, tasks: dict[str, ZeroShotTask] = TASKS) -> dict[str, dict]:
    """Per EEG top-k metric: samples counted, uniform chance k/K, the majority label(s) and their rate."""
    out = {}
    for name, task in tasks.items():
        n = int((target_index(task, samples) >= 0).sum())
        for k in task.topk:
            hits = majority_hits(task, samples, k)
            out[score_column(name, k, "EEG")] = {
                "n": n, "chance": min(k / len(task.labels), 1.0),
                "majority": [task.labels[i] for i in majority_labels(task, samples, k)] if n else [],
                "majority_rate": float(np.nanmean(hits)) if n else None}
    return out
