"""The training run behind train.py: the trainer (checkpoints, resume, signals, loggers, progress,
full validation), the data and the model, wired as the parsed and checked options say.

train.py parses and checks the options with light modules only and imports this afterwards, so a
bad option fails before torch and Lightning load. Each setting is read where it belongs: the
model's ``--model.*`` (``GLIMConfig``), the data module's ``--data.*`` (``DataConfig``, batch
sizes included), the optimiser's ``--lr``/``--weight_decay``, full validation's
``--full_val_interval``/``--retrieval_batch_size``; the checkpoint keeps the run settings among its
hyper-parameters under the published checkpoint's names (``model.config.RUN_SETTINGS``)."""
from __future__ import annotations

import json
import sys
import traceback
from functools import partial
from pathlib import Path
from typing import Any

import lightning as L
import torch
from jsonargparse import ArgumentParser, Namespace
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, RichProgressBar

from data.datamodule import GLIMDataModule
from data.word_datamodule import WordDataModule
from data.store_identity import store_identity
from evaluation.full_validation import FullValidation
from infra import log_filters
from infra.atomic import atomic_write_text, is_disk_error, remove_stale_temp_files, write_error
from infra.checkpoint_io import AtomicCheckpointIO
from infra.cli import CPU_HINT, one_line
from infra.epoch_log import EpochLog
from infra.errors import GLIMError, OptionError
from infra.loggers import make_logger
from infra.numerics import Numerics, training_numerics
from infra.progress import is_terminal
from infra.provenance import git_state, package_versions
from infra.rank_watch import RankFailed, RankWatch, describe
from infra.resume import (
    PENDING_LOG_KEY,
    RUN_KEY,
    ContinuedCSVLogger,
    LastCheckpoint,
    ResumableTrainLoader,
    RngState,
    RunInfo,
    check_resume,
    checkpoints_in,
    resume_path,
)
from infra.signals import EXIT_STATUS, RunInterrupted, StopOnSignal
from infra.threads import pin_cpu_threads
from model.brain_translator_config import RUN_SETTINGS as BRAIN_TRANSLATOR_RUN_SETTINGS
from model.brain_translator_module import BrainTranslator
from model.checkpoint import RESUME_FREE_HPARAMS
from model.config import RUN_SETTINGS
from model.glim import GLIM

STEP_LINE_EVERY_S = 10.0
"""A plain log (no progress bar) gets a step line at least this often within an epoch."""


class TrainData(ResumableTrainLoader, GLIMDataModule):
    """The data module with a train loader that reshuffles per epoch and resumes mid-epoch."""


class WordTrainData(ResumableTrainLoader, WordDataModule):
    """The BrainTranslator's data module (word-level vectors), resumable as ``TrainData``."""


def is_baseline(cfg: Namespace) -> bool:
    """Whether the run trains the BrainTranslator baseline (``--architecture brain_translator``)."""
    return cfg.get("architecture", "glim") == "brain_translator"


def train_data(cfg: Namespace) -> GLIMDataModule:
    """The data module of the run's model, from ``--data.*`` (the baseline's also reads its
    ``train_targets`` and ``max_words``)."""
    if is_baseline(cfg):
        return WordTrainData(train_targets=cfg.model.train_targets, max_words=cfg.model.max_words, **vars(cfg.data))
    return TrainData(**vars(cfg.data))


