"""Experiment loggers shared by train.py and test.py: CSV (default), TensorBoard, wandb, none."""
from __future__ import annotations

from pathlib import Path

LOGGERS = ("csv", "tensorboard", "wandb", "none")


def make_logger(kind: str, out_dir: Path, name: str):
    """A Lightning logger writing under ``out_dir/logs`` (wandb: offline mode with
    ``WANDB_MODE=offline`` needs no account), or False for ``none``."""
    from lightning.pytorch import loggers

    if kind == "csv":
        return loggers.CSVLogger(out_dir, name="logs")
    if kind == "tensorboard":
        return loggers.TensorBoardLogger(out_dir, name="logs")
    if kind == "wandb":
        return loggers.WandbLogger(project="glim", name=name, save_dir=str(out_dir))
    if kind == "none":
        return False
    raise ValueError(f"unknown logger {kind!r}: use one of {', '.join(LOGGERS)}")
