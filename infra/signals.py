"""Stopping a run on a signal without losing a step.

SIGINT (Ctrl-C) and SIGTERM (``kill``, ``scancel``, a preemption, the end of a job's time) stop
the run: the signal is noted, the current step finishes, a resumable checkpoint is written at that
step boundary and the run ends with ``RunInterrupted`` (one line for the user, exit status 130).
SIGUSR1, what ``#SBATCH --signal=USR1@90`` makes SLURM send 90 s before a job's time limit, does
the same and then requeues the SLURM job (``scontrol requeue``, once, from rank 0): the requeued
job starts the same command again and continues from the checkpoint.

Under DDP the ranks agree on the step (one boolean all-reduce per step, only with more than one
rank), so one rank receiving the signal is enough. During training these handlers replace
Lightning's own for SIGTERM and SIGUSR1 (Lightning's SLURM requeue saves from inside the signal
handler, in the middle of a step, and its SIGTERM handling ends the process with status 0); the
handlers found before the run are back when it ends. A second signal is noted, nothing more."""
from __future__ import annotations

import signal
import threading
from typing import Any, Callable

import lightning as L
from lightning.pytorch.callbacks import Callback

from infra.slurm import requeue_slurm_job

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
REQUEUE_SIGNALS = (signal.SIGUSR1,)
EXIT_STATUS = 130
"""Exit status of an interrupted run (128 + SIGINT, as a shell reports Ctrl-C)."""


class RunInterrupted(Exception):
    """The run was stopped by a signal after writing a resumable checkpoint."""


class StopOnSignal(Callback):
    """On any of ``signals`` or ``requeue_signals``: finish the step, ``save(trainer)`` (e.g.
    ``last.ckpt``), after a requeue signal ``requeue()`` on global rank 0, then raise
    ``RunInterrupted`` before the next step starts."""

    def __init__(self, save: Callable[[L.Trainer], None], signals: tuple[int, ...] = STOP_SIGNALS,
                 requeue_signals: tuple[int, ...] = REQUEUE_SIGNALS,
                 requeue: Callable[[], str] = requeue_slurm_job):
        self.save, self.signals, self.requeue_signals, self.requeue = save, signals, requeue_signals, requeue
        self.received: int | None = None
        self.requeue_asked = False
        self.saved_step: int | None = None
        self.requeued: str | None = None
        self._original: dict[int, Any] = {}

    def _note(self, signum: int, frame: Any) -> None:
        if self.received is None:
            self.received = signum
        self.requeue_asked |= signum in self.requeue_signals

    def _install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # handlers can only be set in the main thread
        for s in (*self.signals, *self.requeue_signals):
            previous = signal.signal(s, self._note)
            self._original.setdefault(s, previous)

    def _restore(self) -> None:
        for s, handler in self._original.items():
            signal.signal(s, handler)
        self._original.clear()

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._install()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._install()  # again: Lightning sets its handlers between on_fit_start and here

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._restore()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        trainer._signal_connector.teardown()  # Lightning's restores ours otherwise, after this hook
        self._restore()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        if self.saved_step is not None:
            return
        stop, requeue = self.received is not None, self.requeue_asked
        if trainer.world_size > 1:
            stop = trainer.strategy.reduce_boolean_decision(stop, all=False)
            if stop:  # every rank is here
                requeue = trainer.strategy.reduce_boolean_decision(requeue, all=False)
        if not stop:
            return
        self.save(trainer)
        self.saved_step = trainer.global_step
        if requeue:
            self.requeued = self.requeue() if trainer.is_global_zero else "rank 0 requeues the SLURM job"

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if self.saved_step is not None:
            raise RunInterrupted(self.message())

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.saved_step is not None:
            raise RunInterrupted(self.message())

    def message(self) -> str:
        name = signal.Signals(self.received).name if self.received else "a signal on another rank"
        return (f"stopped by {name} after step {self.saved_step}: a resumable checkpoint is written; "
                + (self.requeued or "run the same command again to continue"))
