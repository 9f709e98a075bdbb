"""Per-sample generation metrics: BLEU-1..4, ROUGE-1 and WER with torchmetrics' exact semantics.

Each sample is scored as a corpus of one hypothesis against
- its K references together (@MTV, the headline `Bleu*` / `Rouge1-*` columns),
- each reference alone (`GM\\.BLEU{n}@MTV{k:02d}`, `GM\\.ROUGE1@MTV{k:02d}`, ROUGE-1 recall),
- the raw sentence alone (`...@RAW`), and WER against the raw sentence.

`reference_score_loop` calls torchmetrics' functional `bleu_score` / `rouge_score` /
`word_error_rate` once per sample and metric, as the original GLIM's metric code does (the
benchmark's stand-in for it); `score_samples` gives the same float32 values from one batched
pass over all samples: tokenising and n-gram counting in numpy (each distinct text once), the
float32 BLEU formula in torch (bit-identical to torchmetrics) on one thread (`one_torch_thread`).
"""
from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from evaluation.columns import (
    BLEU_ORDERS,
    GM_ROUGE_FIELD,
    PER_REFERENCE_ROUGE_FIELDS,
    RAW_TAG,
    ROUGE_FIELDS,
    TF_SUFFIX,
    WER,
    bleu,
    gm_bleu,
    gm_rouge,
    headline_columns,
    per_reference_prf_columns,
    ref_tags,
    rouge,
    rouge_at,
    single_ref_columns,
    tf,
)

__all__ = ["BLEU_ORDERS", "RAW_TAG", "ROUGE_FIELDS", "TF_SUFFIX", "metric_columns", "reference_score_loop",
           "roundtrip", "score_samples", "score_teacher_forced", "teacher_forced"]
_ROUGE_NON_ALNUM = re.compile(r"[^a-z0-9]+")


# ----------------------------------------------------------------------------- column names
def metric_columns(n_refs: int | None) -> list[str]:
    """All metric columns of `score_samples`; `n_refs=None` means no references (only @RAW and WER).
    ROUGE-1 precision and F per single reference come last (`Rouge1-precision@MTV00`, ...)."""
    if n_refs is None:
        return [WER] + single_ref_columns([RAW_TAG]) + per_reference_prf_columns([RAW_TAG])
    tags = ref_tags(n_refs) + [RAW_TAG]
    return headline_columns() + single_ref_columns(tags) + per_reference_prf_columns(tags)


def teacher_forced(df: pd.DataFrame) -> pd.DataFrame:
    """Headline columns of a scored frame renamed `<name> (w/tf)`, as in the published export."""
    cols = [c for c in headline_columns() if c in df.columns]
    return df[cols].rename(columns={c: tf(c) for c in cols})


# ----------------------------------------------------------------------------- input checks
def _check_inputs(
    generated: Sequence[str], references: Sequence[Sequence[str]] | None, raw: Sequence[str]
) -> int | None:
    """Validate lengths; return the number of references per sample (None without references)."""
    if len(generated) != len(raw):
        raise ValueError(f"{len(generated)} generated texts but {len(raw)} raw sentences")
    if references is None:
        return None
    if len(references) != len(generated):
        raise ValueError(f"{len(generated)} generated texts but {len(references)} reference lists")
    sizes = {len(r) for r in references}
    if len(sizes) > 1:
        raise ValueError(f"every sample needs the same number of references, got {sorted(sizes)}")
    n_refs = sizes.pop() if sizes else 1
    if n_refs == 0:
        raise ValueError("a sample needs at least one reference")
    return n_refs


