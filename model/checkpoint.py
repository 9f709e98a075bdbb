"""Loading GLIM checkpoints (ours or the published one) and BrainTranslator checkpoints strictly,
with clear errors."""
from __future__ import annotations

from pathlib import Path

import torch

from infra.checkpoint_io import CheckpointError, first_line, read_checkpoint
from model.brain_translator_config import HPARAM_NAMES as BRAIN_TRANSLATOR_HPARAMS
from model.brain_translator_module import BrainTranslator
from model.config import HPARAM_NAMES
from model.glim import GLIM
from model.text_source import TextModelError

RESUME_FREE_HPARAMS = frozenset({"text_model_id"})
"""Hyper-parameters a resumed run may change (the text model may have moved)."""


def glim_from_checkpoint(path: str | Path, text_model: str | None = None,
                         attach_text: bool = True) -> GLIM:
    """Build GLIM from a checkpoint's hyper-parameters and load its tensors strictly: every tensor
    must be used and every GLIM tensor present, else ``CheckpointError`` names the first mismatch.
    ``text_model`` (hub id or local directory) replaces the checkpoint's ``text_model_id``."""
    ckpt = read_checkpoint(path)
    hp = dict(ckpt["hyper_parameters"])
    _check_names(path, hp, HPARAM_NAMES)
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
    check_tensors(own, state, path, "GLIM")
    model = GLIM(**hp)  # as large as the tensors the file holds
    model.load_state_dict(state, strict=True)
    model.run_info = ckpt.get("glim_run")  # seed and resolved config of the training run, if saved
    if attach_text:
        model.attach_text_model(text_model)
    return model


def brain_translator_from_checkpoint(path: str | Path, text_model: str | None = None) -> BrainTranslator:
    """The BrainTranslator baseline of a checkpoint, loaded strictly like ``glim_from_checkpoint``.
    Its BART weights are in the checkpoint: ``text_model`` (default: the checkpoint's
    ``text_model_id``) only gives the architecture and the tokenizer."""
    ckpt = read_checkpoint(path)
    hp = dict(ckpt["hyper_parameters"])
    _check_names(path, hp, BRAIN_TRANSLATOR_HPARAMS)
    if text_model is not None:
        hp["text_model_id"] = text_model
    try:
        model = BrainTranslator(load_weights=False, **hp)
    except TextModelError:
        raise
    except Exception as e:  # hyper-parameters of a damaged or foreign checkpoint
        raise CheckpointError(f"{path}: its hyper-parameters do not build the BrainTranslator "
                              f"({first_line(e)})") from None
    load_strictly(model, ckpt["state_dict"], path, "the BrainTranslator")
    model.run_info = ckpt.get("glim_run")
    return model


def _check_names(path: str | Path, hp: dict, names: frozenset[str]) -> None:
    unknown = sorted(str(k) for k in set(hp) - names)
    if unknown:
        raise CheckpointError(f"{path} was saved by another architecture: unknown hyper-parameters {unknown}")


def load_strictly(model: torch.nn.Module, state: dict, path: str | Path, name: str) -> None:
    """Load ``state`` into ``model``: every tensor must be used and every model tensor present,
    of the same shape, else ``CheckpointError`` names the first mismatch."""
    check_tensors(model.state_dict(), state, path, name)
    model.load_state_dict(state, strict=True)


def check_tensors(own: dict, state: dict, path: str | Path, name: str) -> None:
    """``CheckpointError`` naming the first tensor of ``state`` that has no place or another shape
    in the model whose state dict is ``own`` (tensors on any device, meta included), or the first
    model tensor ``state`` lacks."""
    for key, tensor in state.items():
        if key not in own:
            raise CheckpointError(f"{path}: tensor {key!r} {tuple(tensor.shape)} has no place in {name} "
                                  "(another architecture?)")
        if tuple(tensor.shape) != tuple(own[key].shape):
            raise CheckpointError(f"{path}: tensor {key!r} has shape {tuple(tensor.shape)}, {name} "
                                  f"expects {tuple(own[key].shape)}")
    missing = [k for k in own if k not in state]
    if missing:
        raise CheckpointError(f"{path}: {name} tensor {missing[0]!r} is missing from the checkpoint "
                              f"({len(missing)} missing in all)")
