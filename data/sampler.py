"""Batches of distinct text uids, shuffled per epoch and split across ranks (SPEC §2)."""
from __future__ import annotations

from collections import deque
from typing import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler


def distinct_uid_batches(uids: Sequence[int], batch_size: int, order: Sequence[int],
                         drop_last: bool) -> list[list[int]]:
    """Cut ``order`` (sample indices) into batches that never hold one uid twice.

    Greedy in ``order``: a sample whose uid is already in the open batch is put back, ahead of the
    rest, for the next batch, so the order is kept as far as the constraint allows. Every sample
    lands in exactly one batch; with ``drop_last`` batches smaller than ``batch_size`` are dropped.
    """
    pending = deque(order)
    batches: list[list[int]] = []
    while pending:
        batch: list[int] = []
        seen: set[int] = set()
        clashes: list[int] = []
        while pending and len(batch) < batch_size:
            i = pending.popleft()
            if uids[i] in seen:
                clashes.append(i)
            else:
                batch.append(i)
                seen.add(uids[i])
        pending.extendleft(reversed(clashes))
        if len(batch) == batch_size or not drop_last:
            batches.append(batch)
    return batches


class DistinctUidBatchSampler(Sampler[list[int]]):
    """Batch sampler: no text uid twice in a batch; shuffled with ``seed + epoch`` when
    ``shuffle``; with ``num_replicas`` ranks, rank r takes batches r, r+N, r+2N, ...
    (the number of batches is cut to a multiple of N so that every rank takes as many)."""

    def __init__(self, uids: Sequence[int], batch_size: int, shuffle: bool, drop_last: bool,
                 seed: int = 42, num_replicas: int = 1, rank: int = 0):
        self.uids = np.asarray(uids)
        self.batch_size = batch_size
        self.shuffle, self.drop_last, self.seed = shuffle, drop_last, seed
        self.num_replicas, self.rank = num_replicas, rank
        self.epoch = 0
        self._cache: tuple[int, list[list[int]]] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        if self._cache is None or self._cache[0] != self.epoch:
            n = len(self.uids)
            order = (np.random.default_rng(self.seed + self.epoch).permutation(n)
                     if self.shuffle else np.arange(n))
            batches = distinct_uid_batches(self.uids.tolist(), self.batch_size, order.tolist(),
                                           self.drop_last)
            if self.num_replicas > 1 and self.drop_last:
                batches = batches[: len(batches) - len(batches) % self.num_replicas]
            self._cache = (self.epoch, batches)
        return self._cache[1][self.rank:: self.num_replicas]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())