class BatchRecorder(Callback):
    """Writes, per rank, one JSON line per train batch: epoch, step, store records."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.out_dir.mkdir(parents=True, exist_ok=True)
        line = {"epoch": trainer.current_epoch, "batch": batch_idx,
                "samples": batch["sample"].tolist(),
                "records": batch["record"].tolist(), "uids": batch["text_uid"].tolist()}
        with open(self.out_dir / f"rank{trainer.global_rank}.jsonl", "a") as f:
            f.write(json.dumps(line) + "\n")


def run_info(cfg: Namespace, parser: ArgumentParser, resumed_from: Path | None) -> tuple[dict, str]:
    """Seed, resolved configuration (plain types) and provenance of a run, and the configuration
    as YAML; the per-command options ``resume``/``overwrite`` are left at their defaults."""
    saved = cfg.clone()
    saved.resume, saved.overwrite = "auto", False
    info = {"seed": cfg.seed, "cpu_threads": torch.get_num_threads(), "config": json.loads(parser.dump(saved, format="json", skip_unset=False)),
            "resumed_from": str(resumed_from or ""), "argv": sys.argv[1:],
            "code": git_state(), "versions": package_versions(), "store": store_identity(cfg.data.data_dir)}
    return info, parser.dump(saved, skip_unset=False)


def write_run_files(out_dir: Path, info: dict, config_yaml: str, overwrite: bool) -> None:
    """``config.yaml`` and ``run.json`` beside the checkpoints, on rank 0 only; starting afresh
    with ``overwrite`` deletes the old checkpoints first."""
    if rank_zero_only.rank != 0:
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(out_dir)  # left by a killed run
    if overwrite:
        for old in checkpoints_in(out_dir):
            old.unlink()
    atomic_write_text(out_dir / "config.yaml", config_yaml)
    atomic_write_text(out_dir / "run.json", json.dumps(info, indent=1) + "\n")


def build_logger(cfg: Namespace, out_dir: Path, resumed: dict | None):
    """The experiment logger; a resumed run with the CSV logger continues its log version (one
    ``metrics.csv``: the rows before the checkpoint's step kept, the rest logged again)."""
    version = ((resumed or {}).get(RUN_KEY) or {}).get("log_version")
    if cfg.logger == "csv" and isinstance(version, int):
        return ContinuedCSVLogger(out_dir, "logs", version, resumed["global_step"],
                                  resumed.get(PENDING_LOG_KEY))
    return make_logger(cfg.logger, out_dir, cfg.run_name)


def cluster_plugins() -> list:
    """Under SLURM, Lightning's SLURM environment without its own requeue: ``StopOnSignal``
    requeues at a step boundary instead (see infra/signals.py)."""
    return [SLURMEnvironment(auto_requeue=False)] if SLURMEnvironment.detect() else []


def build_trainer(cfg: Namespace, out_dir: Path, info: dict, numerics: Numerics, resumed: dict | None = None):
    """The Lightning trainer: periodic checkpoints, ``last.ckpt`` every epoch (or N steps) and on
    SIGINT/SIGTERM/SIGUSR1 (then requeued under SLURM), RNG states, run info and log version in
    every checkpoint, atomic writes; under DDP a watch that ends every rank when one fails."""
    every = ModelCheckpoint(dirpath=out_dir, filename=cfg.run_name + "-{epoch}-{step}",
                            every_n_epochs=cfg.ckpt_every, save_top_k=-1, save_last=False,
                            save_on_train_epoch_end=True, enable_version_counter=False)
    logger = build_logger(cfg, out_dir, resumed)
    version = getattr(logger, "version", None) if cfg.logger in ("csv", "tensorboard") else None
    last = LastCheckpoint(out_dir / "last.ckpt", cfg.ckpt_every_n_steps)
    callbacks = [every, last, StopOnSignal(last.save_now), RankWatch(together=(RunInterrupted,)), RngState(),
                 RunInfo({"seed": info["seed"], "cpu_threads": info["cpu_threads"], "config": info["config"],
                          "log_version": version if isinstance(version, int) else None})]
    rich = cfg.progress and is_terminal()
    callbacks.append(RichProgressBar() if rich else
                     EpochLog(out_dir, monitor="val/loss", mode="min", step_fields=("train/loss",),
                              step_every_s=STEP_LINE_EVERY_S))
    callbacks.append(log_filters.model_summary())
    if cfg.record_batches:
        callbacks.append(BatchRecorder(out_dir / "batches"))
    if cfg.full_val:
        callbacks.append(FullValidation(out_dir, numerics, cfg.full_val_interval, cfg.retrieval_batch_size,
                                        num_workers=cfg.data.num_workers))
    try:
        return L.Trainer(
            max_epochs=cfg.max_epochs, accelerator=cfg.accelerator, devices=cfg.devices,
            num_nodes=cfg.num_nodes, strategy=cfg.strategy, precision=cfg.precision,
            logger=logger, callbacks=callbacks,
            plugins=[AtomicCheckpointIO(), *cluster_plugins()], use_distributed_sampler=False,
            check_val_every_n_epoch=cfg.val_every, limit_train_batches=cfg.limit_train_batches,
            limit_val_batches=cfg.limit_val_batches, deterministic=cfg.deterministic,
            enable_progress_bar=rich, log_every_n_steps=1, num_sanity_val_steps=0)
    except (MisconfigurationException, TypeError, RuntimeError) as e:  # accelerator, devices, strategy, ...
        hint = f"; on the CPU pass {CPU_HINT}" if not torch.cuda.is_available() else ""
        raise OptionError(f"trainer options: {one_line(e)}{hint}") from None


def checkpoint_hparams(cfg: Namespace) -> dict[str, Any]:
    """What the run's checkpoints keep as hyper-parameters: the model's (``--model.*``) and the run
    settings under the published checkpoint's names (``bsz_train`` from ``--data.batch_size``, ...;
    the BrainTranslator's ``BRAIN_TRANSLATOR_RUN_SETTINGS``, its optimiser being its own)."""
    settings = BRAIN_TRANSLATOR_RUN_SETTINGS if is_baseline(cfg) else RUN_SETTINGS
    return {**vars(cfg.model), **{name: cfg[option] for name, option in settings.items()}}


def seeded_model(cfg: Namespace) -> GLIM | BrainTranslator:
    """``seed_everything(seed, workers=True)``, then the model built at once (nothing draws from
    the global generators in between), before the data module exists. GLIM's optimiser is Adam
    with ``--lr`` and ``--weight_decay``; the BrainTranslator (its BART from ``--text_model``, else
    ``model.text_model_id``) sets its own (docs/baseline.md)."""
    L.seed_everything(cfg.seed, workers=True)
    if is_baseline(cfg):
        return BrainTranslator(**{**checkpoint_hparams(cfg), "text_model_id": cfg.text_model or cfg.model.text_model_id})
    model = GLIM(**checkpoint_hparams(cfg))
    model.make_optimizer = partial(torch.optim.Adam, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return model


def fit(cfg: Namespace, parser: ArgumentParser) -> Path:
    """Fit the model (GLIM or the BrainTranslator) as ``cfg`` says (options already checked by train.py); nothing is written before
    the run directory and the checkpoint to resume are checked."""
    out_dir = Path(cfg.out_dir)
    ckpt = resume_path(out_dir, cfg.resume, cfg.overwrite)
    threads = pin_cpu_threads()  # a resumed run multiplies as the uninterrupted one did
    state = None
    notes = []  # printed once, by global rank 0, when the trainer knows the ranks
    if ckpt is not None:
        state = check_resume(ckpt, checkpoint_hparams(cfg), RESUME_FREE_HPARAMS)
        notes.append(f"resuming from {ckpt} (epoch {state['epoch']}, step {state['global_step']})")
        saved = (state.get(RUN_KEY) or {}).get("cpu_threads")
        if saved and saved != threads:
            notes.append(f"note: the run used {saved} CPU threads and continues with {threads}: on the CPU "
                         f"it will not end bit for bit where it would have (set OMP_NUM_THREADS={saved})")
    model = seeded_model(cfg)
    gpu = cfg.accelerator in ("gpu", "cuda") or (cfg.accelerator == "auto" and torch.cuda.is_available())
    if str(cfg.precision).startswith("bf16") and not gpu:
        notes.append("note: bf16-mixed on the CPU is often slower than 32-true (see docs/performance.md)")
    numerics = training_numerics(cfg.precision, gpu, getattr(model, "cpu_bf16_text", True))
    text_dtype = numerics.apply()  # the matmul precision; the dtype of GLIM's frozen text model
    if isinstance(model, GLIM):  # the BrainTranslator trains its BART: float32 weights under the trainer's precision
        model.attach_text_model(cfg.text_model, dtype=text_dtype)
        model.use_text_cache(directory=cfg.text_cache_dir)
        if cfg.compile_encoder:
            model.compile_encoder()
    data = train_data(cfg)
    data.setup("fit")
    info, config_yaml = run_info(cfg, parser, ckpt)
    trainer = build_trainer(cfg, out_dir, info, numerics, state)
    if trainer.is_global_zero:
        for note in notes:
            print(note, file=sys.stderr)
    write_run_files(out_dir, info, config_yaml, cfg.overwrite)
    watch = next(c for c in trainer.callbacks if isinstance(c, RankWatch))
    try:
        trainer.fit(model, datamodule=data, ckpt_path=ckpt, weights_only=True)
    except Exception:
        if watch.failed_elsewhere:  # this rank only followed another one's failure
            raise RankFailed(f"rank {watch.rank} stopped: {watch.cause}") from None
        raise
    return out_dir / "last.ckpt"


def failed_rank(error: Exception) -> int:
    """An unexpected error: re-raised in a single process; on a rank of a distributed run, its
    traceback, then ``error: rank R failed: ...`` as the last line (the other ranks end too)."""
    if not (torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1):
        raise error
    traceback.print_exception(error)
    print(f"error: rank {torch.distributed.get_rank()} failed: {describe(error)}", file=sys.stderr)
    return 1


def run(cfg: Namespace, parser: ArgumentParser) -> int:
    """``fit``; the exit status. An interrupted run says so in one line (``EXIT_STATUS``); a full
    disk or an unwritable place becomes a ``WriteError`` (train.py reports every ``GLIMError``)."""
    try:
        last = fit(cfg, parser)
    except RunInterrupted as e:
        print(f"interrupted: {e}", file=sys.stderr)  # each rank: why its process ends with this status
        return EXIT_STATUS
    except GLIMError:
        raise  # train.py prints it in one line
    except OSError as e:
        if is_disk_error(e):
            raise write_error(e, e.filename or cfg.out_dir) from None
        return failed_rank(e)
    except Exception as e:
        return failed_rank(e)
    if rank_zero_only.rank == 0:
        print(f"done: {last}")
    return 0
