"""GLIM's losses as pure functions of tensors."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from model.config import COMMITMENT_LOSSES


def similarity(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cosine-similarity matrix (n, m) of row vectors x (n, d) and y (m, d)."""
    return F.normalize(x.float(), dim=-1) @ F.normalize(y.float(), dim=-1).T


def clip_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Symmetric contrastive loss of paired rows, cosine logits without temperature."""
    logits = similarity(x, y)  # (n, n)
    target = torch.arange(len(x), device=x.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def commitment_loss(x: torch.Tensor, y: torch.Tensor, kind: str = "mse",
                    mask: torch.Tensor | None = None) -> torch.Tensor:
    """Distance between the EEG embeddings x (n, m, d) and the text encoder states y (n, m, d):
    ``mse`` or ``kl_div`` (``F.kl_div(x, y, reduction='batchmean')``, as the original, on the raw
    values). With ``mask`` (n, m) (``use_y_mask``) both are zeroed where it is False before the
    loss, as the original does, so masked positions add nothing (the mean still counts them)."""
    if kind not in COMMITMENT_LOSSES:
        raise ValueError(f"unknown commitment loss {kind!r} (use one of {COMMITMENT_LOSSES})")
    x, y = x.float(), y.float()
    if mask is not None:
        keep = mask.bool()[..., None]  # (n, m, 1)
        x, y = x * keep, y * keep
    if kind == "mse":
        return F.mse_loss(x, y)
    return F.kl_div(x, y, reduction="batchmean")
