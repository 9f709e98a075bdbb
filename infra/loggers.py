"""Experiment loggers shared by train.py and test.py: CSV (default), TensorBoard, wandb, none.

Every logger writes under ``<out_dir>/logs``: CSV and TensorBoard in ``logs/version_N/``, wandb in
``logs/wandb/``. wandb runs offline (no account, no network) unless ``WANDB_API_KEY`` is set or
``WANDB_MODE`` says otherwise; ``wandb sync <out_dir>/logs/wandb/offline-run-*`` uploads later."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from infra.errors import OptionError

LOGGERS = ("csv", "tensorboard", "wandb", "none")
NEEDS = {"tensorboard": ("tensorboard", "tensorboard"), "wandb": ("wandb", "wandb")}
"""Logger → (module it needs, pip package that provides it)."""


def check_logger(kind: str) -> None:
    """Raise ``OptionError`` (one line) for an unknown logger or one whose package is missing."""
    if kind not in LOGGERS:
        raise OptionError(f"unknown logger {kind!r}: use one of {', '.join(LOGGERS)}")
    module, package = NEEDS.get(kind, (None, None))
    if module and importlib.util.find_spec(module) is None:
        raise OptionError(f"--logger {kind} needs the {package} package: `pip install {package}` "
                         "(it is in environment.yml; `make env` installs it)")


def wandb_offline() -> bool:
    """Offline unless ``WANDB_MODE`` asks otherwise or an API key is set."""
    mode = os.environ.get("WANDB_MODE")
    return mode in ("offline", "disabled", "dryrun") if mode else not os.environ.get("WANDB_API_KEY")


def make_logger(kind: str, out_dir: Path, name: str):
    """A Lightning logger writing under ``out_dir/logs``, or False for ``none``."""
    from lightning.pytorch import loggers

    check_logger(kind)
    logs = Path(out_dir) / "logs"
    if kind == "csv":
        return loggers.CSVLogger(out_dir, name="logs")
    if kind == "tensorboard":
        return loggers.TensorBoardLogger(out_dir, name="logs")
    if kind == "wandb":
        logs.mkdir(parents=True, exist_ok=True)
        return loggers.WandbLogger(project="glim", name=name, save_dir=str(logs), offline=wandb_offline())
    return False
