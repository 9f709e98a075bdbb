"""Generate and score the test split with a GLIM checkpoint.

    python test.py --ckpt checkpoints/glim-zuco-epoch=199-step=49600.ckpt \
                   [--text-model checkpoints/flan-t5-large] [--data_dir data/processed/zuco] \
                   [--out results/glim-zuco] [--noise-input] [--prompt-mode zero]

Writes ``samples.csv`` (one row per test sample: input text, targets, generated text, per-sample
BLEU-1..4 / ROUGE-1 / WER, labels), ``metrics.json`` (means, retrieval) and ``report.md``.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from jsonargparse import ActionConfigFile, ArgumentParser

RESULT_FILES = ("samples.csv", "metrics.json", "report.md")


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
    parser.add_argument("--prompt-mode", type=str | None, default=None, help="src | zero | sum | mean")
    parser.add_argument("--noise-input", type=bool, default=False, help="replace every EEG by noise")
    parser.add_argument("--num_workers", type=int, default=0)
    parser.add_argument("--device", type=str, default="auto", help="auto | cpu | cuda | cuda:1 ...")
    parser.add_argument("--overwrite", type=bool, default=False, help="replace results in --out")
    parser.add_argument("--progress", type=bool, default=True)
    return parser


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def score(pred, model, batch_size: int) -> tuple["pd.DataFrame", dict]:
    """Per-sample metrics (strings round-tripped through the tokenizer, SPEC §5) and summary."""
    import numpy as np

    from model.metrics import metric_columns, roundtrip, score_samples, score_teacher_forced
    from model.retrieval import batch_retrieval, pool_retrieval

    tok = model.text_model.tokenizer
    hp = model.hparams
    s = pred.samples
    n_refs = len(s["targets"].iloc[0])
    refs_flat = roundtrip([t for ts in s["targets"] for t in ts], tok, hp.tgt_text_len)
    refs = [refs_flat[i * n_refs:(i + 1) * n_refs] for i in range(len(s))]
    raw = roundtrip(list(s["Input Text"]), tok, hp.input_text_len)
    gen = roundtrip(list(s["Generated Text"]), tok, hp.tgt_text_len)
    tf = roundtrip(list(s["Generated Text (w/tf)"]), tok, hp.tgt_text_len)
    s = s.assign(**{"Input Text": raw, "Generated Text": gen, "Generated Text (w/tf)": tf,
                    "targets_json": [json.dumps(r, ensure_ascii=False) for r in refs]}).drop(columns="targets")
    scored = score_samples(gen, refs, raw)
    samples = s.join(scored).join(score_teacher_forced(tf, raw))
    cols = [c for c in samples.columns if c in set(metric_columns(n_refs)) or c.endswith("(w/tf)")
            and c != "Generated Text (w/tf)"]
    metrics = {c: float(samples[c].mean()) for c in cols}
    metrics |= batch_retrieval(pred.eeg_vec, pred.text_vec, s["batch"].to_numpy(), batch_size)
    metrics |= pool_retrieval(pred.eeg_vec, pred.text_vec, s["text uid"].to_numpy())
    metrics["n_samples"] = int(len(samples))
    return samples, {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in metrics.items()}


def markdown_table(df) -> str:
    """A DataFrame as a Markdown table (floats with 3 decimals)."""
    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    rows = [" | ".join(map(str, df.columns)), " | ".join("---" for _ in df.columns)]
    rows += [" | ".join(fmt(v) for v in r) for r in df.itertuples(index=False)]
    return "\n".join(f"| {r} |" for r in rows)


def report(metrics: dict, samples, groups, title: str) -> str:
    head = ["Bleu1", "Bleu2", "Bleu3", "Bleu4", "Rouge1-precision", "Rouge1-recall", "Rouge1-fmeasure", "WER"]
    lines = [f"# {title}", "", f"{metrics['n_samples']} test samples.", "",
             "| metric | value |", "| --- | --- |"]
    lines += [f"| {k} | {metrics[k]:.4f} |" for k in metrics if k != "n_samples" and isinstance(metrics[k], float)
              and (k in head or k.startswith("retrieval"))]
    lines += ["", "## Per group", "", markdown_table(groups), "",
              "## Examples", ""]
    for _, r in samples.head(8).iterrows():
        lines += [f"- **input:** {r['Input Text']}  ", f"  **generated:** {r['Generated Text']}"]
    return "\n".join(lines) + "\n"


def run(cfg) -> Path:
    import torch
    from torch.utils.data import DataLoader

    from data.dataset import GLIMDataset, collate
    from data.sampler import DistinctUidBatchSampler
    from data.store import open_store
    from model.checkpoint import glim_from_checkpoint
    from model.evaluate import group_means, predict

    out = Path(cfg.out)
    existing = [f for f in RESULT_FILES if (out / f).exists()]
    if existing and not cfg.overwrite:
        raise FileExistsError(f"{out} already holds results ({', '.join(existing)}); pass --overwrite "
                              "to replace them or choose another --out")
    store = open_store(cfg.data_dir)
    model = glim_from_checkpoint(cfg.ckpt, cfg.text_model)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device
    model.to(device)
    ds = GLIMDataset(store, cfg.phase, noise_input=cfg.noise_input)
    if len(ds) == 0:
        raise ValueError(f"{cfg.data_dir} holds no {cfg.phase} samples")
    bsz = cfg.batch_size or model.hparams.bsz_val
    loader = DataLoader(ds, batch_sampler=DistinctUidBatchSampler(ds.uids, bsz, shuffle=False, drop_last=False),
                        collate_fn=collate, num_workers=cfg.num_workers)
    pred = predict(model, loader, cfg.prompt_mode, cfg.num_beams, cfg.max_length, cfg.progress)
    samples, metrics = score(pred, model, model.hparams.bs_retrieval)
    head = ["Bleu1", "Bleu2", "Bleu3", "Bleu4", "Rouge1-precision", "Rouge1-recall", "Rouge1-fmeasure", "WER"]
    groups = group_means(samples, head)
    summary = json.dumps({"ckpt": str(cfg.ckpt), "phase": cfg.phase,
                                                   "noise_input": cfg.noise_input,
                                                   "prompt_mode": cfg.prompt_mode or model.prompt_mode,
                                                   "metrics": metrics}, indent=1)
    text = report(metrics, samples, groups, f"GLIM test report: {Path(cfg.ckpt).name}")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "samples.csv", samples.to_csv(index=False))
    atomic_write(out / "metrics.json", summary)
    atomic_write(out / "report.md", text)
    return out


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    cfg = build_parser().parse_args(argv)
    from data.store import StoreError
    from model.checkpoint import CheckpointError
    from model.text_model import TextModelError

    try:
        out = run(cfg)
    except (StoreError, CheckpointError, TextModelError, FileExistsError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    summary = json.loads((out / "metrics.json").read_text())["metrics"]
    print(" ".join(f"{k}={summary[k]:.4f}" for k in ("Bleu1", "Rouge1-fmeasure", "WER", "retrieval_pool/R@1")
                   if isinstance(summary.get(k), float)))
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
