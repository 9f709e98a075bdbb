"""Generate and score the test split with a GLIM checkpoint.

    python test.py --ckpt checkpoints/glim-zuco-epoch=199-step=49600.ckpt \
                   [--text-model checkpoints/flan-t5-large] [--data_dir data/processed/zuco] \
                   [--out results/glim-zuco] [--controls noise,prompt-free,shuffled]
    python test.py ... --noise-input | --prompt-free | --shuffled     (one control alone)

Test protocol (SPEC §5): by default the samples are the test split in the batches of the
sampler (distinct texts, unshuffled), whose leftover is dropped, as in the published results (2208
of the 2227 test records); ``--all_records true`` evaluates every record (the leftover in extra,
smaller batches). Either way a printed line, ``metrics.json`` (``protocol``) and ``report.md`` say
which protocol was used and how many records it left out.

Numerics (``--numerics``): ``auto`` (default) is, on a GPU, what the published results were made
with: text model weights in bf16, bf16 autocast, ``torch.set_float32_matmul_precision('medium')``;
on the CPU float32. ``--numerics float32`` forces float32 on a GPU (``bf16`` forces bf16 anywhere).

Writes ``samples.csv`` (one row per test sample: the published export's columns, then ours:
per-reference ROUGE-1 P/F, retrieval ranks, zero-shot probabilities and hits), ``metrics.json``
(means, bootstrap CIs, per group, controls and their paired comparison), ``report.md`` with
``figures/*.png``, and ``controls/<name>/samples.csv`` per control.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from jsonargparse import ActionConfigFile, ActionYesNo, ArgumentParser

from data.store import PHASES, StoreError, open_store
from evaluation import columns as C
from evaluation.grounding import parse_controls
from evaluation.numerics import NUMERICS, resolve_numerics
from infra.atomic import WriteError
from infra.cli import check_config_files, one_line
from infra.loggers import check_logger
from infra.writable import check_writable
from model.text_source import TextModelError, check_text_model

RESULT_FILES = ("samples.csv", "metrics.json", "report.md", "figures", "controls")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(description="Generate and score the test split with a GLIM checkpoint.")
    parser.add_argument("--config", action=ActionConfigFile, help="YAML with any of these options")
    parser.add_argument("--ckpt", type=str, required=True, help="GLIM checkpoint (.ckpt)")
    parser.add_argument("--text-model", type=str | None, default=None,
                        help="hub id or local directory of the text model (default: the checkpoint's)")
    parser.add_argument("--data_dir", type=str, default="data/processed/zuco")
    parser.add_argument("--out", type=str, default="results/glim-zuco")
    parser.add_argument("--phase", type=str, default="test", help="test or val")
    parser.add_argument("--batch_size", type=int | None, default=None, help="default: bsz_val of the checkpoint")
    parser.add_argument("--num_beams", type=int, default=2)
    parser.add_argument("--max_length", type=int, default=64)
    parser.add_argument("--all_records", type=bool, default=False,
                        help="evaluate every record; default: the sampler's batches with the leftover "
                             "dropped, as the published results (SPEC §5)")
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
    parser.add_argument("--retrieval-batch", type=int | None, default=None,
                        help="retrieval batch size (default: bs_retrieval of the checkpoint, 24)")
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
        raise ValueError(f"checkpoint not found: {cfg.ckpt}")
    if cfg.phase not in PHASES:
        raise ValueError(f"unknown --phase {cfg.phase!r}: use one of {', '.join(PHASES)}")
    if cfg.numerics not in NUMERICS:
        raise ValueError(f"unknown numerics {cfg.numerics!r}: use one of {', '.join(NUMERICS)}")
    check_logger(cfg.logger)
    if cfg.text_model:
        check_text_model(cfg.text_model)
    condition = main_condition(cfg)
    if parse_controls(cfg.controls) and condition != "eeg":
        raise ValueError(f"--controls compares controls with the EEG run; drop --{condition}")
    open_store(cfg.data_dir)  # its metadata only; --verify_store checks the EEG when the run opens it
    check_writable(cfg.out)
    existing = [f for f in RESULT_FILES if (Path(cfg.out) / f).exists()]
    if existing and not cfg.overwrite:
        raise FileExistsError(f"{cfg.out} already holds results ({', '.join(existing)}); pass --overwrite "
                              "to replace them or choose another --out")


def run(cfg) -> Path:
    """Evaluate as ``cfg`` says (options checked by ``check_options``) and write the results."""
    import torch

    from evaluation.controls import PROMPT_MODE, control_dataset
    from evaluation.grounding import compare, grounding
    from evaluation.predict import (
        NoBatchError,
        evaluate_dataset,
        protocol,
        set_numerics,
    )
    from evaluation.semantic import load_encoder
    from evaluation.zero_shot import MAJORITY, baselines, label_vectors, majority_frame
    from infra.atomic import atomic_dir
    from model.checkpoint import glim_from_checkpoint

    out = Path(cfg.out)
    condition, controls = main_condition(cfg), parse_controls(cfg.controls)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device
    numerics = resolve_numerics(cfg.numerics, torch.device(device).type)
    store = open_store(cfg.data_dir, verify="eeg" if cfg.verify_store else "metadata")
    model = glim_from_checkpoint(cfg.ckpt, attach_text=False)
    model.attach_text_model(cfg.text_model, dtype=set_numerics(numerics))
    rank = init_distributed(device)
    if rank is not None and device == "cuda":
        device = f"cuda:{os.environ.get('LOCAL_RANK', rank)}"
    model.to(device).eval()
    labels = label_vectors(model)  # once per run, shared by the EEG run and the controls
    options = dict(batch_size=cfg.batch_size or model.hparams.bsz_val, num_beams=cfg.num_beams,
                   max_length=cfg.max_length, retrieval_batch=cfg.retrieval_batch or model.hparams.bs_retrieval,
                   num_workers=cfg.num_workers, progress=cfg.progress, all_records=cfg.all_records,
                   bf16=numerics == "bf16")
    n_records = {}

    def evaluate(name: str):
        ds = control_dataset(name, store, cfg.phase)
        if len(ds) == 0:
            raise ValueError(f"{cfg.data_dir} holds no {cfg.phase} samples")
        if cfg.progress:
            print(f"evaluating: {name}", file=sys.stderr)
        n_records[name] = len(ds)
        try:
            return evaluate_dataset(model, ds, labels, prompt_mode=PROMPT_MODE.get(name, cfg.prompt_mode), **options)
        except NoBatchError as e:
            raise NoBatchError(f"{e}: pass a smaller --batch_size or --all_records true") from None

    samples = evaluate(condition)
    runs = {c: evaluate(c) for c in controls}
    if samples is None:  # a rank > 0 under torchrun: its predictions are gathered; rank 0 scores and writes
        return out
    if cfg.semantic:  # optional semantic metrics beside the others, for the EEG run and every control
        encoder = load_encoder(cfg.semantic)
        samples = add_semantic(samples, encoder, cfg.seed)
        runs = {c: add_semantic(s, encoder, cfg.seed) for c, s in runs.items()}
    comparisons = {c: compare(samples, s, cfg.bootstrap, cfg.permutations, cfg.seed) for c, s in runs.items()}
    baseline_comparisons = {MAJORITY: compare(samples, majority_frame(samples), cfg.bootstrap, cfg.permutations,
                                              cfg.seed)} if comparisons else {}
    verdicts = grounding(comparisons, baseline_comparisons, baselines(samples)) if comparisons else None
    used = {"protocol": protocol(n_records[condition], len(samples), cfg.all_records), "numerics": numerics}
    if not rank:  # None (one process) or rank 0 writes, into a sibling renamed when complete
        with atomic_dir(out, replaces=RESULT_FILES) as partial:
            write_results(cfg, partial, model, condition, samples, runs, comparisons, verdicts, used)
        log_summary(cfg.logger, out, json.loads((out / "metrics.json").read_text())["metrics"])
    return out


def add_semantic(samples, encoder, seed: int):
    """The semantic columns of ``evaluation.semantic`` (generated vs raw sentence) added to ``samples``."""
    import pandas as pd

    from evaluation.columns import GENERATED, INPUT_TEXT
    from evaluation.semantic import semantic_frame

    gen, raw = samples[GENERATED].astype(str).tolist(), samples[INPUT_TEXT].astype(str).tolist()
    return pd.concat([samples.reset_index(drop=True), semantic_frame(encoder, gen, raw, seed)], axis=1)


def log_summary(kind: str, out: Path, metrics: dict) -> None:
    """The numeric summary metrics, once, through the chosen experiment logger."""
    from infra.loggers import make_logger

    logger = make_logger(kind, out, f"test-{out.name}")
    if logger:
        logger.log_metrics({k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}, step=0)
        logger.save()
        logger.finalize("success")


def init_distributed(device: str) -> int | None:
    """Under torchrun (``WORLD_SIZE`` > 1) join the process group (gloo on the CPU, nccl on GPUs):
    every rank predicts its share of the batches, all predictions are gathered, rank 0 writes."""
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return dist.get_rank()


def main_condition(cfg) -> str:
    """The condition of the main run: the EEG, or one control asked for by its flag."""
    flags = [name for name, on in (("noise", cfg.noise_input), ("prompt-free", cfg.prompt_free),
                                   ("shuffled", cfg.shuffled)) if on]
    if len(flags) > 1:
        raise ValueError(f"choose one of --noise-input, --prompt-free, --shuffled (got {', '.join(flags)})")
    return flags[0] if flags else "eeg"


def write_results(cfg, out: Path, model, condition: str, samples, runs: dict, comparisons: dict,
                  verdicts: dict | None, used: dict) -> None:
    """samples.csv, metrics.json, report.md + figures, and one samples.csv per control; ``used``
    holds the ``protocol`` (``evaluation.predict.protocol``) and the ``numerics``."""
    from evaluation.controls import PROMPT_MODE
    from evaluation.diversity import diversity
    from evaluation.predict import group_means, protocol_line
    from evaluation.provenance import provenance
    from evaluation.report import (
        batch_sizes,
        key_metrics,
        retrieval_chance,
        write_report,
    )
    from evaluation.run_logs import run_directory, training_curves
    from evaluation.scoring import export_order, metric_names, summarize
    from evaluation.stats import ci_table
    from evaluation.zero_shot import baselines
    from infra.atomic import atomic_write_text as write_atomic

    summary = summarize(samples)
    keys = [k for k in key_metrics(samples) if k in samples.columns]
    groups = group_means(samples, keys)
    # the bootstrap CIs, once per run: metrics.json, the report and the figures all read these
    cis = {name: ci_table(s, metric_names(s), cfg.bootstrap, seed=cfg.seed) for name, s in {"EEG": samples, **runs}.items()}
    finite = lambda v: v if v == v and abs(v) != float("inf") else None  # noqa: E731
    ci95 = lambda name: {k: [finite(float(cis[name].at[k, "lo"])), finite(float(cis[name].at[k, "hi"]))]  # noqa: E731
                         for k in keys}
    result = {
        "ckpt": str(cfg.ckpt), "phase": cfg.phase, "condition": condition,
        "config": {k: v for k, v in vars(cfg).items() if k != "config"},
        "training_run": getattr(model, "run_info", None),
        "prompt_mode": PROMPT_MODE.get(condition, cfg.prompt_mode or model.prompt_mode),
        "noise_input": condition == "noise", **used, "metrics": summary,
        "ci95": ci95("EEG"),
        "baselines": {"zero_shot": baselines(samples), "retrieval_chance": retrieval_chance(
            summary[C.POOL_SIZE], batch_sizes(summary))},
        "diversity": {name: diversity(s["Generated Text"].fillna("").tolist(), s["Input Text"].tolist())
                      for name, s in {"EEG": samples, **runs}.items()},
        "provenance": provenance(cfg.ckpt, cfg.data_dir, model.hparams.text_model_id if cfg.text_model is None
                                 else cfg.text_model, {k: v for k, v in vars(cfg).items() if k != "config"},
                                 getattr(model, "run_info", None)),
        "groups": json.loads(groups.to_json(orient="records")),
        "controls": {c: {"metrics": summarize(s), "ci95": ci95(c),
                         "comparison": json.loads(comparisons[c].to_json(orient="records"))} for c, s in runs.items()},
    }
    if verdicts:
        result["grounding"] = verdicts
    out.mkdir(parents=True, exist_ok=True)
    for name, s in runs.items():
        (out / "controls" / name).mkdir(parents=True, exist_ok=True)
        write_atomic(out / "controls" / name / "samples.csv", export_order(s).to_csv(index=False))
    write_atomic(out / "samples.csv", export_order(samples).to_csv(index=False))
    write_atomic(out / "metrics.json", json.dumps(result, indent=1) + "\n")
    if cfg.report:
        meta = {"checkpoint": Path(cfg.ckpt).name, "phase": cfg.phase, "condition": condition,
                "prompt mode": result["prompt_mode"], "beams": cfg.num_beams,
                "protocol": protocol_line(used["protocol"]).removeprefix("protocol: "),
                "numerics": used["numerics"]}
        text = write_report(out, f"GLIM test report: {Path(cfg.ckpt).name}", meta, samples, result, groups, cis,
                            runs, comparisons, training_curves(cfg.ckpt), run_directory(cfg.ckpt), cfg.examples)
        write_atomic(out / "report.md", text)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        check_config_files(sys.argv[1:] if argv is None else argv, sections=())
    except ValueError as e:
        print(f"error: {one_line(e)}", file=sys.stderr)
        return 2
    cfg = build_parser().parse_args(argv)
    errors = (StoreError, TextModelError, FileExistsError, ValueError, WriteError)
    try:
        check_options(cfg)
    except errors as e:
        print(f"error: {one_line(e)}", file=sys.stderr)
        return 1
    from infra.checkpoint_io import CheckpointError  # torch loads from here on

    try:
        out = run(cfg)
        if int(os.environ.get("RANK", "0")) > 0:
            return 0
    except (*errors, CheckpointError) as e:
        print(f"error: {one_line(e, 2000)}", file=sys.stderr)
        return 1
    from evaluation.predict import protocol_line

    result = json.loads((out / "metrics.json").read_text())
    print(protocol_line(result["protocol"]))
    summary = result["metrics"]
    print(" ".join(f"{k}={summary[k]:.4f}" for k in (C.bleu(1), C.gm_bleu(1, C.RAW_TAG), C.rouge("fmeasure"),
                                                     C.rouge_at("fmeasure", C.RAW_TAG), "WER", C.pool_recall(1),
                                                     "zero_shot/sentiment@EEG/top1", "zero_shot/corpus@EEG/top1")
                   if isinstance(summary.get(k), float)))
    if result.get("grounding"):
        from evaluation.grounding import grounding_lines

        print("\n".join(grounding_lines(result["grounding"])))
    from evaluation.diversity import diversity_line

    print(diversity_line(result["diversity"]["EEG"]))
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
