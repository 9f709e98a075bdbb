"""Train GLIM.

    python train.py --config configs/glim_zuco.yaml [--devices 8 --strategy ddp] [--model.lr 1e-4]
                    [--data.data_dir data/processed/zuco] [--text-model checkpoints/flan-t5-large]

Every hyper-parameter of the model (``--model.*``) and the data module (``--data.*``) and the
trainer options below can be set in the YAML file or on the command line; ``--print_config``
prints the resolved configuration. Checkpoints go to ``--out_dir``: every ``--ckpt_every``
epochs, and ``last.ckpt`` after every epoch (and every ``--ckpt_every_n_steps`` steps), written
atomically. The resolved config is saved beside them as ``config.yaml`` and, with the seed, in
``run.json`` and inside every checkpoint. A killed run continues where ``last.ckpt`` left it when
started again with the same command (``--resume auto``, the default; a bare ``--resume`` insists
on it, ``--resume PATH`` picks a checkpoint); on the CPU with ``--deterministic true`` the final
weights equal those of an uninterrupted run. ``--resume never`` refuses an ``--out_dir`` holding
checkpoints unless ``--overwrite``. Bad input ends with a one-line ``error:`` and exit status 1
(2 for command-line errors); checkpoints load with ``weights_only=True``.

Seeding (SPEC §4): ``lightning.seed_everything(seed, workers=True)`` comes first and the model is
built right after it, before the data module, so its initial weights are those of
``GLIM(**hparams)`` built right after ``torch.manual_seed(seed)``. Numerics: ``--precision``
defaults to ``bf16-mixed``; on a GPU the text model is then loaded in bf16 and the float32 matmul
precision set to ``medium`` (SPEC §4), unless float32 is asked for (``--precision 32-true``).
Full validation (``--full_val``, default true): after epoch 0 and every ``model.full_val_interval``
epochs the test protocol runs on the whole val split (``evaluation.full_validation``), logged under
``full_val/`` and written to ``<out_dir>/full_val/epoch=E/``.
"""
from __future__ import annotations

import json
import os
import sys
import warnings
from argparse import ArgumentError
from pathlib import Path

import lightning as L
import torch
from jsonargparse import ActionConfigFile, ActionYesNo, ArgumentParser, Namespace
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, RichProgressBar

from data.datamodule import GLIMDataModule
from data.store import StoreError, open_store
from evaluation.full_validation import FullValidation
from evaluation.provenance import store_identity
from infra.atomic import (
    WriteError,
    atomic_write_text,
    is_disk_error,
    remove_stale_temp_files,
    write_error,
)
from infra.checkpoint_io import AtomicCheckpointIO, CheckpointError
from infra.epoch_log import EpochLog
from infra.loggers import LOGGERS, check_logger, make_logger
from infra.progress import is_terminal
from infra.provenance import git_state, package_versions
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
from model.checkpoint import RESUME_FREE_HPARAMS
from model.glim import GLIM
from model.text_model import TextModelError, check_text_model

PRECISIONS = ("bf16-mixed", "32-true", "16-mixed", "bf16-true", "16-true", "64-true", "transformer-engine",
              "transformer-engine-float16", "bf16", "32", "16", "64")
"""The precisions Lightning accepts."""
CPU_HINT = "--accelerator cpu --devices 1 --strategy auto --precision 32-true (or bf16-mixed)"


