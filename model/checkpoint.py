"""Loading GLIM checkpoints (ours or the published one) strictly, with clear errors."""
from __future__ import annotations

import inspect
from pathlib import Path

import torch

from .glim import GLIM


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable or of another architecture."""


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint dict (``hyper_parameters`` + ``state_dict``), loaded with ``weights_only``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, foreign pickle, ...
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(e).__name__}: "
                              f"{str(e).splitlines()[0][:200]}); it is truncated or not a GLIM checkpoint") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "hyper_parameters" not in ckpt:
        raise CheckpointError(f"{path} is not a Lightning checkpoint with hyper_parameters and state_dict")
    return ckpt


def glim_from_checkpoint(path: str | Path, text_model: str | None = None,
                         attach_text: bool = True) -> GLIM:
    """Build GLIM from a checkpoint's hyper-parameters and load its tensors strictly: every tensor
    must be used and every GLIM tensor present, else ``CheckpointError`` names the first mismatch.
    ``text_model`` (hub id or local directory) replaces the checkpoint's ``text_model_id``."""
    ckpt = read_checkpoint(path)
    hp = dict(ckpt["hyper_parameters"])
    known = set(inspect.signature(GLIM.__init__).parameters) - {"self"}
    unknown = sorted(set(hp) - known)
    if unknown:
        raise CheckpointError(f"{path} was saved by another architecture: unknown hyper-parameters {unknown}")
    try:
        model = GLIM(**hp)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: its hyper-parameters do not build GLIM ({e})") from None
    own = model.state_dict()
    state = ckpt["state_dict"]
    for name, tensor in state.items():
        if name not in own:
            raise CheckpointError(f"{path}: tensor {name!r} {tuple(tensor.shape)} has no place in GLIM "
                                  "(another architecture?)")
        if tuple(tensor.shape) != tuple(own[name].shape):
            raise CheckpointError(f"{path}: tensor {name!r} has shape {tuple(tensor.shape)}, GLIM "
                                  f"expects {tuple(own[name].shape)}")
    missing = [k for k in own if k not in state]
    if missing:
        raise CheckpointError(f"{path}: GLIM tensor {missing[0]!r} is missing from the checkpoint "
                              f"({len(missing)} missing in all)")
    model.load_state_dict(state, strict=True)
    if attach_text:
        model.attach_text_model(text_model)
    return model
