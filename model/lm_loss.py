"""The teacher-forced LM loss of the frozen text model over the real target positions only.

``model(encoder_outputs=emb, labels=labels).loss`` (what the original computes) runs the decoder
over every padded target position and the LM head over all of them, then averages the
cross-entropy over the positions with a label. In a causal decoder a position sees only the ones
before it, so trailing padding changes nothing at the labelled positions: ``labelled_lm_loss`` runs
the decoder over the batch's longest real target and the LM head and the cross-entropy over the
labelled positions only, and can run it per group of samples of similar target length, each group
over its own longest target. Same function, same mean over the same labels; the value differs from
the padded computation by floating-point summation order only (``tests/model/test_lm_loss.py``).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_outputs import BaseModelOutput

from model.length_groups import group_by_length

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
                     encoder_mask: torch.Tensor | None = None, max_groups: int = 1) -> torch.Tensor:
    """``padded_lm_loss``'s loss, computed over the labelled positions only.

    The samples are cut into at most ``max_groups`` groups of similar target length
    (``model.length_groups.group_by_length``); the decoder runs each group over its longest
    labelled target (1: the batch's longest), and the LM head and the cross-entropy run once, over
    the labelled positions of all groups. ``labels`` (n, t) must be a host tensor (the tokenizer's
    output): which positions to keep is read there, so that nothing is read back from an
    accelerator. Padding is trailing, as tokenizers pad on the right; a label after the first
    ``IGNORE`` still counts."""
    if labels.device.type != "cpu":
        raise ValueError("labelled_lm_loss reads the labels on the host: pass the tokenizer's CPU tensor")
    labelled = labels.numpy() != IGNORE  # (n, t), read with numpy: no tensor operator, no sync
    lengths = [int(np.flatnonzero(row)[-1]) + 1 if row.any() else 1 for row in labelled]  # (n,) host ints
    device, decoder = emb.device, model.get_decoder()
    hidden, targets = [], []
    for group in group_by_length(lengths, max_groups, int(model.config.d_model)):
        length = max(lengths[i] for i in group)
        rows = torch.tensor(group)
        g_labels = labels[rows, :length]  # (g, length) host
        keep = torch.from_numpy(np.flatnonzero(labelled[group, :length]))  # (k_g,) flat labelled positions
        whole = len(group) == len(lengths)
        index = None if whole else rows.to(device, non_blocking=True)
        g_emb = emb if whole else emb[index]  # (g, m, d)
        g_mask = encoder_mask if encoder_mask is None or whole else encoder_mask[index]  # (g, m)
        out = decoder(input_ids=model.prepare_decoder_input_ids_from_labels(g_labels).to(device),
                      encoder_hidden_states=g_emb, encoder_attention_mask=g_mask,
                      use_cache=False).last_hidden_state  # (g, length, d)
        hidden.append(out.reshape(-1, out.shape[-1]).index_select(0, keep.to(device, non_blocking=True)))
        targets.append(g_labels.reshape(-1)[keep])
    h = torch.cat(hidden)  # (k, d) the labelled positions of every group
    if decoder_output_scaled(model.config):
        h = h * (model.config.d_model ** -0.5)
    logits = model.get_output_embeddings()(h)  # (k, vocab)
    return F.cross_entropy(logits, torch.cat(targets).to(device, non_blocking=True))


def decoder_output_scaled(config) -> bool:
    """Whether T5 scales the decoder output by d_model^-0.5 before the LM head (tied embeddings)."""
    return bool(getattr(config, "scale_decoder_outputs", getattr(config, "tie_word_embeddings", True)))