# ----------------------------------------------------------------------------- slow baseline
def reference_score_loop(
    generated: Sequence[str], references: Sequence[Sequence[str]] | None, raw: Sequence[str]
) -> pd.DataFrame:
    """One torchmetrics call per sample and metric; the definition `score_samples` must equal."""
    from torchmetrics.functional.text import bleu_score, rouge_score, word_error_rate

    n_refs = _check_inputs(generated, references, raw)
    rows: list[dict[str, float]] = []
    for i, (gen, sent) in enumerate(zip(generated, raw)):
        row: dict[str, float] = {}
        singles = [(RAW_TAG, sent)]
        if n_refs is not None:
            refs = [str(r) for r in references[i]]
            singles = list(zip(ref_tags(n_refs), refs)) + singles
            for n in BLEU_ORDERS:
                row[bleu(n)] = bleu_score([gen], [refs], n_gram=n).item()
            scores = rouge_score(gen, refs, rouge_keys="rouge1")
            for f in ROUGE_FIELDS:
                row[rouge(f)] = scores[f"rouge1_{f}"].item()
        row[WER] = word_error_rate([gen], [sent]).item()
        for tag, ref in singles:
            for n in BLEU_ORDERS:
                row[gm_bleu(n, tag)] = bleu_score([gen], [[ref]], n_gram=n).item()
            scores = rouge_score(gen, ref, rouge_keys="rouge1")
            row[gm_rouge(tag)] = scores[f"rouge1_{GM_ROUGE_FIELD}"].item()
            for f in PER_REFERENCE_ROUGE_FIELDS:
                row[rouge_at(f, tag)] = scores[f"rouge1_{f}"].item()
        rows.append(row)
    return pd.DataFrame(rows, columns=metric_columns(n_refs), dtype=np.float64)


# ----------------------------------------------------------------------------- tokenisation
def bleu_tokens(text: str) -> list[str]:
    """BLEU and WER words: whitespace split."""
    return text.split()


def rouge_tokens(text: str) -> list[str]:
    """ROUGE words: lower case, every run of non [a-z0-9] characters is a separator."""
    return _ROUGE_NON_ALNUM.sub(" ", text.lower()).split()


