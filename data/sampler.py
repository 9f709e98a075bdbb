"""GLIM's batch sampler (docs/protocol.md §batches): batches of distinct text uids, built batch for batch as the
original GLIM builds them, shuffled per epoch and split across ranks."""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler

LENGTH_SEEDS = 10
"""A shuffled sampler's length is the smallest batch count over the orders of ``LENGTH_SEEDS`` seeds."""


def _walk(uids: Sequence[int], batch_size: int, items: Sequence[int],
          out: list[list[int]]) -> tuple[list[int], list[int]]:
    """One walk over ``items``: an item joins the open batch unless its uid is already there (then
    it is set aside); every full batch is appended to ``out``. Returns (set aside, open batch)."""
    aside: list[int] = []
    batch: list[int] = []
    seen: set[int] = set()
    for i in items:
        uid = uids[i]
        if uid in seen:
            aside.append(i)
            continue
        batch.append(i)
        seen.add(uid)
        if len(batch) == batch_size:
            out.append(batch)
            batch, seen = [], set()
    return aside, batch


def greedy_batches(uids: Sequence[int], batch_size: int,
                   order: Sequence[int]) -> tuple[list[list[int]], list[int]]:
    """The original's greedy passes: walk ``order`` (see ``_walk``), then walk the set-aside items
    followed by the open batch's again, as long as they hold at least ``batch_size`` distinct
    uids. Returns (the full batches in the order they were emitted, the items in none of them)."""
    batches: list[list[int]] = []
    pending = list(order)
    while pending and len({uids[i] for i in pending}) >= batch_size:
        aside, batch = _walk(uids, batch_size, pending, batches)
        pending = aside + batch
    return batches, pending


def leftover_batches(uids: Sequence[int], batch_size: int, items: Sequence[int]) -> list[list[int]]:
    """``items`` cut into batches free of repeated uids, none larger than ``batch_size``: walks as
    in ``greedy_batches``, but the open batch of every walk is a batch too (so every item is in one)."""
    batches: list[list[int]] = []
    pending = list(items)
    while pending:
        pending, batch = _walk(uids, batch_size, pending, batches)
        if batch:
            batches.append(batch)
    return batches


def distinct_uid_batches(uids: Sequence[int], batch_size: int, order: Sequence[int],
                         drop_last: bool) -> list[list[int]]:
    """``order`` cut into batches free of repeated uids: the greedy passes' full batches, and,
    unless ``drop_last``, the items they leave cut into further (smaller) batches at the end."""
    batches, rest = greedy_batches(uids, batch_size, order)
    return batches if drop_last else batches + leftover_batches(uids, batch_size, rest)


def length_grouped(order: np.ndarray, lengths: np.ndarray, chunk: int, bucket_width: int) -> np.ndarray:
    """``order`` with every run of ``chunk`` samples stably sorted by EEG length bucket
    (``length // bucket_width``): neighbours have similar lengths, ties keep the given order."""
    buckets = lengths[order] // bucket_width
    starts = range(0, len(order), chunk)
    return np.concatenate([order[s:s + chunk][np.argsort(buckets[s:s + chunk], kind="stable")]
                           for s in starts]) if len(order) else order


def fit_to(batches: list[list[int]], total: int) -> list[list[int]]:
    """The first ``total`` batches; when there are fewer, the first missing ones appended again."""
    return batches[:total] if len(batches) >= total else batches + batches[: total - len(batches)]


