"""Aligner: EEG queries to the text model's width, and attention pooling of EEG and text (docs/protocol.md §model)."""
from __future__ import annotations

import torch
from torch import nn

from model.blocks import Attention


class Aligner(nn.Module):
    """``in_proj`` maps the encoder output to the text model's width (the EEG embeddings the
    decoder reads); two learned single queries pool EEG embeddings and text states to vectors."""

    def __init__(self, hidden_dim: int = 256, embed_dim: int = 1024, num_heads: int = 8,
                 dropout: float = 0.0):
        super().__init__()
        self.in_proj = nn.Linear(hidden_dim, embed_dim)
        self.q_x = nn.Parameter(torch.randn(1, 1, embed_dim))  # standard normal, as the original
        self.q_y = nn.Parameter(torch.randn(1, 1, embed_dim))
        self.cross_attn_x = Attention(embed_dim, num_heads, dropout)
        self.cross_attn_y = Attention(embed_dim, num_heads, dropout)

    def embed(self, h: torch.Tensor) -> torch.Tensor:
        """(n, m, hidden) → EEG embeddings (n, m, embed).

        When ``hidden_dim == embed_dim`` the original applies ``in_proj`` a second time (it
        re-projects any input whose width is ``hidden_dim``, and the projected embeddings have
        that width again); reproduced, so that checkpoints of such configurations give the
        original's outputs. The paper configuration (256 → 1024) projects once."""
        x = self.in_proj(h)
        return self.in_proj(x) if x.shape[-1] == self.in_proj.in_features else x

    def pool_eeg(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """EEG embeddings (n, m, embed) → (n, embed); no mask (``mask`` (n, m) only under
        ``use_y_mask`` in training)."""
        return self.cross_attn_x(self.q_x.expand(len(x), -1, -1), x, key_mask=mask).squeeze(1)

    def pool_text(self, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Text encoder states (n, s, embed) with attention mask (n, s) → (n, embed)."""
        return self.cross_attn_y(self.q_y.expand(len(y), -1, -1), y, key_mask=mask).squeeze(1)
