"""Collapse and diversity of a set of generations (pure functions of the generated strings).

A decoder that ignores its input writes a few stock sentences for every input; these figures say
how far a run is from that: distinct generations and their share, the most frequent ones with
their counts, distinct-n (unique n-grams over all n-grams of the run), self-BLEU (each generation
scored against all the others as references: 1 when every generation repeats another), and the
mean length in words beside the references'. Words are the BLEU words (whitespace split).
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from evaluation.metrics import bleu_tokens

N_SAMPLES = "n"
N_DISTINCT = "distinct generations"
SHARE_DISTINCT = "share distinct"
SHARE_EMPTY = "share empty"
MOST_FREQUENT = "most frequent"
DISTINCT_N = "distinct-{n}"
SELF_BLEU = "self-BLEU-{n}"
MEAN_LENGTH = "mean length (words)"
REF_LENGTH = "reference mean length (words)"
WARNING = "warning"
DISTINCT_ORDERS = (1, 2)
SELF_BLEU_ORDERS = (2, 4)
COLLAPSE_SHARE = 0.5  # a warning when more than this share is empty, or one generation


def ngrams(words: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """The n-grams of a word list, in order."""
    return [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct n-grams over all n-grams of the texts (NaN without any n-gram)."""
    grams = [g for t in texts for g in ngrams(bleu_tokens(t), n)]
    return len(set(grams)) / len(grams) if grams else float("nan")


def most_frequent(texts: Sequence[str], top: int = 5) -> list[dict[str, Any]]:
    """The ``top`` most frequent generations with their counts (first seen first on ties)."""
    return [{"text": t, "count": c} for t, c in Counter(texts).most_common(top)]


def _bleu(clipped: np.ndarray, totals: np.ndarray, hyp_len: int, ref_len: int) -> float:
    """Unsmoothed BLEU from clipped and total n-gram counts (n,), as the Bleu columns."""
    if hyp_len == 0 or (clipped == 0).any() or (totals == 0).any():
        return 0.0
    brevity = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return brevity * math.exp(np.log(clipped / totals).mean())


def self_bleu(texts: Sequence[str], n: int = 4) -> float:
    """Mean over the texts of BLEU-n of each against all the other texts as references (NaN for
    fewer than two texts)."""
    return self_bleus(texts, (n,))[n]


def self_bleus(texts: Sequence[str], orders: Sequence[int] = SELF_BLEU_ORDERS) -> dict[int, float]:
    """``self_bleu`` for each of ``orders`` from one count of the n-grams: computed once per distinct
    text, the references' n-gram counts through the two largest counts of each n-gram."""
    counts = Counter(texts)
    if sum(counts.values()) < 2:
        return {n: float("nan") for n in orders}
    n = max(orders)
    distinct = list(counts)
    words = [bleu_tokens(t) for t in distinct]
    grams = [[Counter(ngrams(w, k)) for k in range(1, n + 1)] for w in words]  # (D, n) counters
    best: list[dict[tuple, list[tuple[int, int]]]] = [{} for _ in range(n)]  # n-gram → two largest (count, text)
    for j, per_order in enumerate(grams):
        for k, c in enumerate(per_order):
            for g, m in c.items():
                top = best[k].setdefault(g, [])
                top.append((m, j))
                top.sort(reverse=True)
                del top[2:]
    lengths = np.array([len(w) for w in words])
    weight = np.array([counts[t] for t in distinct])
    scores = np.zeros((len(orders), len(distinct)))
    for j, per_order in enumerate(grams):
        repeated = weight[j] > 1  # another sample holds the same text: it is among the references
        clipped = np.zeros(n)
        totals = np.array([sum(c.values()) for c in per_order], dtype=np.float64)
        for k, c in enumerate(per_order):
            for g, m in c.items():
                ref = m if repeated else next((cnt for cnt, owner in best[k][g] if owner != j), 0)
                clipped[k] += min(m, ref)
        others = (weight - (np.arange(len(distinct)) == j)) > 0
        gap = np.where(others, np.abs(lengths - lengths[j]) * 2 + (lengths > lengths[j]), np.iinfo(np.int64).max)
        ref_len = int(lengths[np.argmin(gap)])  # the closest other length, the shorter on ties
        for i, order in enumerate(orders):
            scores[i, j] = _bleu(clipped[:order], totals[:order], int(lengths[j]), ref_len)
    return {order: float((scores[i] * weight).sum() / weight.sum()) for i, order in enumerate(orders)}


def collapse_warning(texts: Sequence[str]) -> str | None:
    """A sentence when most generations are empty / whitespace or one and the same, else None."""
    n = len(texts)
    if not n:
        return None
    empty = sum(not t.strip() for t in texts)
    if empty > COLLAPSE_SHARE * n:
        return f"{empty} of {n} generations are empty or whitespace"
    text, count = Counter(texts).most_common(1)[0]
    if count > COLLAPSE_SHARE * n:
        return f"{count} of {n} generations are the same sentence: {text!r}"
    return None


def diversity(generated: Sequence[str], references: Sequence[str] | None = None, top: int = 5) -> dict[str, Any]:
    """Every collapse / diversity figure of a run's generations (JSON-safe; NaN → None)."""
    texts = ["" if not isinstance(t, str) else t for t in generated]
    n = len(texts)
    out: dict[str, Any] = {N_SAMPLES: n, N_DISTINCT: len(set(texts)), SHARE_DISTINCT: len(set(texts)) / n if n else None,
                           SHARE_EMPTY: sum(not t.strip() for t in texts) / n if n else None,
                           MOST_FREQUENT: most_frequent(texts, top)}
    out |= {DISTINCT_N.format(n=k): distinct_n(texts, k) for k in DISTINCT_ORDERS}
    out |= {SELF_BLEU.format(n=k): v for k, v in self_bleus(texts, SELF_BLEU_ORDERS).items()}
    out[MEAN_LENGTH] = float(np.mean([len(bleu_tokens(t)) for t in texts])) if n else None
    if references is not None:
        out[REF_LENGTH] = float(np.mean([len(bleu_tokens(str(t))) for t in references])) if len(references) else None
    out[WARNING] = collapse_warning(texts)
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}


def diversity_line(d: dict[str, Any]) -> str:
    """One line: distinct count and the most frequent generation with its count."""
    top = d[MOST_FREQUENT][0] if d[MOST_FREQUENT] else None
    line = f"distinct generations: {d[N_DISTINCT]} of {d[N_SAMPLES]}"
    if top:
        line += f"; most frequent ({top['count']}x): {top['text']!r}"
    return line + (f"; warning: {d[WARNING]}" if d[WARNING] else "")
