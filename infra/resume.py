"""What exact resumption needs beyond Lightning's ``ckpt_path=``: ``last.ckpt`` after every epoch
(or every N steps), the global RNG states inside the checkpoint, a train loader that follows the
trainer's epoch and skips the batches a mid-epoch checkpoint already trained, and the run's seed
and resolved configuration inside every checkpoint. ``resume_path`` decides where a run
continues from (``--resume``/``--overwrite`` of train.py)."""
from __future__ import annotations

import csv
import random
from itertools import islice
from pathlib import Path
from typing import Any, Collection, Iterator, Mapping

import lightning as L
import numpy as np
import torch
from lightning.fabric.utilities.apply_func import convert_tensors_to_scalars
from lightning.pytorch.callbacks import Callback, Checkpoint
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, Sampler

from infra.checkpoint_io import CorruptCheckpointError, check_resumable
from infra.errors import GLIMError

RUN_KEY = "glim_run"
"""Checkpoint key holding ``{"seed": ..., "config": {...}, "log_version": ...}`` (plain types)."""
PENDING_LOG_KEY = "pending_log_row"
"""Checkpoint key of the log row of the checkpoint's own step: a checkpoint written at a step's
end precedes that step's row in the logger, so the row travels in the checkpoint."""


class RunDirError(GLIMError, ValueError):
    """The output directory and the resume options do not fit together."""


class LastCheckpoint(Checkpoint):
    """Keeps ``path`` (``last.ckpt``) current: written at the end of every train epoch and, with
    ``every_n_steps``, every N optimizer steps."""

    def __init__(self, path: str | Path, every_n_steps: int = 0):
        self.path = Path(path)
        self.every_n_steps = every_n_steps
        self._saved_step = -1
        self._pending: dict[str, Any] | None = None

    @property
    def state_key(self) -> str:
        return self._generate_state_key(path=self.path.name)

    def _save(self, trainer: L.Trainer, at_step_end: bool = False) -> None:
        if trainer.sanity_checking or trainer.fast_dev_run:
            return
        for logger in trainer.loggers:  # the rows so far are on disk before the checkpoint
            logger.save()
        self._pending = {"rows": logged_rows(trainer),
                         "row": pending_log_row(trainer) if at_step_end else None}
        trainer.save_checkpoint(self.path, weights_only=False)
        self._pending = None
        self._saved_step = trainer.global_step

    def save_now(self, trainer: L.Trainer) -> None:
        """Write ``path`` at the end of the current step (a stop on a signal)."""
        self._save(trainer, at_step_end=True)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           checkpoint: dict[str, Any]) -> None:
        if self._pending is not None:
            checkpoint[PENDING_LOG_KEY] = self._pending

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        step = trainer.global_step
        if self.every_n_steps and step % self.every_n_steps == 0 and step != self._saved_step:
            self._save(trainer, at_step_end=True)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer)


def pending_log_row(trainer: L.Trainer) -> dict[str, Any] | None:
    """The row Lightning logs right after ``on_train_batch_end`` (``{"step", "metrics"}``, plain
    numbers), as its logger connector will compute it; None when this step logs nothing."""
    connector = trainer._logger_connector
    if connector._first_loop_iter is None or not connector.should_update_logs:
        return None
    metrics = convert_tensors_to_scalars(dict(connector.metrics["log"]))
    if not metrics:
        return None
    step = metrics.pop("step", None)
    if step is None:
        metrics.setdefault("epoch", trainer.current_epoch)
        step = trainer.fit_loop.epoch_loop._batches_that_stepped
    return {"step": int(step), "metrics": {k: v for k, v in metrics.items()}}


def logged_rows(trainer: L.Trainer) -> int | None:
    """Rows in the CSV logger's ``metrics.csv`` (None without a CSV logger)."""
    for logger in trainer.loggers:
        if isinstance(logger, CSVLogger):
            path = Path(logger.log_dir) / "metrics.csv"
            if not path.is_file():
                return 0
            with open(path, newline="") as f:
                return sum(1 for _ in csv.DictReader(f))
    return None