class DistinctUidBatchSampler(Sampler[list[int]]):
    """The original GLIM batch sampler: no text uid twice in a batch (docs/protocol.md §batches).

    Order of epoch e: with ``shuffle`` ``torch.randperm(N)`` from a generator seeded ``seed + e``
    (the original's seed is 0, whatever the run's seed), else 0..N-1. The order is cut into full
    batches by ``greedy_batches``; what they leave is in no batch (``leftover()``). The length
    (batches per rank) is the smallest batch count over the orders of seeds ``seed``..``seed + 9``
    when shuffled, the one unshuffled count otherwise, integer-divided by ``num_replicas`` (R).
    An epoch keeps its first ``len * R`` batches or, when it has fewer, appends its first missing
    ones again; rank r takes batches r, r+R, r+2R, ...

    Options that depart from the original (off by default):

    - ``keep_leftover`` (meant for val/test: evaluate every record): the items the greedy passes
      leave are cut into further batches free of repeated uids (``leftover_batches``), appended
      at the end; every batch is kept (no truncation or padding), so ranks may get one batch
      more than others and ``len`` is this rank's count in the current epoch.
    - ``lengths`` (EEG length of every item): length-grouped batches, which changes which items
      share a batch. The shuffled order is stably sorted by length bucket (``bucket_width``
      steps) within runs of ``chunk_batches`` batches' worth of items, cut by the greedy passes,
      and the batches are shuffled again by the same generator, so that a batch pads little.
    """

    def __init__(self, uids: Sequence[int], batch_size: int, shuffle: bool, seed: int = 0,
                 num_replicas: int = 1, rank: int = 0, keep_leftover: bool = False,
                 lengths: Sequence[int] | None = None, bucket_width: int = 64, chunk_batches: int = 50):
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is not in 0..{num_replicas - 1}")
        self.uids = np.asarray(uids)
        self._uid_list = self.uids.tolist()
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.num_replicas, self.rank = num_replicas, rank
        self.keep_leftover = keep_leftover
        self.lengths = None if lengths is None else np.asarray(lengths)
        if self.lengths is not None and len(self.lengths) != len(self.uids):
            raise ValueError(f"{len(self.lengths)} lengths for {len(self.uids)} samples")
        self.bucket_width, self.chunk_batches = bucket_width, chunk_batches
        self.epoch = 0
        self._length: int | None = None
        self._cache: tuple[int, list[list[int]]] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def greedy_pass(self, seed: int) -> tuple[list[list[int]], list[int]]:
        """The greedy passes over the order drawn with ``seed`` (epoch e draws ``seed + e``):
        (full batches, items in none), before truncation or padding."""
        n = len(self.uids)
        g = torch.Generator().manual_seed(seed)
        order = torch.randperm(n, generator=g).numpy() if self.shuffle else np.arange(n)  # (n,)
        if self.lengths is not None:
            order = length_grouped(order, self.lengths, self.batch_size * self.chunk_batches,
                                   self.bucket_width)
        batches, rest = greedy_batches(self._uid_list, self.batch_size, order.tolist())
        if self.lengths is not None and self.shuffle:
            batches = [batches[k] for k in torch.randperm(len(batches), generator=g).tolist()]
        return batches, rest

    def _total(self) -> int:
        """Batches of an epoch, all ranks together (``len * R``), without ``keep_leftover``."""
        if self._length is None:
            seeds = range(self.seed, self.seed + (LENGTH_SEEDS if self.shuffle else 1))
            self._length = min(len(self.greedy_pass(s)[0]) for s in seeds) // self.num_replicas
        return self._length * self.num_replicas

    def _epoch_batches(self) -> list[list[int]]:
        """Every rank's batches of the current epoch, before rank splitting."""
        if self._cache is None or self._cache[0] != self.epoch:
            batches, rest = self.greedy_pass(self.seed + self.epoch)
            if self.keep_leftover:
                batches = batches + leftover_batches(self._uid_list, self.batch_size, rest)
            else:
                batches = fit_to(batches, self._total())
            self._cache = (self.epoch, batches)
        return self._cache[1]

    def leftover(self) -> list[int]:
        """Dataset indices in no batch of the current epoch (before rank splitting), sorted;
        [] with ``keep_leftover``."""
        used = np.zeros(len(self.uids), dtype=bool)
        for batch in self._epoch_batches():
            used[batch] = True
        return np.flatnonzero(~used).tolist()

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._epoch_batches()[self.rank:: self.num_replicas])

    def __len__(self) -> int:
        if self.keep_leftover:
            return len(self._epoch_batches()[self.rank:: self.num_replicas])
        return self._total() // self.num_replicas
