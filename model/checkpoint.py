"""Loading GLIM checkpoints (ours or the published one) strictly, with clear errors."""
from __future__ import annotations

from pathlib import Path

import torch

from infra.checkpoint_io import CheckpointError, first_line, read_checkpoint
from model.config import HPARAM_NAMES
from model.glim import GLIM

RESUME_FREE_HPARAMS = frozenset({"text_model_id"})
"""Hyper-parameters a resumed run may change (the text model may have moved)."""


def glim_from_checkpoint(path: str | Path, text_model: str | None = None,
                         attach_text: bool = True) -> GLIM:
    """Build GLIM from a checkpoint's hyper-parameters and load its tensors strictly: every tensor
    must be used and every GLIM tensor present, else ``CheckpointError`` names the first mismatch.
    ``text_model`` (hub id or local directory) replaces the checkpoint's ``text_model_id``."""
    ckpt = read_checkpoint(path)
    hp = dict(ckpt["hyper_parameters"])
    unknown = sorted(str(k) for k in set(hp) - HPARAM_NAMES)
    if unknown:
        raise CheckpointError(f"{path} was saved by another architecture: unknown hyper-parameters {unknown}")
    state = ckpt["state_dict"]
    for key in ("n_in_blocks", "n_out_blocks"):  # building a block takes time even on the meta device
        if isinstance(hp.get(key), int) and hp[key] > len(state):
            raise CheckpointError(f"{path} declares {key}={hp[key]} but holds {len(state)} tensors in all")
    try:  # shapes first, on the meta device: the sizes hyper-parameters declare allocate nothing
        with torch.device("meta"):
            own = GLIM(**hp).state_dict()
    except Exception as e:  # hyper-parameters of a damaged or foreign checkpoint
        raise CheckpointError(f"{path}: its hyper-parameters do not build GLIM "
                              f"({first_line(e)})") from None
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
    model = GLIM(**hp)  # as large as the tensors the file holds
    model.load_state_dict(state, strict=True)
    model.run_info = ckpt.get("glim_run")  # seed and resolved config of the training run, if saved
    if attach_text:
        model.attach_text_model(text_model)
    return model