class ContinuedCSVLogger(CSVLogger):
    """A CSV logger that continues the log of an interrupted run in its version directory: the
    rows on disk when the checkpoint was written (``log_state["rows"]``; without it, the rows of
    the steps before ``first_step``) and the checkpoint's pending row are kept, the resumed run
    logs the rest again, so the run has one ``metrics.csv``, one curve."""

    def __init__(self, save_dir: str | Path, name: str, version: int, first_step: int,
                 log_state: Mapping[str, Any] | None = None):
        super().__init__(save_dir, name=name, version=version)
        path = Path(self.log_dir) / "metrics.csv"
        rows: list[dict[str, Any]] = []
        if path.is_file():
            with open(path, newline="") as f:
                rows = list(csv.DictReader(f))
        state = log_state or {}
        if isinstance(state.get("rows"), int):
            self._kept = rows[: state["rows"]]
        else:
            self._kept = [row for row in rows if _step(row) < first_step]
        if state.get("row"):
            self._kept.append({**state["row"]["metrics"], "step": state["row"]["step"]})

    @property
    def experiment(self):  # the writer is created lazily; it deletes metrics.csv, so refill it
        fresh = self._experiment is None
        writer = super().experiment  # on ranks other than 0 a dummy, and ``_experiment`` stays None
        if fresh and self._experiment is not None and self._kept:
            writer.metrics = self._kept + writer.metrics
            self._kept = []
        return writer


def _step(row: Mapping[str, Any]) -> int:
    try:
        return int(float(row.get("step", "")))
    except ValueError:
        return -1


