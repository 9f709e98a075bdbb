"""Batches cut into groups of similar sequence length, so that each group runs over its own longest
length instead of the batch's: the EEG encoder groups by EEG length, the LM loss by target length."""
from __future__ import annotations

from typing import Sequence


def group_by_length(lengths: Sequence[int], max_groups: int, width: int = 128) -> list[list[int]]:
    """Sample indices in at most ``max_groups`` groups of similar length that minimise a
    transformer's work when each group runs over its own longest length: Σ |g|·L_g·(L_g + 6·width)
    (attention grows with L², the linear layers with L·width²), by dynamic programming over the
    samples sorted by length. Groups are returned shortest first, indices in batch order."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    ls = [max(1, int(lengths[i])) for i in order]
    n, k_max = len(ls), max(1, min(max_groups, len(ls)))
    cost = lambda a, b: (b - a) * ls[b - 1] * (ls[b - 1] + 6 * width)  # noqa: E731  samples a..b-1
    best = [[float("inf")] * (n + 1) for _ in range(k_max + 1)]  # best[k][j]: first j in k groups
    cut = [[0] * (n + 1) for _ in range(k_max + 1)]
    best[0][0] = 0
    for k in range(1, k_max + 1):
        for j in range(1, n + 1):
            for i in range(k - 1, j):
                c = best[k - 1][i] + cost(i, j)
                if c < best[k][j]:
                    best[k][j], cut[k][j] = c, i
    k = min(range(1, k_max + 1), key=lambda q: best[q][n])
    groups, j = [], n
    while j > 0:
        i = cut[k][j]
        groups.append(sorted(order[i:j]))
        j, k = i, k - 1
    return groups[::-1]


__all__ = ["group_by_length"]
