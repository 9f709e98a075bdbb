"""Train GLIM (or the BrainTranslator baseline: ``--architecture brain_translator``).

    python train.py --config configs/glim_zuco.yaml [--devices 8 --strategy ddp] [--lr 1e-4]
                    [--data.data_dir data/processed/zuco] [--text_model checkpoints/flan-t5-large]
    python train.py --config configs/brain_translator.yaml     (architecture: brain_translator)

``--architecture`` (on the command line or in the YAML file) chooses the model and so what
``--model.*`` holds: GLIM's ``GLIMConfig`` (default) or the baseline's ``BrainTranslatorConfig``
(docs/baseline.md); data, loggers, checkpoints, resume and numerics are the same for both.

Every hyper-parameter of the model (``--model.*``), every option of the data module (``--data.*``,
batch sizes included) and the training options below (optimiser, full validation, trainer) can
be set in the YAML file or on the command line; ``--print_config`` prints the resolved
configuration. Checkpoints keep the run settings among their hyper-parameters under the published
checkpoint's names (``bsz_train`` = ``--data.batch_size``, ``bsz_val`` = ``--data.val_batch_size``,
``lr``, ``weight_decay``, ``full_val_interval``, ``bs_retrieval`` = ``--retrieval_batch_size``); the
old spellings ``--model.bsz_train`` etc. are refused with the new name.

Checkpoints go to ``--out_dir``: every ``--ckpt_every`` epochs, and ``last.ckpt`` after every epoch
(and every ``--ckpt_every_n_steps`` steps), written atomically. The resolved config is saved beside
them as ``config.yaml`` and, with the seed, in ``run.json`` and inside every checkpoint. A killed
run continues where ``last.ckpt`` left it when started again with the same command (``--resume
auto``, the default; a bare ``--resume`` insists on it, ``--resume PATH`` picks a checkpoint); on
the CPU with ``--deterministic true`` the final weights equal those of an uninterrupted run.
``--resume never`` refuses an ``--out_dir`` holding checkpoints unless ``--overwrite``. Bad input
ends with a one-line ``error:`` and exit status 1 (2 for command-line errors); checkpoints load with
``weights_only=True``. The options (``GLIMConfig``, ``DataConfig``, paths, logger, precision) are
checked before torch and Lightning are imported, so a bad one fails in under a second; the run
itself is ``training.fit``.

Seeding (docs/protocol.md §training): ``lightning.seed_everything(seed, workers=True)`` comes
first and the model is built right after it, before the data module, so its initial weights are
those of ``GLIM(**hparams)`` built right after ``torch.manual_seed(seed)``. Numerics
(``infra.numerics``): ``--precision`` defaults to ``bf16-mixed``; on a GPU the text model is then
loaded in bf16 and the float32 matmul precision set to ``medium`` (docs/protocol.md §training),
unless float32 is asked for (``--precision 32-true``).
Full validation (``--full_val``, default true): after epoch 0 and every ``--full_val_interval``
epochs the test protocol runs on the whole val split (``evaluation.full_validation``), logged under
``full_val/`` and written to ``<out_dir>/full_val/epoch=E/``.
"""
from __future__ import annotations

import os
import re
import sys

from jsonargparse import ActionConfigFile, ActionYesNo, ArgumentParser, Namespace

from data.config import DataConfig
from data.store import open_store
from data.word_store import NO_WORD_FEATURES
from evaluation.protocol import RETRIEVAL_BATCH_SIZE
from infra import log_filters
from infra.cli import CPU_HINT, PRECISIONS, check_config_files, gpu_visible, one_line, preread_option
from infra.errors import GLIMError, OptionError
from infra.loggers import LOGGERS, check_logger
from infra.options import USAGE_ERROR, error_line, parse_options
from infra.writable import check_writable
from model.brain_translator_config import BrainTranslatorConfig
from model.config import RUN_SETTINGS, GLIMConfig
from model.text_source import check_text_model

ARCHITECTURES = {"glim": GLIMConfig, "brain_translator": BrainTranslatorConfig}
"""``--architecture``: the model trained, by the class of its ``--model.*`` options."""
GLIM_ONLY = {"text_cache_dir": None, "compile_encoder": False, "lr": 1e-4, "weight_decay": 0}
"""Top-level options of GLIM's alone, with their defaults (the BrainTranslator's optimiser settings
are its own ``--model.lr``, ``--model.stage1_lr``, ``--model.weight_decay`` ...)."""


