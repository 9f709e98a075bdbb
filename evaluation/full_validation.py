"""Full validation during training (docs/protocol.md §training): the test protocol
(docs/protocol.md §evaluation) on the whole val split.

After epoch 0 and after every epoch e with (e + 1) % ``interval`` == 0 (train.py's
``--full_val_interval``), the val split in the sampler's batches (leftover dropped unless the data
module's ``keep_leftover``) is evaluated as test.py evaluates, by ``evaluation.run.evaluate``
(generation, every per-sample metric, retrieval, zero-shot classification).
Its means and per-group means are logged under ``full_val/`` through the trainer's loggers, its
samples table is written to ``<out_dir>/full_val/epoch=E/samples.csv`` (with ``metrics.json``)
and, for a wandb logger, logged as a table. Under DDP every rank generates its share of the
batches and rank 0 scores, writes and logs once. The model goes back to train mode and the
global RNG states (torch, CUDA, numpy, random) are restored, so training continues exactly as
without it (runs stay exactly resumable).
"""
from __future__ import annotations

import contextlib
import json
import math
import sys
from pathlib import Path
from typing import Any, Iterator

import lightning as L
import pandas as pd
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import WandbLogger

from evaluation.columns import GROUP_KEYS, export_order
from evaluation.protocol import NUM_BEAMS, RETRIEVAL_BATCH_SIZE
from evaluation.run import EvalSettings, Evaluation, NoBatchError, evaluate
from infra.atomic import atomic_write_text
from infra.numerics import Numerics
from infra.resume import RngState

PREFIX = "full_val/"


def is_due(epoch: int, interval: int) -> bool:
    """Full validation runs after epoch 0 and after every epoch e with (e + 1) % interval == 0."""
    return epoch == 0 or (interval > 0 and (epoch + 1) % interval == 0)


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Restore the global RNG states (torch, CUDA, numpy, random) on leaving the block."""
    keeper = RngState()
    state = keeper.state_dict()
    try:
        yield
    finally:
        keeper.load_state_dict(state)


@contextlib.contextmanager
def eval_mode(module: L.LightningModule) -> Iterator[None]:
    """Eval mode in the block, the previous mode (train mode in a fit) after it."""
    was_training = module.training
    try:
        module.eval()
        yield
    finally:
        module.train(was_training)


def group_name(row: pd.Series) -> str:
    """``<task>-<dataset>-<subject>-<raw task>`` of a row of ``group_means``."""
    return "-".join(str(row[k]) for k in GROUP_KEYS)


def logged_metrics(summary: dict[str, Any], groups: pd.DataFrame, left_out: int) -> dict[str, float]:
    """``full_val/<metric>`` means and ``full_val/group/<group>/<metric>`` per-group means (finite
    values only), and how many val records the protocol left out."""
    out = {f"{PREFIX}{k}": float(v) for k, v in summary.items() if isinstance(v, (int, float))}
    metrics = [c for c in groups.columns if c not in (*GROUP_KEYS, "n")]
    for _, row in groups.iterrows():
        name = group_name(row)
        out |= {f"{PREFIX}group/{name}/{m}": float(row[m]) for m in metrics if math.isfinite(row[m])}
        out[f"{PREFIX}group/{name}/n"] = float(row["n"])
    out[f"{PREFIX}left_out"] = float(left_out)
    return out


class FullValidation(Callback):
    """Runs the test protocol on the whole val split at the end of the due train epochs, under the
    training run's ``numerics``, in batches of the data module's ``val_batch_size``.

    Generation uses ``num_beams`` beams and at most ``max_length`` tokens (default: the model's
    ``tgt_text_len``); batch retrieval ranks within ``retrieval_batch_size`` sentences."""

    def __init__(self, out_dir: str | Path, numerics: Numerics, interval: int = 10,
                 retrieval_batch_size: int = RETRIEVAL_BATCH_SIZE, num_beams: int = NUM_BEAMS,
                 max_length: int | None = None, num_workers: int = 0):
        self.out_dir = Path(out_dir) / "full_val"
        self.numerics, self.interval, self.retrieval_batch_size = numerics, interval, retrieval_batch_size
        self.num_beams, self.max_length, self.num_workers = num_beams, max_length, num_workers
        self._warned = False

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not is_due(trainer.current_epoch, self.interval):
            return
        dataset = trainer.datamodule.datasets["val"]
        if len(dataset) == 0:
            return
        with preserved_rng(), eval_mode(pl_module):
            self.run(trainer, pl_module, dataset)

    def run(self, trainer: L.Trainer, model: L.LightningModule, dataset) -> pd.DataFrame | None:
        """Every rank predicts its batches; rank 0 scores, writes and logs (returns the samples)."""
        data = trainer.datamodule
        settings = EvalSettings(data.val_batch_size, self.retrieval_batch_size, self.num_beams,
                                self.max_length or model.config.tgt_text_len,
                                all_records=bool(getattr(data, "keep_leftover", False)),  # default: leftover dropped
                                num_workers=self.num_workers, progress=False)
        try:
            evaluation = evaluate(model, dataset, settings, self.numerics)
        except NoBatchError as error:  # a tiny val split: say so once per run, go on training
            if trainer.is_global_zero and not self._warned:
                print(f"full validation skipped: {error} (set a smaller --data.val_batch_size or "
                      "--data.keep_leftover true)", file=sys.stderr)
                self._warned = True
            return None
        if evaluation is None:  # a rank > 0: its predictions went to rank 0
            return None
        self.publish(trainer, evaluation)
        return evaluation.samples

    def publish(self, trainer: L.Trainer, evaluation: Evaluation) -> None:
        """The samples table and metrics.json into the run directory, metrics and table to the loggers."""
        summary, groups, used = evaluation.summary, evaluation.groups, evaluation.protocol
        epoch = trainer.current_epoch
        directory = self.out_dir / f"epoch={epoch}"
        atomic_write_text(directory / "samples.csv", evaluation.samples_csv())
        result = {"epoch": epoch, "step": trainer.global_step, "protocol": used, "metrics": summary,
                  "groups": json.loads(groups.to_json(orient="records"))}
        atomic_write_text(directory / "metrics.json", json.dumps(result, indent=1) + "\n")
        metrics = logged_metrics(summary, groups, used["left_out"])
        for logger in trainer.loggers:
            logger.log_metrics({**metrics, "epoch": float(epoch)}, step=trainer.global_step)
            if isinstance(logger, WandbLogger):  # the one logger with tables
                logger.log_table(key=f"{PREFIX}samples", dataframe=export_order(evaluation.samples))
