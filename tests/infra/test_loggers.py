"""Experiment loggers: unknown kinds and missing packages are one-line errors; wandb runs offline
into <out_dir>/logs/wandb."""
from __future__ import annotations

import importlib.util

import pytest

from infra import loggers


def test_unknown_logger_is_one_line():
    with pytest.raises(ValueError, match="unknown logger 'foo': use one of csv, tensorboard, wandb, none"):
        loggers.check_logger("foo")


def test_missing_package_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(ValueError, match=r"--logger wandb needs the wandb package: `pip install wandb`"):
        loggers.check_logger("wandb")


@pytest.mark.skipif(importlib.util.find_spec("wandb") is None, reason="wandb is not installed")
def test_wandb_offline_writes_under_logs_wandb(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    logger = loggers.make_logger("wandb", tmp_path, "probe")
    logger.log_metrics({"val/loss": 1.5}, step=0)
    logger.finalize("success")
    logger.experiment.finish()
    runs = list((tmp_path / "logs" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))
    assert not (tmp_path / "wandb").exists()
