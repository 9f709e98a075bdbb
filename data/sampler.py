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


def length_grouped(order: np.ndarray, lengths: np.ndarray, chunk: int, bucket_width: int) -> np.ndarray:
    """``order`` with every run of ``chunk`` samples stably sorted by EEG length bucket
    (``length // bucket_width``): neighbours have similar lengths, ties keep the given order."""
    buckets = lengths[order] // bucket_width
    starts = range(0, len(order), chunk)
    return np.concatenate([order[s:s + chunk][np.argsort(buckets[s:s + chunk], kind="stable")]
                           for s in starts]) if len(order) else order


class DistinctUidBatchSampler(Sampler[list[int]]):
    """Batch sampler: no text uid twice in a batch; shuffled with ``seed + epoch`` when
    ``shuffle``; with ``num_replicas`` ranks, rank r takes batches r, r+N, r+2N, ...
    (the number of batches is cut to a multiple of N so that every rank takes as many).

    With ``lengths`` (EEG length of every sample), batches are length-grouped: the shuffled
    order is sorted by length bucket within chunks of ``chunk_batches`` batches, cut into
    distinct-uid batches, and the batches are shuffled again, so that a batch pads little."""

    def __init__(self, uids: Sequence[int], batch_size: int, shuffle: bool, drop_last: bool,
                 seed: int = 42, num_replicas: int = 1, rank: int = 0,
                 lengths: Sequence[int] | None = None, bucket_width: int = 64, chunk_batches: int = 50):
        self.uids = np.asarray(uids)
        self.batch_size = batch_size
        self.shuffle, self.drop_last, self.seed = shuffle, drop_last, seed
        self.num_replicas, self.rank = num_replicas, rank
        self.lengths = None if lengths is None else np.asarray(lengths)
        if self.lengths is not None and len(self.lengths) != len(self.uids):
            raise ValueError(f"{len(self.lengths)} lengths for {len(self.uids)} samples")
        self.bucket_width, self.chunk_batches = bucket_width, chunk_batches
        self.epoch = 0
        self._cache: tuple[int, list[list[int]]] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        if self._cache is None or self._cache[0] != self.epoch:
            n = len(self.uids)
            rng = np.random.default_rng(self.seed + self.epoch)
            order = rng.permutation(n) if self.shuffle else np.arange(n)
            if self.lengths is not None:
                order = length_grouped(order, self.lengths, self.batch_size * self.chunk_batches,
                                       self.bucket_width)
            batches = distinct_uid_batches(self.uids.tolist(), self.batch_size, order.tolist(),
                                           self.drop_last)
            if self.lengths is not None and self.shuffle:
                batches = [batches[i] for i in rng.permutation(len(batches))]
            if self.num_replicas > 1 and self.drop_last:
                batches = batches[: len(batches) - len(batches) % self.num_replicas]
            self._cache = (self.epoch, batches)
        return self._cache[1][self.rank:: self.num_replicas]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())
