"""Transformer building blocks of the EEG encoder: attention, MLP, adaLN-Zero and query blocks.

Parameter names follow ``torch.nn.MultiheadAttention`` (``in_proj_weight``, ``in_proj_bias``,
``out_proj``) so that published GLIM checkpoints load unchanged, while the computation goes
through ``F.scaled_dot_product_attention`` with boolean masks.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LN_EPS = 1e-6
"""Epsilon of every LayerNorm of GLIM, affine or not (what the published checkpoint was trained with)."""


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN modulation ``x * (1 + scale) + shift`` with per-sample ``(n, d)`` shift/scale."""
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class Attention(nn.Module):
    """Multi-head attention with ``nn.MultiheadAttention``'s parameters, computed by SDPA.

    ``key_mask`` is ``(n, s)`` boolean, True where a key takes part (the EEG/text mask).
    ``dropout`` drops attention weights in training, as ``nn.MultiheadAttention(dropout=...)``.
    Initialised as ``nn.MultiheadAttention``, draw for draw: ``out_proj`` by the default Linear
    init (its bias then zeroed), then ``in_proj_weight`` xavier-uniform, ``in_proj_bias`` zeros.
    """

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"width {dim} is not divisible by {num_heads} heads")
        self.num_heads, self.dropout = num_heads, dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, q: torch.Tensor, kv: torch.Tensor, key_mask: torch.Tensor | None = None,
                is_causal: bool = False) -> torch.Tensor:
        n, l, d = q.shape
        s, h = kv.shape[1], self.num_heads
        w_q, w_kv = self.in_proj_weight.split([d, 2 * d])
        b_q, b_kv = self.in_proj_bias.split([d, 2 * d])
        q = F.linear(q, w_q, b_q).view(n, l, h, d // h).transpose(1, 2)  # (n, h, l, dh)
        k, v = F.linear(kv, w_kv, b_kv).view(n, s, 2, h, d // h).permute(2, 0, 3, 1, 4)  # (n, h, s, dh)
        mask = None if key_mask is None else key_mask[:, None, None, :].bool()  # (n, 1, 1, s)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal,
                                             dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(out.transpose(1, 2).reshape(n, l, d))


class Mlp(nn.Module):
    """Linear - GELU(tanh) - dropout - Linear - dropout (parameter names ``fc1``, ``fc2``)."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class ModulatedBlock(nn.Module):
    """EEG block: temporal modulation, then a DiT adaLN-Zero self-attention block.

    Conditioned on the prompt vector ``p`` (n, d). Both modulation layers start at zero, so a
    fresh block is the identity.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, seq_len: int,
                 temporal_modulate: bool = True, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=LN_EPS)
        self.attn = Attention(dim, num_heads, dropout)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=LN_EPS)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dropout)
        self.adaLN = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        self.t_adaLN = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * seq_len)) if temporal_modulate else None
        for layer in (self.adaLN[1], *([self.t_adaLN[1]] if self.t_adaLN is not None else [])):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        # x: (n, l, d) with l <= seq_len (trailing padding may be trimmed), mask: (n, l), p: (n, d)
        l = x.shape[1]
        if self.t_adaLN is not None:
            a, b = self.t_adaLN(p).chunk(2, dim=-1)  # (n, seq_len) each
            x = x * (1 + a[:, :l, None]) + b[:, :l, None]
        shift1, scale1, gate1, shift2, scale2, gate2 = self.adaLN(p).chunk(6, dim=-1)  # (n, d) each
        h = modulate(self.norm1(x), shift1, scale1)
        x = x + gate1.unsqueeze(1) * self.attn(h, h, key_mask=mask)
        x = x + gate2.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift2, scale2))
        return x


class QueryBlock(nn.Module):
    """Query-merger block: pre-norm (causal) self-attention over the queries, cross-attention to
    the EEG sequence (padded steps masked), MLP."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, is_causal: bool = True,
                 dropout: float = 0.0):
        super().__init__()
        self.is_causal = is_causal
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.self_attn = Attention(dim, num_heads, dropout)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.cross_attn = Attention(dim, num_heads, dropout)
        self.norm3 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dropout)

    def forward(self, q: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # q: (n, m, d) queries, memory: (n, l, d) EEG, mask: (n, l)
        h = self.norm1(q)
        q = q + self.self_attn(h, h, is_causal=self.is_causal)
        q = q + self.cross_attn(self.norm2(q), memory, key_mask=mask)
        return q + self.mlp(self.norm3(q))
