"""Generate and score the test split with a GLIM checkpoint.

    python test.py --ckpt checkpoints/glim-zuco-epoch=199-step=49600.ckpt \
                   [--text-model checkpoints/flan-t5-large] [--data_dir data/processed/zuco] \
                   [--out results/glim-zuco] [--controls noise,prompt-free,shuffled]
    python test.py ... --noise-input | --prompt-free | --shuffled     (one control alone)

test.py parses and checks its options (before torch loads) and calls ``evaluation.run.run``, the
one evaluation path (full validation during training takes it too); every error a user can fix
is one ``error:`` line (``GLIMError``).

Test protocol (docs/protocol.md §evaluation): by default the samples are the test split in the
batches of the sampler (distinct texts, unshuffled), whose leftover is dropped, as in the
published results (2208 of the 2227 test records); ``--all_records true`` evaluates every record (the leftover in extra,
smaller batches). Either way a printed line, ``metrics.json`` (``protocol``) and ``report.md`` say
which protocol was used and how many records it left out.

Numerics (``--numerics``, ``infra.numerics``): ``auto`` (default) is, on a GPU, what the published results were made
with: text model weights in bf16, bf16 autocast, ``torch.set_float32_matmul_precision('medium')``;
on the CPU float32. ``--numerics float32`` forces float32 on a GPU (``bf16`` forces bf16 anywhere).

Writes ``samples.csv`` (one row per test sample: the published export's columns, then ours:
per-reference ROUGE-1 P/F, retrieval ranks, zero-shot probabilities and hits), ``metrics.json``
(means, bootstrap CIs, per group, controls and their paired comparison), ``report.md`` with
``figures/*.png``, and ``controls/<name>/samples.csv`` per control.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from jsonargparse import ActionConfigFile, ActionYesNo, ArgumentParser

from data.store import PHASES, open_store
from evaluation.grounding import main_condition, parse_controls
from evaluation.protocol import MAX_LENGTH, NUM_BEAMS, RESULT_FILES
from infra.cli import check_config_files, one_line
from infra.errors import GLIMError, OptionError
from infra.loggers import check_logger
from infra.numerics import NUMERICS
from infra.writable import check_writable
from model.text_source import check_text_model


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(description="Generate and score the test split with a GLIM checkpoint.")
    parser.add_argument("--config", action=ActionConfigFile, help="YAML with any of these options")
    parser.add_argument("--ckpt", type=str, required=True, help="GLIM checkpoint (.ckpt)")
    parser.add_argument("--text-model", type=str | None, default=None,
                        help="hub id or local directory of the text model (default: the checkpoint's)")
    parser.add_argument("--data_dir", type=str, default="data/processed/zuco")
    parser.add_argument("--out", type=str, default="results/glim-zuco")
    parser.add_argument("--phase", type=str, default="test", help="test or val")
    parser.add_argument("--batch_size", type=int | None, default=None,
                        help="distinct sentences per batch (default: the val batch size of the checkpoint's "
                             "training run, bsz_val)")
    parser.add_argument("--num_beams", type=int, default=NUM_BEAMS)
    parser.add_argument("--max_length", type=int, default=MAX_LENGTH)
    parser.add_argument("--all_records", type=bool, default=False,
                        help="evaluate every record; default: the sampler's batches with the leftover "
                             "dropped, as the published results (docs/protocol.md §evaluation)")
    parser.add_argument("--numerics", type=str, default="auto",
                        help="auto (bf16 text model, bf16 autocast and matmul precision 'medium' on a "
                             "GPU, as published; float32 on the CPU) | bf16 | float32")
    parser.add_argument("--prompt-mode", type=str | None, default=None, help="src | zero | sum | mean")
    parser.add_argument("--noise-input", type=bool, default=False, help="control: replace every EEG by noise")
    parser.add_argument("--prompt-free", type=bool, default=False, help="control: every prompt id 0 (<UNK>)")
    parser.add_argument("--shuffled", type=bool, default=False,
                        help="control: every sample reads the EEG of a sample of another sentence")
    parser.add_argument("--controls", type=str | None, default=None,
                        help="run the EEG and these controls on the same samples and compare: "
                             "comma list of noise,prompt-free,shuffled or 'all'")
    parser.add_argument("--retrieval_batch_size", "--retrieval-batch", type=int | None, default=None,
                        help="retrieval batch size (default: the checkpoint's training run's, bs_retrieval, "
                             "else 24)")
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--permutations", type=int, default=2000, help="sign-flip permutations")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and the permutations")
    parser.add_argument("--report", type=bool, default=True, help="write report.md and figures/")
    parser.add_argument("--examples", type=int, default=10, help="example generations in the report")
    parser.add_argument("--num_workers", type=int, default=0)
    parser.add_argument("--verify_store", type=bool, default=False,
                        help="check every EEG row of the store against its checksums (the metadata is always checked)")
    parser.add_argument("--device", type=str, default="auto", help="auto | cpu | cuda | cuda:1 ...")
    parser.add_argument("--semantic", type=str | None, default=None,
                        help="text encoder (hub id or directory) for BERTScore, sentence-embedding cosine and "
                             "N-way retrieval of the true sentence (evaluation.semantic); off by default")
    parser.add_argument("--overwrite", action=ActionYesNo, default=False, help="replace results in --out")
    parser.add_argument("--progress", type=bool, default=True)
    parser.add_argument("--logger", type=str, default="csv",
                        help="also log the summary metrics: csv | tensorboard | wandb | none (under --out/logs)")
    return parser


def check_options(cfg) -> None:
    """The options and paths, checked before torch, a model or data is loaded: one-line errors."""
    if not Path(cfg.ckpt).is_file():
        raise OptionError(f"checkpoint not found: {cfg.ckpt}")
    if cfg.phase not in PHASES:
        raise OptionError(f"unknown --phase {cfg.phase!r}: use one of {', '.join(PHASES)}")
    if cfg.numerics not in NUMERICS:
        raise OptionError(f"unknown numerics {cfg.numerics!r}: use one of {', '.join(NUMERICS)}")
    check_logger(cfg.logger)
    if cfg.text_model:
        check_text_model(cfg.text_model)
    condition = main_condition(cfg)
    if parse_controls(cfg.controls) and condition != "eeg":
        raise OptionError(f"--controls compares controls with the EEG run; drop --{condition}")
    open_store(cfg.data_dir)  # its metadata only; --verify_store checks the EEG when the run opens it
    check_writable(cfg.out)
    existing = [f for f in RESULT_FILES if (Path(cfg.out) / f).exists()]
    if existing and not cfg.overwrite:
        raise OptionError(f"{cfg.out} already holds results ({', '.join(existing)}); pass --overwrite "
                              "to replace them or choose another --out")


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        check_config_files(sys.argv[1:] if argv is None else argv, sections=())
    except GLIMError as e:
        print(f"error: {one_line(e)}", file=sys.stderr)
        return 2
    cfg = build_parser().parse_args(argv)
    try:
        check_options(cfg)
        from evaluation.run import run, summary_lines  # torch loads here, after the checks

        out = run(cfg)
        if int(os.environ.get("RANK", "0")) > 0:
            return 0
        print("\n".join(summary_lines(out)))
    except GLIMError as e:
        print(f"error: {one_line(e, 2000)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