def _encode(texts: Sequence[str], tokenize: Callable[[str], list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tokenise the distinct texts and map words to integer ids: padded ids (U, L) with -1 padding,
    lengths (U,), and the distinct-text row of each of the M texts (M,). References repeat across
    subjects and slots, so every later step works on the U distinct texts."""
    index: dict[str, int] = {}
    row_of = np.fromiter((index.setdefault(t, len(index)) for t in texts), dtype=np.int64, count=len(texts))
    words = [tokenize(t) for t in index]
    lens = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
    flat_ids, _ = pd.factorize(np.fromiter(chain.from_iterable(words), dtype=object, count=int(lens.sum())))
    out = np.full((len(words), max(int(lens.max(initial=0)), 1)), -1, dtype=np.int64)
    out[np.arange(out.shape[1]) < lens[:, None]] = flat_ids
    return out, lens, row_of


# ----------------------------------------------------------------------------- n-gram matching
def _ngram_ids(tokens: np.ndarray, lens: np.ndarray, max_n: int) -> list[np.ndarray]:
    """Per order n = 1..max_n: (M, L) ids of the n-gram starting at each position, -1 where there is none."""
    vocab_size = int(tokens.max(initial=0)) + 1
    width = tokens.shape[1]
    cur = np.where(np.arange(width) < lens[:, None], tokens, -1)
    grams = [cur]
    for n in range(2, max_n + 1):
        starts = max(width - n + 1, 0)
        valid = np.arange(starts) < (lens[:, None] - n + 1)
        pair = cur[:, :starts] * vocab_size + tokens[:, n - 1 :]
        nxt = np.full_like(cur, -1)
        _, inverse = np.unique(pair[valid], return_inverse=True)
        nxt[:, :starts][valid] = inverse.ravel()
        cur = nxt
        grams.append(cur)
    return grams


def _match_counts(
    grams: np.ndarray, row_of: np.ndarray, n_slots: int, n_samples: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Occurrences of the hypothesis n-grams (slot 0) in every other slot.

    `grams` (U, L) holds the n-gram ids of the distinct texts, `row_of` (n_slots * n_samples,) the
    distinct text of each slot's text, slot-major. Returns (sample index, hypothesis count) per
    distinct hypothesis n-gram and the (n_slots - 1, e) counts of those n-grams in slots 1...
    """
    valid = grams >= 0
    n_grams = int(grams.max(initial=-1)) + 1
    if n_grams == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros((n_slots - 1, 0), dtype=np.int64)
    rows = np.broadcast_to(np.arange(grams.shape[0])[:, None], grams.shape)
    keys, counts = np.unique(rows[valid] * n_grams + grams[valid], return_counts=True)  # (text, n-gram)
    bounds = np.searchsorted(keys, np.arange(grams.shape[0] + 1) * n_grams)  # each text's key range
    hyp = row_of[:n_samples]
    sizes = bounds[hyp + 1] - bounds[hyp]
    sample = np.repeat(np.arange(n_samples), sizes)
    entry = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes) + np.repeat(bounds[hyp], sizes)
    gram = keys[entry] % n_grams
    queries = row_of[n_samples:].reshape(n_slots - 1, n_samples)[:, sample] * n_grams + gram  # (n_slots-1, e)
    pos = np.minimum(np.searchsorted(keys, queries), len(keys) - 1)
    ref_counts = np.where(keys[pos] == queries, counts[pos], 0)
    return sample, counts[entry], ref_counts


def _clipped_sum(sample: np.ndarray, hyp_counts: np.ndarray, ref_counts: np.ndarray, n_samples: int) -> np.ndarray:
    """Per sample: sum over its hypothesis n-grams of min(hypothesis count, reference count)."""
    return np.bincount(sample, weights=np.minimum(hyp_counts, ref_counts), minlength=n_samples)


# ----------------------------------------------------------------------------- BLEU
@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch on one intra-op thread inside the block: the BLEU arithmetic is a few dozen calls
    on (N, 4) tensors, where a second thread costs ~8 ms per call and saves nothing."""
    import torch  # here, not at the top: `python -m evaluation.score` checks its paths before torch loads

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _bleu_from_counts(
    numerator: np.ndarray, denominator: np.ndarray, hyp_len: np.ndarray, ref_len: np.ndarray, n: int
) -> np.ndarray:
    """torchmetrics `_bleu_score_compute` (no smoothing) row-wise, in float32 torch arithmetic."""
    import torch

    num = torch.as_tensor(numerator[:, :n], dtype=torch.float32)
    den = torch.as_tensor(denominator[:, :n], dtype=torch.float32)
    c = torch.as_tensor(hyp_len, dtype=torch.float32)
    r = torch.as_tensor(ref_len, dtype=torch.float32)
    weights = torch.tensor([1.0 / n] * n)
    geometric_mean = torch.exp(torch.sum(weights * torch.log(num / den), dim=1))
    brevity = torch.where(c > r, torch.ones_like(c), torch.exp(1 - (r / c)))
    score = brevity * geometric_mean
    score = torch.where(num.min(dim=1).values == 0.0, torch.zeros_like(score), score)
    return score.numpy()


def _bleu_all(
    tokens: np.ndarray, lens: np.ndarray, row_of: np.ndarray, n_slots: int, n_samples: int, n_refs: int | None
) -> dict[str, np.ndarray]:
    """BLEU-n of the hypothesis (slot 0) vs all references (slots 1..K) and vs each slot alone;
    ``tokens`` (U, L) and ``lens`` (U,) of the distinct texts, ``row_of`` as in `_match_counts`."""
    max_n = max(BLEU_ORDERS)
    grams_per_order = _ngram_ids(tokens, lens, max_n)
    lens = lens[row_of]
    hyp_len = lens[:n_samples]
    slot_lens = lens.reshape(n_slots, n_samples)
    single_num = np.zeros((n_slots - 1, n_samples, max_n))
    multi_num = np.zeros((n_samples, max_n))
    for n, grams in enumerate(grams_per_order, start=1):
        sample, hyp_counts, ref_counts = _match_counts(grams, row_of, n_slots, n_samples)
        for s in range(n_slots - 1):
            single_num[s, :, n - 1] = _clipped_sum(sample, hyp_counts, ref_counts[s], n_samples)
        if n_refs is not None:
            union = ref_counts[:n_refs].max(axis=0)
            multi_num[:, n - 1] = _clipped_sum(sample, hyp_counts, union, n_samples)
    denominator = np.maximum(hyp_len[:, None] - np.arange(max_n)[None, :], 0)
    out: dict[str, np.ndarray] = {}
    tags = ([] if n_refs is None else ref_tags(n_refs)) + [RAW_TAG]
    for n in BLEU_ORDERS:
        if n_refs is not None:
            ref_lens = slot_lens[1 : 1 + n_refs].T  # (N, K)
            closest = np.argmin(np.abs(hyp_len[:, None] - ref_lens), axis=1)
            ref_len = ref_lens[np.arange(n_samples), closest]
            out[bleu(n)] = _bleu_from_counts(multi_num, denominator, hyp_len, ref_len, n)
        for s, tag in enumerate(tags):
            out[gm_bleu(n, tag)] = _bleu_from_counts(single_num[s], denominator, hyp_len, slot_lens[s + 1], n)
    return out


# ----------------------------------------------------------------------------- ROUGE-1
def _rouge_prf(hits: np.ndarray, hyp_len: np.ndarray, ref_len: np.ndarray) -> dict[str, np.ndarray]:
    """torchmetrics `_rouge_n_score` values: float64 arithmetic, rounded to float32 at the end."""
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = hits / np.maximum(hyp_len, 1).astype(np.float64)
        recall = hits / np.maximum(ref_len, 1).astype(np.float64)
        fmeasure = 2 * precision * recall / (precision + recall)
    zero = (hyp_len == 0) | (ref_len == 0) | ((precision == 0.0) & (recall == 0.0))
    return {k: np.where(zero, 0.0, v).astype(np.float32) for k, v in
            (("precision", precision), ("recall", recall), ("fmeasure", fmeasure))}


def _rouge_all(
    tokens: np.ndarray, lens: np.ndarray, row_of: np.ndarray, n_slots: int, n_samples: int, n_refs: int | None
) -> dict[str, np.ndarray]:
    """ROUGE-1 vs all references ('best' F accumulation) and P/R/F vs each slot alone."""
    (grams,) = _ngram_ids(tokens, lens, 1)
    sample, hyp_counts, ref_counts = _match_counts(grams, row_of, n_slots, n_samples)
    lens = lens[row_of]
    hyp_len = lens[:n_samples]
    slot_lens = lens.reshape(n_slots, n_samples)
    per_slot = [
        _rouge_prf(_clipped_sum(sample, hyp_counts, ref_counts[s], n_samples), hyp_len, slot_lens[s + 1])
        for s in range(n_slots - 1)
    ]
    out: dict[str, np.ndarray] = {}
    tags = ([] if n_refs is None else ref_tags(n_refs)) + [RAW_TAG]
    if n_refs is not None:
        fmeasures = np.stack([p["fmeasure"] for p in per_slot[:n_refs]], axis=1)  # (N, K) float32
        best = np.argmax(fmeasures, axis=1)  # first maximum, as torch.argmax
        for f in ROUGE_FIELDS:
            stacked = np.stack([p[f] for p in per_slot[:n_refs]], axis=1)
            out[rouge(f)] = stacked[np.arange(n_samples), best]
    for s, tag in enumerate(tags):  # the one pass gives P, R and F against every single reference
        out[gm_rouge(tag)] = per_slot[s][GM_ROUGE_FIELD]
        out |= {rouge_at(f, tag): per_slot[s][f] for f in PER_REFERENCE_ROUGE_FIELDS}
    return out


# ----------------------------------------------------------------------------- WER
def _edit_distances(hyp: np.ndarray, hyp_len: np.ndarray, ref: np.ndarray, ref_len: np.ndarray) -> np.ndarray:
    """Word-level Levenshtein distance per row, one DP row for all samples at a time."""
    n, width = ref.shape[0], ref.shape[1] + 1
    cols = np.arange(width)
    ref = np.where(cols[None, 1:] <= ref_len[:, None], ref, -2)  # padding never matches padding
    prev = np.broadcast_to(cols, (n, width)).copy()
    dist = ref_len.copy()
    for i in range(1, int(hyp_len.max(initial=0)) + 1):
        cost = (hyp[:, i - 1 : i] != ref).astype(np.int64)
        step = np.empty_like(prev)
        step[:, 0] = i
        np.minimum(prev[:, 1:] + 1, prev[:, :-1] + cost, out=step[:, 1:])
        prev = np.minimum.accumulate(step - cols, axis=1) + cols
        done = hyp_len == i
        dist[done] = prev[done, ref_len[done]]
    return dist


def _wer(tokens: np.ndarray, lens: np.ndarray, row_of: np.ndarray, n_slots: int, n_samples: int) -> np.ndarray:
    """torchmetrics `word_error_rate` of the hypothesis (slot 0) against the raw sentence (last slot),
    one edit distance per distinct (hypothesis, raw sentence) pair."""
    hyp, raw = row_of[:n_samples], row_of[(n_slots - 1) * n_samples:]
    pairs, pair_of = np.unique(hyp * len(lens) + raw, return_inverse=True)
    h, r = pairs // len(lens), pairs % len(lens)
    errors = _edit_distances(tokens[h], lens[h], tokens[r], lens[r])[pair_of.ravel()]
    with np.errstate(divide="ignore", invalid="ignore"):
        return errors.astype(np.float32) / lens[raw].astype(np.float32)


# ----------------------------------------------------------------------------- batched scorer
def score_samples(
    generated: Sequence[str], references: Sequence[Sequence[str]] | None, raw: Sequence[str]
) -> pd.DataFrame:
    """Every per-sample metric of `metric_columns`, batched; equals `reference_score_loop`."""
    n_refs = _check_inputs(generated, references, raw)
    n_samples = len(generated)
    if n_samples == 0:
        return pd.DataFrame(columns=metric_columns(n_refs), dtype=np.float64)
    slots: list[list[str]] = [list(generated)]
    if n_refs is not None:
        slots += [[str(r[k]) for r in references] for k in range(n_refs)]
    slots.append(list(raw))
    texts = [t for slot in slots for t in slot]
    n_slots = len(slots)

    words = _encode(texts, bleu_tokens)  # BLEU and WER words of the distinct texts
    with one_torch_thread():
        values = _bleu_all(*words, n_slots, n_samples, n_refs)
    values |= _rouge_all(*_encode(texts, rouge_tokens), n_slots, n_samples, n_refs)
    values[WER] = _wer(*words, n_slots, n_samples)
    cols = metric_columns(n_refs)
    return pd.DataFrame({c: np.asarray(values[c], dtype=np.float32).astype(np.float64) for c in cols}, columns=cols)


def score_teacher_forced(
    generated: Sequence[str], raw: Sequence[str], targets: Sequence[str] | None = None
) -> pd.DataFrame:
    """Headline metrics of teacher-forced predictions, `<name> (w/tf)` (docs/protocol.md §evaluation).

    BLEU and ROUGE have one reference, the teacher-forcing target as the model saw it
    (`targets`: the raw sentence round-tripped at `tgt_text_len` tokens; default `raw` itself);
    WER is against the raw sentence `raw` (round-tripped at `input_text_len` tokens).
    """
    references = raw if targets is None else targets
    return teacher_forced(score_samples(generated, [[t] for t in references], raw))


# ----------------------------------------------------------------------------- tokenizer round trip
def roundtrip(texts: Sequence[str], tokenizer: Any, max_len: int) -> list[str]:
    """`decode(encode(text, max_len tokens, truncated), skip_special_tokens=True)` for every text."""
    if len(texts) == 0:
        return []
    ids = tokenizer(list(texts), max_length=max_len, truncation=True)["input_ids"]
    return tokenizer.batch_decode(ids, skip_special_tokens=True)
