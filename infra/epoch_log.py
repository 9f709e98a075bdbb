"""``EpochLog``: a step line at least every 30 s within an epoch, one plain line per train epoch
and a summary at the end of fit, for runs whose output goes to a log file (SLURM, nohup). Knows nothing of GLIM: it prints the trainer's metrics.
Apart from ``infra.progress`` so that the progress helpers stay free of torch and Lightning."""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Callable, Sequence, TextIO

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from infra.progress import duration, fields_text


def scalar_metrics(metrics: dict) -> dict[str, float]:
    """The scalar entries of a Lightning metrics dict as floats."""
    out = {}
    for k, v in metrics.items():
        if torch.is_tensor(v) and v.numel() == 1:
            out[k] = float(v)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = float(v)
    return out


def epoch_label(epoch: int, max_epochs: int | None) -> str:
    """``epoch 0 (1 of 3)``: the epoch's number as Lightning counts it (from 0, as in checkpoint
    names ``epoch=E``, logs and ``full_val/epoch=E``), then its place among the run's epochs."""
    total = max_epochs if max_epochs and max_epochs > 0 else "?"
    return f"epoch {epoch} ({epoch + 1} of {total})"


def epochs_text(epochs: float) -> str:
    """``3 epochs``, ``1 epoch``, ``1.6 epochs``: a count of epochs to one decimal."""
    value = round(epochs, 1)
    return f"{value:g} epoch{'s' * (value != 1)}"


