"""Prompt embedder: task, dataset and subject ids to one conditioning vector (SPEC §3)."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

PROMPT_MODES = ("src", "zero", "sum", "mean")


class PromptEmbedder(nn.Module):
    """``Σ_k σ_k · E_k(id_k)`` over three prompt kinds, with per-kind id dropout.

    Training replaces id k by 0 (``<UNK>``) with probability ``p_k``. In evaluation, kinds with
    ``0 < p_k < 1`` follow ``mode``: ``src`` the true id, ``zero`` id 0, ``sum`` a bag of id 0 and
    the true id weighted ∝ ((n_k − 1) p_k, 1 − p_k), ``mean`` the mean of ids 1..n_k−1;
    kinds with ``p_k = 1`` always use id 0 and kinds with ``p_k = 0`` the true id.
    """

    def __init__(self, nums: Sequence[int], dim: int, dropout_probs: Sequence[float]):
        super().__init__()
        if len(nums) != len(dropout_probs):
            raise ValueError(f"prompt_nums {list(nums)} and prompt_dropout_probs "
                             f"{list(dropout_probs)} differ in length")
        self.nums = list(nums)
        self.dropout_probs = [float(p) for p in dropout_probs]
        self.embedders = nn.ModuleList(nn.Embedding(n, dim) for n in nums)
        for emb in self.embedders:
            nn.init.normal_(emb.weight, std=0.02)
        self.sigma = nn.Parameter(torch.tensor(self.nums, dtype=torch.float) / sum(self.nums))

    def forward(self, ids: torch.Tensor, mode: str = "src") -> torch.Tensor:
        """ids: (n, k) long → (n, dim)."""
        if mode not in PROMPT_MODES:
            raise ValueError(f"prompt mode {mode!r} is not one of {PROMPT_MODES}")
        out = 0
        for k, (emb, p) in enumerate(zip(self.embedders, self.dropout_probs)):
            idk = ids[:, k]
            if self.training:
                drop = torch.rand(idk.shape, device=idk.device) < p
                e = emb(idk.masked_fill(drop, 0))
            elif p >= 1 or (p > 0 and mode == "zero"):
                e = emb(torch.zeros_like(idk))
            elif p == 0 or mode == "src":
                e = emb(idk)
            elif mode == "sum":
                w0, w1 = (self.nums[k] - 1) * p, 1 - p
                e = (w0 * emb.weight[0] + w1 * emb(idk)) / (w0 + w1)
            else:  # mean
                e = emb.weight[1:].mean(0).expand(len(idk), -1)
            out = out + self.sigma[k] * e
        return out