class TrainData(ResumableTrainLoader, GLIMDataModule):
    """The data module with a train loader that reshuffles per epoch and resumes mid-epoch."""


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(description="Train GLIM (EEG-to-text with a frozen T5).", exit_on_error=False)
    parser.add_argument("--config", action=ActionConfigFile, help="YAML preset (configs/*.yaml)")
    parser.add_class_arguments(GLIM, "model")
    parser.add_class_arguments(GLIMDataModule, "data", skip={"bsz_train", "bsz_val"})
    parser.add_argument("--text-model", type=str | None, default=None,
                        help="hub id or local directory of the text model (default: model.text_model_id)")
    parser.add_argument("--out_dir", type=str, default="checkpoints/glim", help="checkpoints and logs")
    parser.add_argument("--run_name", type=str, default="glim-zuco", help="checkpoint file prefix")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max_epochs", type=int, default=200)
    parser.add_argument("--devices", type=int | str, default="auto")
    parser.add_argument("--num_nodes", type=int, default=1)
    parser.add_argument("--strategy", type=str, default="auto")
    parser.add_argument("--accelerator", type=str, default="auto", help="auto | gpu | cpu | ...")
    parser.add_argument("--precision", type=str, default="bf16-mixed",
                        help="bf16-mixed (default; on a GPU also a bf16 text model and matmul precision "
                             "'medium', as the paper) | 32-true (float32) | any Lightning precision")
    parser.add_argument("--compile_encoder", type=bool, default=False,
                        help="torch.compile the EEG encoder (GPU; names in checkpoints unchanged)")
    parser.add_argument("--text_cache_dir", type=str | None, default=None,
                        help="keep frozen text-encoder states in safetensors files here across runs")
    parser.add_argument("--logger", type=str, default="csv",
                        help=f"{' | '.join(LOGGERS)}: under out_dir/logs (wandb: out_dir/logs/wandb, offline "
                             "unless WANDB_API_KEY is set)")
    parser.add_argument("--ckpt_every", type=int, default=10, help="save a checkpoint every N epochs")
    parser.add_argument("--ckpt_every_n_steps", type=int, default=0,
                        help="also refresh last.ckpt every N optimizer steps (0: at epoch ends only)")
    parser.add_argument("--resume", type=str, nargs="?", const="last", default="auto",
                        help="auto: continue from out_dir/last.ckpt if it exists; bare --resume: it "
                             "must exist; never: start afresh; or a checkpoint path")
    parser.add_argument("--overwrite", action=ActionYesNo, default=False,
                        help="start afresh even if out_dir holds checkpoints (they are deleted)")
    parser.add_argument("--val_every", type=int, default=1, help="validate every N epochs")
    parser.add_argument("--full_val", type=bool, default=True,
                        help="full validation (generation, every metric, retrieval, zero-shot) on the "
                             "val split after epoch 0 and every model.full_val_interval epochs")
    parser.add_argument("--limit_train_batches", type=int | float, default=1.0)
    parser.add_argument("--limit_val_batches", type=int | float, default=1.0)
    parser.add_argument("--deterministic", type=bool, default=False)
    parser.add_argument("--progress", type=bool, default=True,
                        help="rich progress bar when stdout is a terminal (otherwise, and with false, one "
                             "plain line per epoch and a summary at the end)")
    parser.add_argument("--record_batches", type=bool, default=False,
                        help="write the store records of every train batch per rank to out_dir/batches")
    return parser


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
    info = {"seed": cfg.seed, "config": json.loads(parser.dump(saved, format="json", skip_unset=False)),
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


def build_trainer(cfg: Namespace, out_dir: Path, info: dict, resumed: dict | None = None):
    """The Lightning trainer: periodic checkpoints, ``last.ckpt`` every epoch (or N steps) and on
    SIGINT/SIGTERM, RNG states, run info and log version in every checkpoint, atomic writes."""
    every = ModelCheckpoint(dirpath=out_dir, filename=cfg.run_name + "-{epoch}-{step}",
                            every_n_epochs=cfg.ckpt_every, save_top_k=-1, save_last=False,
                            save_on_train_epoch_end=True, enable_version_counter=False)
    logger = build_logger(cfg, out_dir, resumed)
    version = getattr(logger, "version", None) if cfg.logger in ("csv", "tensorboard") else None
    last = LastCheckpoint(out_dir / "last.ckpt", cfg.ckpt_every_n_steps)
    callbacks = [every, last, StopOnSignal(last.save_now), RngState(),
                 RunInfo({"seed": info["seed"], "config": info["config"],
                          "log_version": version if isinstance(version, int) else None})]
    rich = cfg.progress and is_terminal()
    callbacks.append(RichProgressBar() if rich else EpochLog(out_dir, monitor="val/loss", mode="min"))
    if cfg.record_batches:
        callbacks.append(BatchRecorder(out_dir / "batches"))
    if cfg.full_val:
        callbacks.append(FullValidation(out_dir, num_workers=cfg.data.num_workers))
    try:
        return L.Trainer(
            max_epochs=cfg.max_epochs, accelerator=cfg.accelerator, devices=cfg.devices,
            num_nodes=cfg.num_nodes, strategy=cfg.strategy, precision=cfg.precision,
            logger=logger, callbacks=callbacks,
            plugins=[AtomicCheckpointIO()], use_distributed_sampler=False,
            check_val_every_n_epoch=cfg.val_every, limit_train_batches=cfg.limit_train_batches,
            limit_val_batches=cfg.limit_val_batches, deterministic=cfg.deterministic,
            enable_progress_bar=rich, log_every_n_steps=1, num_sanity_val_steps=0)
    except (MisconfigurationException, TypeError, RuntimeError) as e:  # accelerator, devices, strategy, ...
        hint = f"; on the CPU pass {CPU_HINT}" if not torch.cuda.is_available() else ""
        raise ValueError(f"trainer options: {one_line(e)}{hint}") from None


def seeded_model(cfg: Namespace) -> GLIM:
    """``seed_everything(seed, workers=True)``, then GLIM built at once (nothing draws from the
    global generators in between), before the data module exists."""
    L.seed_everything(cfg.seed, workers=True)
    return GLIM(**vars(cfg.model))


def is_float32(precision: str | int) -> bool:
    """Whether a Lightning precision asks for float32 (or float64) everywhere."""
    return str(precision).split("-")[0] in ("32", "64")


def check_options(cfg: Namespace) -> None:
    """The options and paths, checked before anything is loaded: ``ValueError`` (or the store's
    and text model's own errors) in one line."""
    check_logger(cfg.logger)
    if str(cfg.precision) not in PRECISIONS:
        raise ValueError(f"unknown --precision {cfg.precision!r}: use one of {', '.join(PRECISIONS)}")
    if cfg.accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ValueError(f"--accelerator {cfg.accelerator} but no GPU is visible here; on the CPU pass {CPU_HINT}")
    for name in ("max_epochs", "ckpt_every", "val_every"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"--{name} must be at least 1, not {getattr(cfg, name)}")
    open_store(cfg.data.data_dir)
    check_text_model(cfg.text_model or cfg.model.text_model_id)


def train(cfg: Namespace, parser: ArgumentParser) -> Path:
    """Check everything, then fit; nothing is written before the checks pass."""
    check_options(cfg)
    out_dir = Path(cfg.out_dir)
    ckpt = resume_path(out_dir, cfg.resume, cfg.overwrite)
    state = None
    if ckpt is not None:
        state = check_resume(ckpt, vars(cfg.model), RESUME_FREE_HPARAMS)
        print(f"resuming from {ckpt} (epoch {state['epoch']}, step {state['global_step']})",
              file=sys.stderr)
    model = seeded_model(cfg)
    gpu = cfg.accelerator in ("gpu", "cuda") or (cfg.accelerator == "auto" and torch.cuda.is_available())
    if str(cfg.precision).startswith("bf16") and not gpu:
        print("note: bf16-mixed on the CPU is often slower than 32-true "
              "(see docs/performance.md)", file=sys.stderr)
    if gpu and not is_float32(cfg.precision):
        torch.set_float32_matmul_precision("medium")
    model.attach_text_model(cfg.text_model, dtype=torch.bfloat16 if gpu and "bf16" in str(cfg.precision) else None)
    model.use_text_cache(directory=cfg.text_cache_dir)
    if cfg.compile_encoder:
        model.compile_encoder()
    data = TrainData(**vars(cfg.data), bsz_train=cfg.model.bsz_train, bsz_val=cfg.model.bsz_val)
    data.setup("fit")
    info, config_yaml = run_info(cfg, parser, ckpt)
    trainer = build_trainer(cfg, out_dir, info, state)
    write_run_files(out_dir, info, config_yaml, cfg.overwrite)
    trainer.fit(model, datamodule=data, ckpt_path=ckpt, weights_only=True)
    return out_dir / "last.ckpt"


def one_line(error: BaseException) -> str:
    """An error message on one line (jsonargparse's span several)."""
    return " ".join(str(error).split())[:500]


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for message in (".*resuming from a checkpoint that ended before the epoch ended", "Checkpoint directory .* exists"):
        warnings.filterwarnings("ignore", message=message)  # resuming is intended here
    parser = build_parser()
    try:
        cfg = parser.parse_args(argv)
    except ArgumentError as e:
        print(f"error: {one_line(e)} (see `python train.py --help`)", file=sys.stderr)
        return 2
    try:
        last = train(cfg, parser)
    except RunInterrupted as e:
        print(f"interrupted: {e}", file=sys.stderr)
        return EXIT_STATUS
    except (StoreError, TextModelError, CheckpointError, ValueError, WriteError) as e:
        print(f"error: {one_line(e)}", file=sys.stderr)
        return 1
    except OSError as e:
        if not is_disk_error(e):
            raise
        print(f"error: {write_error(e, e.filename or cfg.out_dir)}", file=sys.stderr)
        return 1
    print(f"done: {last}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
