"""Where a text model comes from (a local directory or a hub id) and the one-line errors that
say how to download it. Light (no torch): the command lines check it before loading anything."""
from __future__ import annotations

import os
from pathlib import Path

from infra.errors import GLIMError
from model.config import DEFAULT_TEXT_MODEL


class TextModelError(GLIMError, RuntimeError):
    """The text model cannot be loaded or does not fit the GLIM configuration."""


def unavailable_message(what: str, name_or_path: str, flag: str, error: Exception) -> str:
    """One line: what could not be loaded, why, and how to download it for ``flag``."""
    local = f"checkpoints/{name_or_path.rstrip('/').split('/')[-1]}"
    return (f"{what} {name_or_path!r} could not be loaded ({str(error).splitlines()[0][:160]}); "
            f"with network run `hf download {name_or_path} --local-dir {local}` and "
            f"pass {flag} {local}")


def model_source(name_or_path: str, label: str = "text model", example: str = DEFAULT_TEXT_MODEL,
                 error: type[Exception] = TextModelError) -> str:
    """The directory or hub id to load from; a local path must hold a downloaded model, else
    ``error`` says what to download there."""
    path = Path(name_or_path).expanduser()
    looks_local = path.exists() or name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1
    if not looks_local:
        return name_or_path
    if not (path / "config.json").is_file():
        raise error(f"{label} directory {name_or_path} has no config.json: download the model there "
                    f"(e.g. `hf download {example} --local-dir {name_or_path}`)")
    return str(path)


def check_text_model(name_or_path: str, label: str = "text model", flag: str = "--text-model",
                     error: type[Exception] = TextModelError) -> None:
    """Fail fast, before anything is loaded: a local directory must hold a model, and under
    ``HF_HUB_OFFLINE=1`` a hub id must be in the local cache."""
    source = model_source(name_or_path, label, error=error)
    if Path(source).is_dir() or os.environ.get("HF_HUB_OFFLINE", "0").lower() not in ("1", "true", "yes"):
        return
    from huggingface_hub import try_to_load_from_cache

    if not isinstance(try_to_load_from_cache(name_or_path, "config.json"), str):
        raise error(unavailable_message(label, name_or_path, flag,
                                        OSError("not in the local cache and HF_HUB_OFFLINE=1")))
