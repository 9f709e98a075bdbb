"""The padded path: GLIM's own modules doing the padded work the original implementation does, a
diagnostic for the benchmarks (it is not the original implementation, which runs only beside the
project: bench/vs_original.py).

Every EEG padded to 1280 steps and encoded over all of them (``max_length_groups = 0``),
``nn.MultiheadAttention`` with float masks (it keeps its attention weights for the backward), the
frozen T5 encoder run every step (no text cache, every text padded to ``input_text_len``), the
decoder and the LM head over every padded target position, and everything under autocast (bf16
under bf16-mixed, also on a CPU)."""
from __future__ import annotations

import copy

import torch
from torch import nn

from model.blocks import Attention
from model.glim import GLIM


class NaiveAttention(nn.Module):
    """``nn.MultiheadAttention`` with float masks, with the parameters of an ``Attention``."""

    def __init__(self, attn: Attention):
        super().__init__()
        dim = attn.in_proj_weight.shape[1]
        self.mha = nn.MultiheadAttention(dim, attn.num_heads, batch_first=True)
        self.mha.load_state_dict(attn.state_dict())

    def forward(self, q: torch.Tensor, kv: torch.Tensor, key_mask: torch.Tensor | None = None,
                is_causal: bool = False) -> torch.Tensor:
        l, s = q.shape[1], kv.shape[1]
        pad = None if key_mask is None else torch.zeros(key_mask.shape, device=q.device).masked_fill(
            ~key_mask, float("-inf"))
        causal = torch.full((l, s), float("-inf"), device=q.device).triu(1) if is_causal else None
        return self.mha(q, kv, kv, key_padding_mask=pad, attn_mask=causal)[0]


def shared_copy(model: GLIM) -> GLIM:
    """A deep copy of ``model`` that shares its frozen text model and its text cache."""
    memo = {id(model.text_model): model.text_model, id(model.text_cache): model.text_cache}
    return copy.deepcopy(model, memo)


def padded_copy(model: GLIM) -> GLIM:
    """The padded path: a copy of ``model`` (sharing its text model) with ``NaiveAttention``
    layers, no text cache, everything under autocast, every step over the padded length."""
    padded = shared_copy(model)
    for parent in list(padded.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, Attention):
                setattr(parent, name, NaiveAttention(child).to(next(child.parameters()).device))
    padded.use_text_cache(False)
    padded.cpu_bf16_encoder = padded.cpu_bf16_text = True
    padded.trim_text_padding = False
    padded.max_length_groups = padded.lm_loss_groups = 0
    return padded
