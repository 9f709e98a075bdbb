"""Faults injected into train.py runs started by the tests, through Lightning's external callbacks
(entry-point group ``lightning.pytorch.callbacks_factory``), so GLIM itself carries no test hook.

``install(directory)`` writes the distribution metadata that makes Lightning call ``callbacks``
in every process that has ``directory`` on its ``PYTHONPATH``. ``GLIM_TEST_FAULT=KIND:RANK:STEP``
then makes global rank RANK, before optimizer step STEP, raise a ``RuntimeError`` (``raise``) or
SIGKILL itself (``kill``). Without the variable the callback does nothing."""
from __future__ import annotations

import os
import signal
from pathlib import Path

from lightning.pytorch.callbacks import Callback

FAULT_ENV = "GLIM_TEST_FAULT"
ENTRY_GROUP = "lightning.pytorch.callbacks_factory"


class InjectFault(Callback):
    """Raises or SIGKILLs on one rank before one step."""

    def __init__(self, kind: str, rank: int, step: int):
        self.kind, self.rank, self.step = kind, rank, step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_rank != self.rank or trainer.global_step != self.step:
            return
        if self.kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise RuntimeError(f"injected fault on rank {self.rank} before step {self.step}")


def callbacks() -> list[Callback]:
    """The entry point: the fault ``GLIM_TEST_FAULT`` asks for, if any."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return []
    kind, rank, step = spec.split(":")
    return [InjectFault(kind, int(rank), int(step))]


def install(directory: Path) -> Path:
    """A distribution ``glim-test-faults`` in ``directory`` whose entry point is ``callbacks``;
    put ``directory`` on ``PYTHONPATH`` (with the project root, for this module)."""
    info = directory / "glim_test_faults-0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: glim-test-faults\nVersion: 0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_GROUP}]\nfaults = tests.fault_plugin:callbacks\n")
    return directory
