"""Faults injected into train.py runs started by the tests, through Lightning's external callbacks
(entry-point group ``lightning.pytorch.callbacks_factory``), so GLIM itself carries no test hook.

``install(directory)`` writes the distribution metadata that makes Lightning call ``callbacks``
in every process that has ``directory`` on its ``PYTHONPATH``. ``GLIM_TEST_FAULT=KIND:RANK:STEP``
then makes global rank RANK, before optimizer step STEP, raise a ``RuntimeError`` (``raise``) or
SIGKILL itself (``kill``). ``GLIM_TEST_WRITES=DIR:LOG`` makes every rank but 0 append to LOG each
file it opens for writing, renames or removes under DIR (Python's audit events, from the
trainer's creation on). Without the variables nothing happens."""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from lightning.pytorch.callbacks import Callback

FAULT_ENV = "GLIM_TEST_FAULT"
WRITES_ENV = "GLIM_TEST_WRITES"
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


def record_writes(under: str, log: str) -> None:
    """On ranks other than 0, append ``rank event path`` to ``log`` for each write under ``under``."""
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            writes = any(c in (mode or "") for c in "wax+") or bool((flags or 0) & (os.O_WRONLY | os.O_RDWR))
        elif event in ("os.rename", "os.remove", "os.mkdir", "os.rmdir"):
            path, writes = args[1] if event == "os.rename" else args[0], True
        else:
            return
        inside = isinstance(path, (str, Path)) and os.path.abspath(path).startswith(os.path.join(under, ""))
        if writes and inside and rank_zero_only.rank != 0:
            with open(log, "a") as f:
                f.write(f"rank {rank_zero_only.rank} {event} {path}\n")

    sys.addaudithook(hook)


def callbacks() -> list[Callback]:
    """The entry point: the fault ``GLIM_TEST_FAULT`` asks for, if any, after setting up the
    write records ``GLIM_TEST_WRITES`` asks for."""
    if os.environ.get(WRITES_ENV):
        record_writes(*os.environ[WRITES_ENV].rsplit(":", 1))
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
