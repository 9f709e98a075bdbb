"""EEG-to-text retrieval metrics from EEG and text vectors (pure functions)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from data.sampler import distinct_uid_batches
from evaluation.columns import POOL_MRR, RANK_POOL, batch_top, pool_recall, rank_batch
from model.loss import similarity


def ranks_within_batches(eeg_vec: torch.Tensor, text_vec: torch.Tensor, batch_ids: np.ndarray) -> np.ndarray:
    """0-based rank of each sample's own text among the texts of its batch (ties count in its favour)."""
    ranks = np.zeros(len(eeg_vec), dtype=np.int64)
    for b in np.unique(batch_ids):
        idx = np.flatnonzero(batch_ids == b)
        sim = similarity(eeg_vec[idx], text_vec[idx])  # (m, m)
        ranks[idx] = (sim > sim.diagonal()[:, None]).sum(1).cpu().numpy()
    return ranks


def pool_ranks(eeg_vec: torch.Tensor, text_vec: torch.Tensor, uids: np.ndarray) -> np.ndarray:
    """0-based rank of each sample's own text among all distinct texts of the pool."""
    pool_uids, first = np.unique(uids, return_index=True)
    sim = similarity(eeg_vec, text_vec[first])  # (n, u)
    own = torch.as_tensor(np.searchsorted(pool_uids, uids))
    true = sim.gather(1, own[:, None])  # (n, 1)
    return (sim > true).sum(1).cpu().numpy()


def retrieval_batch_ids(uids: np.ndarray, batch_size: int = 24) -> np.ndarray:
    """Batch id of each sample when the samples, in order, are cut into batches of distinct texts
    (the test loader's batching, docs/protocol.md §batches)."""
    ids = np.empty(len(uids), dtype=np.int64)
    for b, idx in enumerate(distinct_uid_batches(list(uids), batch_size, list(range(len(uids))), False)):
        ids[idx] = b
    return ids


def sample_retrieval(eeg_vec: torch.Tensor, text_vec: torch.Tensor, uids: np.ndarray, batch_ids: np.ndarray,
                     batch_size: int = 24, ks: tuple[int, ...] = (1, 5, 10)) -> pd.DataFrame:
    """Per sample: 1-based ranks of the own text within its batch and in the pool, and 0/1 hits
    (batch hits are NaN in batches smaller than ``batch_size``); their means are the summary
    metrics (``evaluation.summary.summarize``)."""
    full = np.bincount(batch_ids)[batch_ids] == batch_size
    in_batch = ranks_within_batches(eeg_vec, text_vec, batch_ids)
    in_pool = pool_ranks(eeg_vec, text_vec, uids)
    out = {rank_batch(batch_size): np.where(full, in_batch + 1, np.nan), RANK_POOL: in_pool + 1}
    out |= {batch_top(batch_size, k): np.where(full, (in_batch < k).astype(float), np.nan) for k in ks}
    out |= {pool_recall(k): (in_pool < k).astype(float) for k in ks}
    out[POOL_MRR] = 1.0 / (in_pool + 1)
    return pd.DataFrame(out)