class EpochLog(Callback):
    """Plain lines for a log file, on global rank 0: within an epoch a step line at least every
    ``step_every_s`` seconds, one line per train epoch, and a summary at the end of fit.

    The step line gives the step of the epoch, the latest ``step_fields`` metrics (default: every
    scalar), steps per second and the epoch's ETA. The epoch line holds every scalar metric the
    trainer has: metrics logged by the train steps as their mean over the epoch's steps, the
    others (validation, epoch-level) as they stand; then the epoch's time and the ETA of the
    remaining epochs. The summary gives the epochs trained (in this run and, when resumed, in
    all), the last and the best epoch (``monitor``, ``mode``: "min" or "max"), the newest
    checkpoints in ``checkpoint_dir`` and the wall time. Epochs are numbered from 0 (``epoch_label``)."""

    def __init__(self, checkpoint_dir: str | Path | None = None, monitor: str | None = None,
                 mode: str = "min", stream: TextIO | None = None, step_every_s: float = 30.0,
                 step_fields: Sequence[str] | None = None, clock: Callable[[], float] = time.monotonic):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', not {mode!r}")
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.monitor, self.mode, self.stream = monitor, mode, stream
        self.step_every_s, self.step_fields, self.clock = step_every_s, step_fields, clock
        self.history: list[tuple[int, dict[str, float]]] = []
        self._sums: dict[str, float] = {}
        self._last: dict[str, float] = {}
        self._steps = 0
        self._fit_start = self._epoch_start = self._last_line = clock()
        self._first_epoch = self._first_step = 0

    def _print(self, text: str) -> None:
        print(text, file=self.stream or sys.stdout, flush=True)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._fit_start = self.clock()  # after a resumed run's loops are restored:
        self._first_epoch, self._first_step = trainer.current_epoch, trainer.global_step

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_start = self._last_line = self.clock()
        self._sums, self._last, self._steps = {}, {}, 0

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch,
                           batch_idx: int) -> None:
        self._last = scalar_metrics(trainer.callback_metrics)
        for k, v in self._last.items():
            self._sums[k] = self._sums.get(k, 0.0) + v
        self._steps += 1
        now = self.clock()
        if trainer.is_global_zero and now - self._last_line >= self.step_every_s:
            self._last_line = now
            self._print(self.step_line(trainer, batch_idx, now))

    def step_line(self, trainer: L.Trainer, batch_idx: int, now: float) -> str:
        """``epoch 0 (1 of 3)  step 120/400  train/loss 1.234  2.1 steps/s  epoch ETA 2m13s``."""
        total = trainer.num_training_batches
        rate = self._steps / max(now - self._epoch_start, 1e-9)
        left = (total - batch_idx - 1) / rate if math.isfinite(total) else float("nan")
        fields = {k: v for k, v in self._last.items() if self.step_fields is None or k in self.step_fields}
        shown_total = total if math.isfinite(total) else "?"
        parts = [epoch_label(trainer.current_epoch, trainer.max_epochs), f"step {batch_idx + 1}/{shown_total}",
                 fields_text(fields), f"{rate:.3g} steps/s", f"epoch ETA {duration(left)}"]
        return "  ".join(p for p in parts if p)

    def epoch_metrics(self, trainer: L.Trainer) -> dict[str, float]:
        """Metrics unchanged since the last train step are step metrics: their epoch mean; the
        others were set after it (validation): their value."""
        now = scalar_metrics(trainer.callback_metrics)
        return {k: self._sums[k] / self._steps if self._steps and self._last.get(k) == v and k in self._sums else v
                for k, v in sorted(now.items())}

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        epoch, metrics = trainer.current_epoch, self.epoch_metrics(trainer)
        self.history.append((epoch, metrics))
        now = self.clock()
        done = epoch + 1 - self._first_epoch
        left = max(trainer.max_epochs - epoch - 1, 0) if trainer.max_epochs and trainer.max_epochs > 0 else float("nan")
        eta = (now - self._fit_start) / max(done, 1) * left
        self._print(f"{epoch_label(epoch, trainer.max_epochs)}  {fields_text(metrics)}  "
                    f"{duration(now - self._epoch_start)}/epoch  ETA {duration(eta)}")

    def epochs_trained(self, trainer: L.Trainer) -> tuple[float, float]:
        """Epochs trained in this run and in all (a resumed run's earlier ones included), from
        the optimizer steps: fractions of an epoch count."""
        per_epoch = trainer.num_training_batches
        if not (math.isfinite(per_epoch) and per_epoch > 0):
            return float(len(self.history)), float(trainer.current_epoch)
        return (trainer.global_step - self._first_step) / per_epoch, trainer.global_step / per_epoch

    def best(self) -> tuple[int, dict[str, float]] | None:
        """The epoch with the best ``monitor`` value, or None."""
        seen = [(e, m) for e, m in self.history if self.monitor in m and math.isfinite(m[self.monitor])]
        if not seen:
            return None
        pick = min if self.mode == "min" else max
        return pick(seen, key=lambda em: em[1][self.monitor])

    def summary(self, trainer: L.Trainer, status: str = "done") -> list[str]:
        """The end-of-fit lines."""
        wall = self.clock() - self._fit_start
        this_run, in_all = self.epochs_trained(trainer)
        trained = epochs_text(this_run) + (f" in this run, {epochs_text(in_all).split()[0]} in all,"
                                           if self._first_step else "")
        lines = [f"{status}: trained {trained} in {duration(wall)}"
                 + (f" ({duration(wall / this_run)}/epoch)" if this_run >= 0.05 else "")]
        if self.history:
            epoch, metrics = self.history[-1]
            lines.append(f"last (epoch {epoch}): {fields_text(metrics)}")
        best = self.best()
        if best is not None:
            lines.append(f"best {self.monitor} (epoch {best[0]}): {fields_text(best[1])}")
        if self.checkpoint_dir is not None and self.checkpoint_dir.is_dir():
            ckpts = sorted(self.checkpoint_dir.glob("*.ckpt"), key=lambda p: p.stat().st_mtime, reverse=True)
            if ckpts:
                more = f" (+{len(ckpts) - 3} older)" if len(ckpts) > 3 else ""
                lines.append("checkpoints: " + ", ".join(str(p) for p in ckpts[:3]) + more)
        return lines

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            self._print("\n".join(self.summary(trainer)))

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if trainer.is_global_zero:
            self._print("\n".join(self.summary(trainer, f"stopped ({type(exception).__name__})")))
