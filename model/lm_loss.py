"""The teacher-forced LM loss of the frozen text model over the real target positions only.

``model(encoder_outputs=emb, labels=labels).loss`` (what the original computes) runs the decoder
over every padded target position and the LM head over all of them, then averages the
cross-entropy over the positions with a label. In a causal decoder a position sees only the ones
before it, so trailing padding changes nothing at the labelled positions: ``labelled_lm_loss`` runs
the decoder over the batch's longest real target and the LM head and the cross-entropy over the
labelled positions only. Same function, same mean over the same labels; the value differs from the
padded computation by floating-point summation order only (``tests/model/test_lm_loss.py``).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_outputs import BaseModelOutput

IGNORE = -100
"""Label of a position that takes no part in the loss (Hugging Face's convention)."""


def padded_lm_loss(model: nn.Module, emb: torch.Tensor, labels: torch.Tensor,
                   encoder_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The loss and the logits (n, t, vocab) over every target position, as the original computes
    them: EEG embeddings ``emb`` (n, m, d), ``labels`` (n, t) with ``IGNORE`` at padding."""
    out = model(encoder_outputs=BaseModelOutput(last_hidden_state=emb), labels=labels.to(emb.device),
                attention_mask=encoder_mask)
    return out.loss, out.logits


def labelled_lm_loss(model: nn.Module, emb: torch.Tensor, labels: torch.Tensor,
                     encoder_mask: torch.Tensor | None = None) -> torch.Tensor:
    """``padded_lm_loss``'s loss, computed over the labelled positions only.

    ``labels`` (n, t) must be a host tensor (the tokenizer's output): which positions to keep is
    read there, so that nothing is read back from an accelerator. Padding is trailing, as
    tokenizers pad on the right; a label after the first ``IGNORE`` still counts."""
    if labels.device.type != "cpu":
        raise ValueError("labelled_lm_loss reads the labels on the host: pass the tokenizer's CPU tensor")
    labelled = labels.numpy() != IGNORE  # (n, t), read with numpy: no tensor operator, no sync
    steps = np.flatnonzero(labelled.any(0))
    length = int(steps[-1]) + 1 if steps.size else 1  # the longest real target of the batch
    labels = labels[:, :length]
    decoder_ids = model.prepare_decoder_input_ids_from_labels(labels)  # (n, length)
    keep = torch.from_numpy(np.flatnonzero(labelled[:, :length]))  # (k,) flat labelled positions
    device = emb.device
    hidden = model.get_decoder()(input_ids=decoder_ids.to(device), encoder_hidden_states=emb,
                                 encoder_attention_mask=encoder_mask, use_cache=False).last_hidden_state
    hidden = hidden.reshape(-1, hidden.shape[-1]).index_select(0, keep.to(device, non_blocking=True))  # (k, d)
    if decoder_output_scaled(model.config):
        hidden = hidden * (model.config.d_model ** -0.5)
    logits = model.get_output_embeddings()(hidden)  # (k, vocab)
    target = labels.reshape(-1)[keep].to(device, non_blocking=True)  # (k,)
    return F.cross_entropy(logits, target)


def decoder_output_scaled(config) -> bool:
    """Whether T5 scales the decoder output by d_model^-0.5 before the LM head (tied embeddings)."""
    return bool(getattr(config, "scale_decoder_outputs", getattr(config, "tie_word_embeddings", True)))
