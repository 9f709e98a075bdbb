"""Checkpoint files of any Lightning run: reading one safely (checksums verified, ``weights_only``),
checking that it can continue a run with given hyper-parameters, and Lightning's checkpoint IO
with atomic saves and weights-only loads."""
from __future__ import annotations

import errno
import json
import zipfile
from pathlib import Path
from typing import Any, Callable, Collection, Mapping, Optional

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from infra.atomic import WriteError, atomic_open, free_bytes, write_error
from infra.errors import GLIMError

TRAINING_STATE_KEYS = ("epoch", "global_step", "loops", "optimizer_states")
"""What a checkpoint needs beyond the weights to continue training."""


class CheckpointError(GLIMError, RuntimeError):
    """A checkpoint is missing, unreadable or of another architecture."""


class CorruptCheckpointError(CheckpointError):
    """A checkpoint file is truncated, damaged or not a checkpoint at all."""


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:120] if text else ''}"


def _check_zip_crc(path: Path) -> None:
    """Verify the CRC-32 of every member of a zip-format checkpoint (``torch.load`` does not)."""
    if not zipfile.is_zipfile(path):
        return  # truncated or legacy format: torch.load decides
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.CRC == 0:  # saved without checksums
                    continue
                with archive.open(info) as member:
                    while member.read(1 << 24):
                        pass
    except Exception as e:  # bad CRC, damaged header, ...
        raise CorruptCheckpointError(f"checkpoint {path} is damaged ({first_line(e)}); it was "
                                     "corrupted on disk or in transfer") from None


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint dict (``hyper_parameters`` + ``state_dict``), loaded with ``weights_only``
    after checking the file's checksums."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    _check_zip_crc(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, foreign pickle, ...
        raise CorruptCheckpointError(f"checkpoint {path} cannot be read ({first_line(e)}); it is "
                                     "truncated or not a GLIM checkpoint") from None
    if not (isinstance(ckpt, dict) and isinstance(ckpt.get("state_dict"), dict)
            and isinstance(ckpt.get("hyper_parameters"), Mapping)):
        raise CorruptCheckpointError(f"{path} is not a Lightning checkpoint with hyper_parameters "
                                     "and state_dict")
    bad = next((k for k, v in ckpt["state_dict"].items()
                if not isinstance(k, str) or not isinstance(v, torch.Tensor)), None)
    if bad is not None:
        raise CorruptCheckpointError(f"{path}: state_dict entry {str(bad)[:80]!r} is not a named tensor")
    return ckpt


def _plain(value: Any) -> Any:
    """JSON-comparable form (tuples become lists)."""
    return json.loads(json.dumps(value, default=str))


def check_resumable(path: str | Path, hparams: Mapping[str, Any], free: Collection[str] = (),
                    keep: Collection[str] = ()) -> dict[str, Any]:
    """Check that ``path`` can continue a run whose model is configured by ``hparams``; returns its
    ``epoch`` and ``global_step`` (and the entries named in ``keep``, None if absent).
    ``CorruptCheckpointError`` if the file is damaged,
    ``CheckpointError`` if it holds weights only or was trained with other hyper-parameters
    (those in ``free`` may differ)."""
    ckpt = read_checkpoint(path)
    missing = [k for k in TRAINING_STATE_KEYS if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path} holds weights only (no {missing[0]!r}), not a training state "
                              "to resume from")
    saved, wanted = _plain(dict(ckpt["hyper_parameters"])), _plain(dict(hparams))
    for key in sorted((set(saved) | set(wanted)) - set(free)):
        if saved.get(key) != wanted.get(key):
            raise CheckpointError(f"{path} was trained with model.{key}={saved.get(key)!r} but the "
                                  f"configuration says {wanted.get(key)!r}: resume with that run's "
                                  "config.yaml")
    return {"epoch": int(ckpt["epoch"]), "global_step": int(ckpt["global_step"]),
            **{k: ckpt.get(k) for k in keep}}


def checkpoint_bytes(checkpoint: Any) -> int:
    """The bytes of the tensors in ``checkpoint`` (nested dicts, lists, tuples): about its size."""
    if isinstance(checkpoint, torch.Tensor):
        return checkpoint.numel() * checkpoint.element_size()
    if isinstance(checkpoint, Mapping):
        return sum(checkpoint_bytes(v) for v in checkpoint.values())
    if isinstance(checkpoint, (list, tuple)):
        return sum(checkpoint_bytes(v) for v in checkpoint)
    return 0


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint IO: ``torch.save`` into a temporary file, then an atomic replace, so
    a crash while saving never leaves a truncated checkpoint where a good one was, and a full disk
    is a one-line ``WriteError``. Loading uses
    ``weights_only=True`` (no pickled code) unless the caller passes ``weights_only=False``."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path,
                        storage_options: Optional[Any] = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} does not take storage_options")
        needed = checkpoint_bytes(checkpoint)
        try:
            with atomic_open(path, "wb", needed=needed) as f:
                torch.save(checkpoint, f)
        except RuntimeError as e:  # torch's writer reports a full disk as a failed "enforce"
            if isinstance(e, WriteError) or (free_bytes(Path(path).parent) or 0) >= needed:
                raise
            raise write_error(OSError(errno.ENOSPC, "no space left"), path, needed) from None

    def load_checkpoint(self, path: str | Path, map_location: Optional[Callable] = lambda s, _: s,
                        weights_only: Optional[bool] = None) -> dict[str, Any]:
        return super().load_checkpoint(path, map_location=map_location,
                                       weights_only=True if weights_only is None else weights_only)
