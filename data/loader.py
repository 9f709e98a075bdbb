"""The one way GLIM's loaders are built: a dataset cut into batches of distinct sentences by the
original's sampler (``data.sampler``, docs/protocol.md §batches), collated by ``data.dataset.collate``. The data
module's train and val loaders and the evaluation's test loader are all this."""
from __future__ import annotations

from typing import Sequence

from torch.utils.data import DataLoader, Dataset

from data.dataset import collate
from data.sampler import DistinctUidBatchSampler


def distinct_text_loader(dataset: Dataset, batch_size: int, shuffle: bool = False, seed: int = 0,
                         num_replicas: int = 1, rank: int = 0, keep_leftover: bool = False,
                         lengths: Sequence[int] | None = None, num_workers: int = 0,
                         pin_memory: bool = False, persistent_workers: bool = False) -> DataLoader:
    """A loader over ``dataset`` (which has ``uids``) in batches of ``batch_size`` distinct texts:
    shuffled per epoch or in order, rank ``rank`` of ``num_replicas`` taking batches r, r+N, ...;
    ``keep_leftover`` and ``lengths`` as ``DistinctUidBatchSampler`` says."""
    sampler = DistinctUidBatchSampler(dataset.uids, batch_size, shuffle=shuffle, seed=seed,
                                      num_replicas=num_replicas, rank=rank, keep_leftover=keep_leftover,
                                      lengths=lengths)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=num_workers,
                      pin_memory=pin_memory, persistent_workers=persistent_workers)