def build_parser(architecture: str = "glim") -> ArgumentParser:
    """The parser whose ``--model.*`` options are those of ``architecture`` (``ARCHITECTURES``)."""
    if architecture not in ARCHITECTURES:
        raise OptionError(f"unknown --architecture {architecture!r}: use one of {', '.join(ARCHITECTURES)}")
    parser = ArgumentParser(description="Train GLIM (EEG-to-text with a frozen T5) or the BrainTranslator "
                            "baseline (--architecture brain_translator; its --model.* options with --help).",
                            exit_on_error=False, allow_abbrev=False)
    parser.add_argument("--config", action=ActionConfigFile, help="YAML preset (configs/*.yaml)")
    parser.add_argument("--architecture", type=str, default="glim",
                        help=f"{' | '.join(ARCHITECTURES)}: the model trained (GLIM, or the word-level BART "
                             "baseline of docs/baseline.md); sets what --model.* holds")
    parser.add_class_arguments(ARCHITECTURES[architecture], "model")
    parser.add_class_arguments(DataConfig, "data")
    parser.add_argument("--text_model", type=str | None, default=None,
                        help="hub id or local directory of the text model (default: model.text_model_id)")
    parser.add_argument("--out_dir", type=str, default="checkpoints/glim", help="checkpoints and logs")
    parser.add_argument("--run_name", type=str, default="glim-zuco", help="checkpoint file prefix")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max_epochs", type=int, default=200)
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate")
    parser.add_argument("--weight_decay", type=float, default=0, help="Adam weight decay")
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
                             "val split after epoch 0 and every --full_val_interval epochs")
    parser.add_argument("--full_val_interval", type=int, default=10,
                        help="full validation after epoch 0 and every this many epochs")
    parser.add_argument("--retrieval_batch_size", type=int, default=RETRIEVAL_BATCH_SIZE,
                        help="batch retrieval of full validation ranks among this many distinct sentences "
                             "(also test.py's default for the run's checkpoints)")
    parser.add_argument("--limit_train_batches", type=int | float, default=1.0)
    parser.add_argument("--limit_val_batches", type=int | float, default=1.0)
    parser.add_argument("--deterministic", type=bool, default=False)
    parser.add_argument("--progress", type=bool, default=True,
                        help="rich progress bar when stdout is a terminal (otherwise, and with false, one "
                             "plain line per epoch and a summary at the end)")
    parser.add_argument("--record_batches", type=bool, default=False,
                        help="write the store records of every train batch per rank to out_dir/batches")
    return parser


def moved_option(message: str) -> str | None:
    """For a parse error naming a run setting that moved out of ``--model.*``, the line naming its
    new option (the checkpoint still calls it by the old name); else None."""
    for old, new in RUN_SETTINGS.items():
        if re.search(rf"--model\.{old}\b", message) or f"'model' does not accept option '{old}'" in message:
            section, _, key = new.rpartition(".")
            place = f"{key}: under {section}:" if section else f"{key}: at the top level"
            return f"--model.{old} is now --{new} (in a YAML file: {place}, no longer model: {old}:)"
    return None


def check_options(cfg: Namespace) -> None:
    """The options and paths, checked before torch, Lightning or anything else heavy is imported:
    a ``GLIMError`` (``OptionError``, or the store's, text model's or writer's own) in one line."""
    check_logger(cfg.logger)
    if str(cfg.precision) not in PRECISIONS:
        raise OptionError(f"unknown --precision {cfg.precision!r}: use one of {', '.join(PRECISIONS)}")
    for name in ("max_epochs", "ckpt_every", "val_every", "full_val_interval", "retrieval_batch_size"):
        if getattr(cfg, name) < 1:
            raise OptionError(f"--{name} must be at least 1, not {getattr(cfg, name)}")
    for section, config in (("model", ARCHITECTURES[cfg.architecture]), ("data", DataConfig)):
        try:
            config(**vars(cfg[section]))
        except (OptionError, ValueError) as e:
            raise OptionError(f"--{section}.*: {e}") from None
    store = open_store(cfg.data.data_dir)
    if cfg.architecture == "brain_translator":
        changed = [f"--{k}" for k, default in GLIM_ONLY.items() if cfg[k] != default]
        if changed:
            raise OptionError(f"{', '.join(changed)}: GLIM's only; the BrainTranslator's optimiser settings are "
                              "--model.lr, --model.stage1_lr, --model.weight_decay, ... (docs/baseline.md)")
        if store.words is None:
            raise OptionError(NO_WORD_FEATURES.format(path=cfg.data.data_dir))
    check_text_model(cfg.text_model or cfg.model.text_model_id)
    check_writable(cfg.out_dir, "--out_dir")
    if cfg.accelerator in ("gpu", "cuda") and not gpu_visible():
        raise OptionError(f"--accelerator {cfg.accelerator} but no GPU is visible here; on the CPU pass {CPU_HINT}")


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    log_filters.install()  # third-party notices a user cannot act on (each named there)
    try:
        args = sys.argv[1:] if argv is None else argv
        check_config_files(args)
        parser = build_parser(preread_option(args, "architecture", "glim"))
        cfg = parse_options(parser, argv)
    except GLIMError as e:
        print(error_line(moved_option(str(e)) or e, "python train.py"), file=sys.stderr)
        return USAGE_ERROR
    try:
        check_options(cfg)
        from training.fit import run  # torch and Lightning load here, after the checks

        return run(cfg, parser)
    except GLIMError as e:
        print(f"error: {one_line(e)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