class RngState(Callback):
    """Stores the global RNG states (torch, CUDA, numpy, random) in checkpoints and restores them on
    resume. Everything is a tensor or a plain Python value, so checkpoints load with
    ``weights_only=True``."""

    def state_dict(self) -> dict[str, Any]:
        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        version, internal, gauss_next = random.getstate()
        return {"torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos),
                          int(has_gauss), float(gauss)],
                "python": [version, list(internal), gauss_next]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        torch.set_rng_state(state["torch"])
        if state["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
        kind, keys, pos, has_gauss, gauss = state["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
        version, internal, gauss_next = state["python"]
        random.setstate((version, tuple(internal), gauss_next))


class RunInfo(Callback):
    """Writes ``info`` (seed and resolved configuration) into every checkpoint under ``RUN_KEY``."""

    def __init__(self, info: dict[str, Any]):
        self.info = info

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           checkpoint: dict[str, Any]) -> None:
        checkpoint[RUN_KEY] = self.info


class ResumableBatches(Sampler[list[int]]):
    """A batch sampler wrapper. Lightning sets the epoch of ``loader.batch_sampler.sampler``, so
    exposing the wrapped batch sampler as ``sampler`` lets it reshuffle per epoch. Every iterator
    made while the wrapped sampler is at ``epoch`` drops the ``skip`` batches a mid-epoch
    checkpoint already trained: the skip is keyed on the epoch, not spent on the first call (a
    loader with workers asks for an iterator twice when it starts and consumes the second)."""

    def __init__(self, batches: Sampler[list[int]], skip: int = 0, epoch: int = 0):
        self.sampler = batches
        self.skip, self.skip_epoch = skip, epoch
        self._epoch = epoch

    def set_epoch(self, epoch: int) -> None:
        self._epoch = epoch
        if callable(getattr(self.sampler, "set_epoch", None)):
            self.sampler.set_epoch(epoch)

    @property
    def epoch(self) -> int:
        """The wrapped sampler's epoch (Lightning sets it there), else the last one set here."""
        return getattr(self.sampler, "epoch", self._epoch)

    def __iter__(self) -> Iterator[list[int]]:
        if self.epoch != self.skip_epoch:
            self.skip = 0  # a later epoch: the interrupted one is over
        return islice(iter(self.sampler), self.skip, None)

    def __len__(self) -> int:  # the full epoch: Lightning counts the skipped batches as done
        return len(self.sampler)


def resume_point(trainer: L.Trainer | None) -> tuple[int, int]:
    """(epoch, batches of it already trained) where training goes on: (0, 0) for a fresh run;
    after a restored checkpoint, the epoch it left off and, if it was written mid-epoch, the
    batches of that epoch it had trained."""
    if trainer is None:
        return 0, 0
    epoch = trainer.fit_loop.epoch_progress.current
    if epoch.started == epoch.processed:
        return epoch.processed, 0
    return epoch.processed, trainer.fit_loop.epoch_loop.batch_progress.current.processed


def resumable_loader(loader: DataLoader, epoch: int = 0, skip: int = 0) -> DataLoader:
    """``loader`` with its batch sampler set to ``epoch`` and wrapped in ``ResumableBatches``.
    (Lightning creates the first iterator of a fit before it sets the epoch, so a resumed run
    would replay epoch 0's order without this.)"""
    batches = ResumableBatches(loader.batch_sampler, skip, epoch)
    batches.set_epoch(epoch)
    workers = loader.num_workers
    return DataLoader(loader.dataset, batch_sampler=batches, collate_fn=loader.collate_fn,
                      num_workers=workers, pin_memory=loader.pin_memory, timeout=loader.timeout,
                      worker_init_fn=loader.worker_init_fn, generator=loader.generator,
                      multiprocessing_context=loader.multiprocessing_context,
                      prefetch_factor=loader.prefetch_factor if workers else None,
                      persistent_workers=loader.persistent_workers)


class ResumableTrainLoader:
    """LightningDataModule mixin: the train loader reshuffles per epoch and resumes mid-epoch."""

    trainer: L.Trainer | None

    def train_dataloader(self) -> DataLoader:
        return resumable_loader(super().train_dataloader(), *resume_point(self.trainer))


def checkpoints_in(out_dir: Path) -> list[Path]:
    """The checkpoints of ``out_dir``, oldest first."""
    if not out_dir.is_dir():
        return []
    return sorted((p for p in out_dir.glob("*.ckpt") if p.is_file()), key=lambda p: p.stat().st_mtime)


def resume_path(out_dir: Path, resume: str, overwrite: bool) -> Path | None:
    """The checkpoint to continue from (None: start afresh), or ``RunDirError``.

    ``auto``: ``out_dir/last.ckpt`` if it exists; ``last``: it must exist; ``never``: start
    afresh; anything else is a checkpoint path. Starting afresh over checkpoints needs ``overwrite``.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise RunDirError(f"--out_dir {out_dir} is a file: choose a directory")
    held = checkpoints_in(out_dir)
    last = out_dir / "last.ckpt"
    if resume not in ("auto", "never") and overwrite:
        raise RunDirError("--overwrite starts afresh but --resume continues a run: pass only one of them")
    if resume == "never" or overwrite or (resume == "auto" and not last.is_file()):
        if held and not overwrite:
            hint = "--resume to continue from last.ckpt" if last.is_file() else "--resume <checkpoint>"
            raise RunDirError(f"{out_dir} already holds checkpoints ({held[-1].name}): pass {hint}, "
                              "--overwrite to start afresh over them, or another --out_dir")
        return None
    path = last if resume in ("auto", "last") else Path(resume)
    if not path.is_file():
        raise RunDirError(f"nothing to resume: {path} not found; run without --resume to start afresh")
    return path


def check_resume(path: Path, hparams: Mapping[str, Any], free: Collection[str] = ()) -> dict[str, Any]:
    """``check_resumable`` with advice: a damaged checkpoint points to the previous one. Returns
    ``epoch``, ``global_step``, the run info (``RUN_KEY``) and the pending log row."""
    try:
        return check_resumable(path, hparams, free, keep=(RUN_KEY, PENDING_LOG_KEY))
    except CorruptCheckpointError as e:
        others = [p for p in checkpoints_in(path.parent) if p.resolve() != path.resolve()]
        hint = (f"resume from the previous checkpoint with --resume {others[-1]}" if others
                else "no other checkpoint is left")
        raise CorruptCheckpointError(f"{e}; {hint}, or start afresh with --resume never "
                                     "--overwrite") from None
