"""Stopping a run on Ctrl-C (SIGINT) or SIGTERM (what SLURM sends before it kills a job) without
losing a step: the signal is noted, the current step finishes, a resumable checkpoint is written
at that step boundary and the run ends with ``RunInterrupted`` (one line for the user). A second
signal while the checkpoint is being written is ignored until it is complete."""
from __future__ import annotations

import signal
import threading
from typing import Any, Callable

import lightning as L
from lightning.pytorch.callbacks import Callback

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_STATUS = 130
"""Exit status of an interrupted run (128 + SIGINT, as a shell reports Ctrl-C)."""


class RunInterrupted(Exception):
    """The run was stopped by a signal after writing a resumable checkpoint."""


class StopOnSignal(Callback):
    """On SIGINT/SIGTERM: finish the step, ``save(trainer)`` (e.g. ``last.ckpt``), then raise
    ``RunInterrupted`` before the next step starts. Under DDP the ranks agree on the step (one
    boolean all-reduce per step, only when there is more than one rank)."""

    def __init__(self, save: Callable[[L.Trainer], None], signals: tuple[int, ...] = STOP_SIGNALS):
        self.save, self.signals = save, signals
        self.received: int | None = None
        self.saved_step: int | None = None
        self._previous: dict[int, Any] = {}

    def _note(self, signum: int, frame: Any) -> None:
        self.received = signum

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # handlers can only be set in the main thread
        for s in self.signals:
            self._previous[s] = signal.signal(s, self._note)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous.clear()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        stop = self.received is not None
        if trainer.world_size > 1:
            stop = trainer.strategy.reduce_boolean_decision(stop, all=False)
        if stop and self.saved_step is None:
            self.save(trainer)
            self.saved_step = trainer.global_step

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if self.saved_step is not None:
            raise RunInterrupted(self.message())

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.saved_step is not None:
            raise RunInterrupted(self.message())

    def message(self) -> str:
        name = signal.Signals(self.received).name if self.received else "a signal"
        return (f"stopped by {name} after step {self.saved_step}: a resumable checkpoint is written; "
                "run the same command again to continue")
