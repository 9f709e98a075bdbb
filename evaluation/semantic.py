"""Semantic metrics of generations, from a text encoder the user names (optional).

``test.py --semantic MODEL`` and ``python -m evaluation.score --semantic MODEL`` add, per sample,
against the raw sentence:
- BERTScore precision / recall / F1 (torchmetrics' ``bert_score`` with the named model),
- the cosine of sentence embeddings (the encoder's last hidden states, mean-pooled over tokens),
- N-way retrieval of the true sentence from the generated one (N = 2, 4, 10, 24; SemKey's
  protocol): the true sentence and N - 1 other test sentences drawn at random (seeded) are ranked
  by embedding cosine to the generated sentence; a hit when the true one ranks first.
MODEL is a hub id or a local directory loadable by ``transformers.AutoModel``; nothing is loaded or
downloaded without the option.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evaluation.columns import (
    BERTSCORE_FIELDS,
    SEMANTIC_COSINE,
    SEMANTIC_WAYS,
    bertscore,
    semantic_retrieval,
)
from infra.errors import GLIMError

if TYPE_CHECKING:  # torch loads when a model is used, after the scorer checked its paths
    import torch

BATCH_SIZE = 64
MAX_TOKENS = 128


class SemanticModelError(GLIMError, ValueError):
    """The named encoder cannot be loaded (one line)."""


@dataclass
class Encoder:
    """A text encoder and its tokenizer, loaded once."""

    name: str
    tokenizer: Any
    model: torch.nn.Module


def load_encoder(name: str) -> Encoder:
    """The tokenizer and encoder of ``name`` (hub id or local directory), in eval mode."""
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer, model = AutoTokenizer.from_pretrained(name), AutoModel.from_pretrained(name)
    except Exception as err:
        first = str(err).splitlines()[0] if str(err) else repr(err)
        raise SemanticModelError(f"cannot load the semantic model {name!r}: {first}") from err
    return Encoder(name, tokenizer, model.eval())


def sentence_embeddings(encoder: Encoder, texts: Sequence[str]) -> torch.Tensor:
    """(n, d) unit-norm mean of the last hidden states over each text's tokens."""
    import torch

    out = []
    for lo in range(0, len(texts), BATCH_SIZE):
        batch = encoder.tokenizer(list(texts[lo:lo + BATCH_SIZE]), padding=True, truncation=True,
                                  max_length=MAX_TOKENS, return_tensors="pt")
        with torch.no_grad():
            hidden = encoder.model(**batch).last_hidden_state  # (b, t, d)
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (b, t, 1)
        out.append((hidden * mask).sum(1) / mask.sum(1).clamp_min(1))
    emb = torch.cat(out) if out else torch.zeros(0, 1)
    return torch.nn.functional.normalize(emb.float(), dim=-1)


def n_way_hits(gen_emb: torch.Tensor, raw_emb: torch.Tensor, raw: Sequence[str], n_way: int,
               seed: int = 0) -> np.ndarray:
    """Per sample: 1 when its true sentence ranks first among itself and ``n_way - 1`` other distinct
    sentences drawn at random (seeded), by cosine to the generation (ties count for the true one);
    NaN for all when there are fewer than ``n_way`` distinct sentences. Embeddings (n, d), unit norm."""
    import torch

    texts, first, own = np.unique(np.asarray(raw, dtype=object), return_index=True, return_inverse=True)
    own = own.ravel()
    if len(texts) < n_way:
        return np.full(len(raw), np.nan)
    rng = np.random.default_rng(seed)
    # n_way - 1 distinct others per sample: a random draw from the pool without the own sentence
    draws = np.argsort(rng.random((len(raw), len(texts) - 1)), axis=1)[:, :n_way - 1]  # (n, N-1)
    others = draws + (draws >= own[:, None])  # skip the own sentence
    pool = raw_emb[torch.as_tensor(first)]  # (u, d)
    sim = gen_emb @ pool.T  # (n, u)
    true = sim.gather(1, torch.as_tensor(own)[:, None])  # (n, 1)
    rivals = sim.gather(1, torch.as_tensor(others))  # (n, N-1)
    return (rivals > true).sum(1).eq(0).double().numpy()


def bertscore_frame(encoder: Encoder, generated: Sequence[str], raw: Sequence[str]) -> pd.DataFrame:
    """BERTScore P/R/F1 of each generation against its raw sentence (torchmetrics' ``bert_score``
    with the named model, last layer, no idf), one call per distinct pair: a batched call of
    torchmetrics 1.9 pairs a sentence with another one's reference whenever the length orders of
    the two lists differ (it sorts both by length and undoes neither sort correctly)."""
    import torch
    from torchmetrics.functional.text.bert import bert_score

    pairs = pd.Series(list(zip(generated, raw)), dtype=object)
    distinct, pair_of = np.unique(pairs.map(repr).to_numpy(), return_inverse=True)
    first = pd.Series(np.arange(len(pairs))).groupby(pair_of.ravel()).first().to_numpy()
    rows = []
    for i in first:
        gen, sent = pairs.iat[i]
        scores = bert_score([gen], [sent], model=encoder.model, user_tokenizer=encoder.tokenizer,
                            max_length=MAX_TOKENS, truncation=True)
        rows.append([float(torch.as_tensor(scores[f]).reshape(-1)[0]) for f in BERTSCORE_FIELDS])
    values = np.asarray(rows, dtype=np.float64).reshape(len(distinct), len(BERTSCORE_FIELDS))[pair_of.ravel()]
    return pd.DataFrame(values, columns=[bertscore(f) for f in BERTSCORE_FIELDS])


def semantic_frame(encoder: Encoder, generated: Sequence[str], raw: Sequence[str], seed: int = 0,
                   ways: Sequence[int] = SEMANTIC_WAYS) -> pd.DataFrame:
    """Every semantic column, one row per sample (BERTScore, cosine, N-way retrieval)."""
    gen_emb, raw_emb = sentence_embeddings(encoder, generated), sentence_embeddings(encoder, raw)
    out = bertscore_frame(encoder, generated, raw)
    out[SEMANTIC_COSINE] = (gen_emb * raw_emb).sum(-1).double().numpy()
    for n in ways:
        out[semantic_retrieval(n)] = n_way_hits(gen_emb, raw_emb, raw, n, seed)
    return out
