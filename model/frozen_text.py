"""The frozen text model inside GLIM: a Hugging Face encoder-decoder kept out of its parameters."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

LENGTH_BUCKET = 8
"""``FrozenTextModel.encode_texts`` pads a text to a multiple of this many tokens (its bucket)."""


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

    def tokenize(self, texts: list[str], max_len: int, pad_to_max: bool = False,
                 on_host: bool = False) -> dict[str, torch.Tensor]:
        """Token ids and attention mask (n, s), truncated to ``max_len``, padded to it or to the
        longest text; on the model's device, or on the host with ``on_host``."""
        enc = self.tokenizer(texts, max_length=max_len, truncation=True, return_tensors="pt",
                             padding="max_length" if pad_to_max else "longest")
        return dict(enc) if on_host else {k: v.to(self.device) for k, v in enc.items()}

    def encode_texts(self, texts: list[str], max_len: int, pad_to_max: bool
                     ) -> tuple[torch.Tensor, list[int]]:
        """Encoder states of ``texts`` (truncated to ``max_len`` tokens) and their token counts.

        ``pad_to_max``: every text padded to ``max_len`` and encoded in one batch, as the original
        does; the states (k, max_len, d) include those of the padding tokens. Otherwise each text
        is padded only to its length bucket (its token count rounded up to ``LENGTH_BUCKET``,
        at most ``max_len``), the texts of one bucket are encoded together, and the states
        (k, s, d) are zero beyond each text's tokens, s being the longest text's count. The real
        tokens' states are the same function of the text either way (the attention mask hides the
        padding), and a text's computed shape depends on the text alone, not on its companions."""
        enc = self.tokenize(texts, max_len, pad_to_max, on_host=True)
        ids, mask = enc["input_ids"], enc["attention_mask"]  # (k, s) host
        lengths = mask.sum(1).tolist()
        if pad_to_max:
            return self.encode(ids.to(self.device), mask.to(self.device)), lengths
        rows: list[torch.Tensor | None] = [None] * len(texts)
        buckets: dict[int, list[int]] = {}
        for i, n in enumerate(lengths):
            buckets.setdefault(min(max_len, -(-max(n, 1) // LENGTH_BUCKET) * LENGTH_BUCKET), []).append(i)
        for size, members in buckets.items():
            b_ids = torch.full((len(members), size), int(self.tokenizer.pad_token_id or 0), dtype=ids.dtype)
            b_mask = torch.zeros(len(members), size, dtype=mask.dtype)
            for j, i in enumerate(members):
                b_ids[j, :lengths[i]], b_mask[j, :lengths[i]] = ids[i, :lengths[i]], 1
            states = self.encode(b_ids.to(self.device), b_mask.to(self.device))  # (|b|, size, d)
            for j, i in enumerate(members):
                rows[i] = states[j, :lengths[i]]
        return pad_sequence(rows, batch_first=True), lengths  # (k, s, d)

    @torch.no_grad()
    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Text encoder states (n, s, d_model)."""
        return self.model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
