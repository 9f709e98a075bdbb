"""Prompt embedder: task, dataset and subject ids to one conditioning vector (docs/protocol.md §model)."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from model.config import PROMPT_MODES


class PromptEmbedder(nn.Module):
    """``Σ_k σ_k · E_k(id_k)`` over three prompt kinds, with per-kind id dropout.

    Training: for each kind with ``p_k > 0`` (in kind order) one ``torch.rand(n)`` is drawn from
    the default generator and ids whose draw is below ``p_k`` become 0 (``<UNK>``); kinds with
    ``p_k = 0`` draw nothing. Evaluation: kinds with ``p_k = 1`` always use id 0; otherwise
    ``src`` the true id, ``zero`` id 0 where ``p_k > 0`` (the true id where ``p_k = 0``), ``sum``
    a bag of id 0 and the true id weighted ∝ ((n_k − 1) p_k, 1 − p_k) where ``0 < p_k < 1``,
    ``mean`` the mean of rows 1..n_k−1 (``p_k = 0`` included).
    """

    def __init__(self, nums: Sequence[int], dim: int, dropout_probs: Sequence[float]):
        super().__init__()
        if len(nums) != len(dropout_probs):
            raise ValueError(f"prompt_nums {list(nums)} and prompt_dropout_probs "
                             f"{list(dropout_probs)} differ in length")
        self.nums = list(nums)
        self.dropout_probs = [float(p) for p in dropout_probs]
        self.embedders = nn.ModuleList(nn.Embedding(n, dim) for n in nums)  # default N(0, 1) draws
        for emb in self.embedders:  # then re-drawn, as the original
            nn.init.normal_(emb.weight, std=0.02)
        self.sigma = nn.Parameter(torch.tensor(self.nums, dtype=torch.float) / sum(self.nums))

    def _kind(self, k: int, idk: torch.Tensor, mode: str) -> torch.Tensor:
        """Embedding (n, dim) of kind ``k`` for ids ``idk`` (n,)."""
        emb, p = self.embedders[k], self.dropout_probs[k]
        if self.training:
            if p > 0:
                idk = idk.masked_fill(torch.rand(idk.shape, device=idk.device) < p, 0)
            return emb(idk)
        if p >= 1 or (p > 0 and mode == "zero"):
            return emb(torch.zeros_like(idk))
        if mode == "mean":
            return emb.weight[1:].mean(0).expand(len(idk), -1)
        if p == 0 or mode in ("src", "zero"):
            return emb(idk)
        w0, w1 = (self.nums[k] - 1) * p, 1 - p  # mode sum
        return (w0 * emb.weight[0] + w1 * emb(idk)) / (w0 + w1)

    def forward(self, ids: torch.Tensor, mode: str = "src") -> torch.Tensor:
        """ids: (n, k) long → (n, dim)."""
        if mode not in PROMPT_MODES:
            raise ValueError(f"prompt mode {mode!r} is not one of {PROMPT_MODES}")
        out = 0
        for k in range(len(self.embedders)):
            out = out + self.sigma[k] * self._kind(k, ids[:, k], mode)
        return out
