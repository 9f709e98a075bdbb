"""``EpochLog``: one plain line per train epoch and a summary at the end of fit, for runs whose
output goes to a log file (SLURM, nohup). Knows nothing of GLIM: it prints the trainer's metrics.
Apart from ``infra.progress`` so that the progress helpers stay free of torch and Lightning."""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import TextIO

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


class EpochLog(Callback):
    """One plain line per train epoch and a summary at the end of fit, on global rank 0.

    The line holds every scalar metric the trainer has: metrics logged by the train steps as
    their mean over the epoch's steps, the others (validation, epoch-level) as they stand; then
    the epoch's time and the ETA of the remaining epochs. The summary gives the last and the best
    epoch (``monitor``, ``mode``: "min" or "max"), the newest checkpoints in ``checkpoint_dir``
    and the wall time."""

    def __init__(self, checkpoint_dir: str | Path | None = None, monitor: str | None = None,
                 mode: str = "min", stream: TextIO | None = None):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', not {mode!r}")
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.monitor, self.mode, self.stream = monitor, mode, stream
        self.history: list[tuple[int, dict[str, float]]] = []
        self._sums: dict[str, float] = {}
        self._last: dict[str, float] = {}
        self._steps = 0
        self._fit_start = self._epoch_start = time.monotonic()
        self._first_epoch = 0

    def _print(self, text: str) -> None:
        print(text, file=self.stream or sys.stdout, flush=True)

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._fit_start = time.monotonic()
        self._first_epoch = trainer.current_epoch  # > 0 when resumed

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_start = time.monotonic()
        self._sums, self._last, self._steps = {}, {}, 0

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch,
                           batch_idx: int) -> None:
        self._last = scalar_metrics(trainer.callback_metrics)
        for k, v in self._last.items():
            self._sums[k] = self._sums.get(k, 0.0) + v
        self._steps += 1

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
        now = time.monotonic()
        done = epoch + 1 - self._first_epoch
        left = max(trainer.max_epochs - epoch - 1, 0) if trainer.max_epochs and trainer.max_epochs > 0 else float("nan")
        eta = (now - self._fit_start) / max(done, 1) * left
        total = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else "?"
        self._print(f"epoch {epoch + 1}/{total}  {fields_text(metrics)}  "
                    f"{duration(now - self._epoch_start)}/epoch  ETA {duration(eta)}")

    def best(self) -> tuple[int, dict[str, float]] | None:
        """The epoch with the best ``monitor`` value, or None."""
        seen = [(e, m) for e, m in self.history if self.monitor in m and math.isfinite(m[self.monitor])]
        if not seen:
            return None
        pick = min if self.mode == "min" else max
        return pick(seen, key=lambda em: em[1][self.monitor])

    def summary(self, trainer: L.Trainer, status: str = "done") -> list[str]:
        """The end-of-fit lines."""
        wall = time.monotonic() - self._fit_start
        n = len(self.history)
        lines = [f"{status}: {n} epoch{'s' * (n != 1)} in {duration(wall)}"
                 + (f" ({duration(wall / n)}/epoch)" if n else "")]
        if self.history:
            epoch, metrics = self.history[-1]
            lines.append(f"last (epoch {epoch + 1}): {fields_text(metrics)}")
        best = self.best()
        if best is not None:
            lines.append(f"best {self.monitor} (epoch {best[0] + 1}): {fields_text(best[1])}")
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
