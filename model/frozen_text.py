"""The frozen text model inside GLIM: a Hugging Face encoder-decoder kept out of its parameters."""
from __future__ import annotations

import torch
from torch import nn


class FrozenTextModel(nn.Module):
    """Holds a Hugging Face encoder-decoder frozen and in eval mode, outside GLIM's parameters.

    The wrapped model is kept out of the module tree, so its weights are neither optimised, nor
    saved in (or expected from) GLIM checkpoints; ``.to()``/``.half()`` still reach it.
    """

    def __init__(self, tokenizer, model: nn.Module):
        super().__init__()
        model.requires_grad_(False).eval()
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "tokenizer", tokenizer)

    @property
    def d_model(self) -> int:
        return int(self.model.config.d_model)

    def _apply(self, fn, recurse: bool = True):
        self.model._apply(fn)
        return super()._apply(fn, recurse)

    def train(self, mode: bool = True) -> "FrozenTextModel":
        super().train(mode)
        self.model.eval()
        return self

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def tokenize(self, texts: list[str], max_len: int, pad_to_max: bool = False) -> dict[str, torch.Tensor]:
        enc = self.tokenizer(texts, max_length=max_len, truncation=True, return_tensors="pt",
                             padding="max_length" if pad_to_max else "longest")
        return {k: v.to(self.device) for k, v in enc.items()}

    @torch.no_grad()
    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Text encoder states (n, s, d_model)."""
        return self.model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
