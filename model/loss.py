"""GLIM's losses as pure functions of tensors."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def similarity(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cosine-similarity matrix (n, m) of row vectors x (n, d) and y (m, d)."""
    return F.normalize(x.float(), dim=-1) @ F.normalize(y.float(), dim=-1).T


def clip_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Symmetric contrastive loss of paired rows, cosine logits without temperature."""
    logits = similarity(x, y)  # (n, n)
    target = torch.arange(len(x), device=x.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def commitment_loss(x: torch.Tensor, y: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """Distance between the EEG embeddings (n, m, d) and the text encoder states (n, m, d)."""
    if kind == "mse":
        return F.mse_loss(x.float(), y.float())
    if kind == "cosine":
        return (1 - F.cosine_similarity(x.float(), y.float(), dim=-1)).mean()
    raise ValueError(f"unknown commitment loss {kind!r} (use 'mse' or 'cosine')")
