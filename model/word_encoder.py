"""The word encoder of the BrainTranslator baseline: a transformer encoder over the sequence of a
sentence's word vectors, then a linear map to the text model's width and a ReLU."""
from __future__ import annotations

import torch
from torch import nn


class WordEncoder(nn.Module):
    """Word vectors (n, w, word_dim) and a mask (n, w) (True on real words) → (n, w, out_dim).

    ``n_layers`` post-norm transformer encoder layers (``num_heads`` heads, ``ff_dim`` feed-forward,
    ReLU, ``dropout``) with the padding masked out of the attention and no positional encoding
    (the text model adds its own), then ``relu(linear(.))`` to ``out_dim``. Outputs at padded
    positions are not meaningful: the text model's attention mask hides them.
    """

    def __init__(self, word_dim: int = 840, out_dim: int = 1024, n_layers: int = 6, num_heads: int = 8,
                 ff_dim: int = 2048, dropout: float = 0.1):
        super().__init__()
        layer = nn.TransformerEncoderLayer(word_dim, num_heads, ff_dim, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.proj = nn.Linear(word_dim, out_dim)

    def forward(self, words: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.encoder(words, src_key_padding_mask=~mask.bool())  # (n, w, word_dim)
        return torch.relu(self.proj(h))  # (n, w, out_dim)
