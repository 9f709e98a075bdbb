"""EEG encoder: modulated transformer blocks over time, then a causal query merger (docs/protocol.md §model)."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from model.blocks import LN_EPS, ModulatedBlock, QueryBlock
from model.length_groups import group_by_length


def sincos_table(length: int, dim: int) -> torch.Tensor:
    """1-D sin-cos position table (length, dim): first half sin, second half cos,
    frequencies 1/10000^(2i/dim)."""
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) * 2 / dim)  # (dim/2,)
    angles = torch.arange(length, dtype=torch.float64)[:, None] * omega[None]  # (length, dim/2)
    return torch.cat([angles.sin(), angles.cos()], dim=1).float()


class EEGEncoder(nn.Module):
    """(n, l, c) EEG + (n, l) mask + (n, c) prompt vector → (n, hidden_eeg_len, hidden_dim).

    Initialisation is PyTorch's default, in the order of creation (the original's draws): the
    blocks, ``x_proj``, then the standard-normal ``shared_queries``, then the query blocks."""

    def __init__(self, input_eeg_len: int = 1280, input_dim: int = 128, hidden_eeg_len: int = 96,
                 hidden_dim: int = 256, n_in_blocks: int = 6, n_out_blocks: int = 6,
                 num_heads: int = 8, mlp_ratio: float = 4, in_temporal_modulate: bool = True,
                 out_is_causal: bool = True, dropout: float = 0.0):
        super().__init__()
        self.register_buffer("pos_embed", sincos_table(input_eeg_len, input_dim)[None])  # (1, L, c)
        self.in_blocks = nn.ModuleList(
            ModulatedBlock(input_dim, num_heads, mlp_ratio, input_eeg_len, in_temporal_modulate, dropout)
            for _ in range(n_in_blocks))
        self.x_proj = nn.Linear(input_dim, hidden_dim)
        self.norm1 = nn.LayerNorm(hidden_dim, eps=LN_EPS)
        self.shared_queries = nn.Parameter(torch.randn(1, hidden_eeg_len, hidden_dim))
        self.out_blocks = nn.ModuleList(
            QueryBlock(hidden_dim, num_heads, mlp_ratio, out_is_causal, dropout) for _ in range(n_out_blocks))
        self.norm2 = nn.LayerNorm(hidden_dim, eps=LN_EPS)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        # x: (n, l, c) with l <= input_eeg_len, mask: (n, l) bool, p: (n, c)
        x = x + self.pos_embed[:, : x.shape[1]]
        for block in self.in_blocks:
            x = block(x, mask, p)
        memory = self.norm1(self.x_proj(x))  # (n, l, hidden)
        q = self.shared_queries.expand(x.shape[0], -1, -1)  # (n, m, hidden)
        for block in self.out_blocks:
            q = block(q, memory, mask)
        return self.norm2(q)


def encode_by_length(encoder: EEGEncoder, x: torch.Tensor, mask: torch.Tensor, p: torch.Tensor,
                     lengths: Sequence[int], max_groups: int) -> torch.Tensor:
    """``encoder(x, mask, p)`` computed per group of samples of similar length, each group only
    over its longest real length (``group_by_length``). Exact: a sample's output depends on its
    real time steps alone (padded keys are masked, everything else is per time step), and the
    output has a fixed length (the queries), so the groups are put back in batch order."""
    groups = group_by_length(lengths, max_groups, x.shape[-1])
    if len(groups) == 1:
        length = max(1, max(int(lengths[i]) for i in groups[0]))
        return encoder(x[:, :length], mask[:, :length], p)
    outs, index = [], []
    for g in groups:
        length = max(1, max(int(lengths[i]) for i in g))
        idx = torch.tensor(g, device=x.device)
        outs.append(encoder(x[idx, :length], mask[idx, :length], p[idx]))  # (|g|, m, hidden)
        index.extend(g)
    inverse = torch.empty(len(index), dtype=torch.long)
    inverse[torch.tensor(index)] = torch.arange(len(index))
    return torch.cat(outs)[inverse.to(x.device)]  # (n, m, hidden) in batch order


def real_lengths(mask: torch.Tensor) -> list[int]:
    """Per sample, the index after its last real time step (reads the mask on the host)."""
    steps = torch.arange(1, mask.shape[1] + 1, device=mask.device)
    return (mask.bool() * steps).amax(1).tolist() if mask.shape[1] else [0] * len(mask)


__all__ = ["EEGEncoder", "encode_by_length", "real_lengths", "sincos_table"]
