"""Score a CSV of generated texts: `python -m evaluation.score INPUT.csv --out DIR`.

Writes DIR/samples.csv (the input columns and every per-sample metric) and DIR/metrics.json
(the mean of every metric column and n). Works on any table with a raw-sentence column and a
generated-text column; a JSON-list column of references adds the @MTV metrics. A column
`<generated col> (w/tf)`, when present, is scored too as teacher-forced predictions.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from evaluation import columns as C
from evaluation.diversity import diversity, diversity_line
from evaluation.metrics import TF_SUFFIX, roundtrip, score_samples, score_teacher_forced
from evaluation.semantic import load_encoder, semantic_frame
from infra.atomic import atomic_dir, atomic_write_text
from infra.errors import GLIMError
from infra.writable import check_writable
from model.config import GLIMConfig

CHUNK = 512
TARGET_TOKENS, RAW_TOKENS = GLIMConfig.tgt_text_len, GLIMConfig.input_text_len  # the published 64 and 96
OUTPUT_FILES = ("samples.csv", "metrics.json")
DEFAULT_TARGETS_COL = "targets_json"


class ScoreError(GLIMError):
    """A user-facing error, reported as one line."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m evaluation.score", description=__doc__.splitlines()[0])
    p.add_argument("input", type=Path, help="CSV with the raw sentence and the generated text")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--generated-col", default="Generated Text")
    p.add_argument("--input-col", default="Input Text", help="raw sentence (reference of @RAW and WER)")
    p.add_argument("--targets-col", default=None,
                   help=f"JSON list of references per row (default: {DEFAULT_TARGETS_COL} when present)")
    p.add_argument("--tokenizer", default=None,
                   help="tokenizer id or directory; texts are round-tripped through it before scoring")
    p.add_argument("--semantic", default=None, metavar="MODEL",
                   help="also BERTScore, sentence-embedding cosine and N-way retrieval from this text encoder "
                        "(hub id or directory; evaluation.semantic)")
    p.add_argument("--overwrite", action="store_true", help="replace results already in --out")
    return p.parse_args(argv)


def check_input(path: Path) -> None:
    """Fail unless the input is a readable file."""
    if not path.is_file():
        raise ScoreError(f"input file not found: {path}")
    if not os.access(path, os.R_OK):
        raise ScoreError(f"input file not readable: {path}")


def read_table(path: Path) -> pd.DataFrame:
    """The input CSV with every cell as a string (empty cells stay empty strings)."""
    check_input(path)
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ScoreError(f"cannot read {path} as CSV: {str(err).splitlines()[0]}") from err


def require_column(df: pd.DataFrame, name: str, option: str) -> None:
    """Fail naming the missing column and the available ones."""
    if name not in df.columns:
        raise ScoreError(f"column {name!r} ({option}) not in input; available: {', '.join(map(repr, df.columns))}")


def parse_targets(cells: Sequence[str], col: str) -> list[list[str]]:
    """JSON lists of reference strings, one per row (a JSON string counts as a list of one)."""
    out: list[list[str]] = []
    for row, cell in enumerate(cells):
        try:
            value = json.loads(cell)
        except json.JSONDecodeError as err:
            raise ScoreError(f"row {row}: column {col!r} is not valid JSON ({err.msg})") from err
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ScoreError(f"row {row}: column {col!r} must be a JSON list of strings")
        out.append(value)
    return out


def check_out_dir(out: Path, overwrite: bool) -> None:
    """Create the output directory; refuse to replace earlier results unless asked to."""
    if out.exists() and not out.is_dir():
        raise ScoreError(f"--out {out} exists and is not a directory")
    check_writable(out)
    held = [f for f in OUTPUT_FILES if (out / f).exists()]
    if held and not overwrite:
        raise ScoreError(f"{out} already holds results ({', '.join(held)}); pass --overwrite to replace them")


def load_tokenizer(name: str) -> Any:
    """A Hugging Face tokenizer by id or directory."""
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(name)
    except Exception as err:  # noqa: BLE001 - any loading failure is reported the same way
        raise ScoreError(f"cannot load tokenizer {name!r}: {str(err).splitlines()[0] if str(err) else err!r}") from err


def roundtrip_refs(refs: list[list[str]], tokenizer: Any) -> list[list[str]]:
    """Round-trip every reference with one batched tokenizer call."""
    flat = roundtrip([r for rs in refs for r in rs], tokenizer, TARGET_TOKENS)
    out, i = [], 0
    for rs in refs:
        out.append(flat[i : i + len(rs)])
        i += len(rs)
    return out


def score_in_chunks(
    generated: list[str], refs: list[list[str]] | None, raw: list[str], tf: list[str] | None,
    tf_targets: list[str] | None = None,
) -> pd.DataFrame:
    """`score_samples` (and teacher-forced scores: BLEU/ROUGE against ``tf_targets``, default the
    raw sentence; WER against the raw sentence) chunk by chunk, with a progress bar for long inputs."""
    from rich.console import Console
    from rich.progress import Progress

    parts = []
    with Progress(console=Console(stderr=True), transient=True, disable=len(generated) <= CHUNK) as bar:
        task = bar.add_task("scoring", total=len(generated))
        for lo in range(0, max(len(generated), 1), CHUNK):
            hi = lo + CHUNK
            part = score_samples(generated[lo:hi], None if refs is None else refs[lo:hi], raw[lo:hi])
            if tf is not None:
                targets = None if tf_targets is None else tf_targets[lo:hi]
                part = pd.concat([part, score_teacher_forced(tf[lo:hi], raw[lo:hi], targets)], axis=1)
            parts.append(part)
            bar.advance(task, len(part))
    return pd.concat(parts, ignore_index=True)


def corpus_means(scores: pd.DataFrame) -> dict[str, Any]:
    """n and the mean of every metric column (null when not finite)."""
    means = {c: float(scores[c].mean()) for c in scores.columns}
    return {"n": len(scores), "metrics": {c: (v if math.isfinite(v) else None) for c, v in means.items()}}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Score the input table and write the two result files; return the corpus summary."""
    check_input(args.input)  # the paths first, before reading or loading anything
    check_out_dir(args.out, args.overwrite)
    df = read_table(args.input)
    require_column(df, args.input_col, "--input-col")
    require_column(df, args.generated_col, "--generated-col")
    targets_col = args.targets_col
    if targets_col is not None:
        require_column(df, targets_col, "--targets-col")
    elif DEFAULT_TARGETS_COL in df.columns:
        targets_col = DEFAULT_TARGETS_COL

    tf_col = args.generated_col + TF_SUFFIX
    raw = df[args.input_col].tolist()
    generated = df[args.generated_col].tolist()
    tf = df[tf_col].tolist() if tf_col in df.columns else None
    refs = parse_targets(df[targets_col].tolist(), targets_col) if targets_col else None
    tf_targets = None  # without a tokenizer: the raw sentence as given
    if args.tokenizer:
        tok = load_tokenizer(args.tokenizer)
        tf_targets = roundtrip(raw, tok, TARGET_TOKENS)  # the raw sentence as the decoder was taught it
        raw, generated = roundtrip(raw, tok, RAW_TOKENS), roundtrip(generated, tok, TARGET_TOKENS)
        tf = None if tf is None else roundtrip(tf, tok, TARGET_TOKENS)
        refs = None if refs is None else roundtrip_refs(refs, tok)
        df[args.input_col], df[args.generated_col] = raw, generated
        if tf is not None:
            df[tf_col] = tf
        if refs is not None:
            df[targets_col] = [json.dumps(r, ensure_ascii=False) for r in refs]
    try:
        scores = score_in_chunks(generated, refs, raw, tf, tf_targets)
        if args.semantic:  # optional: nothing is loaded without the option
            scores = pd.concat([scores, semantic_frame(load_encoder(args.semantic), generated, raw)], axis=1)
    except ValueError as err:  # SemanticModelError included
        raise ScoreError(str(err)) from err

    samples = pd.concat([df.drop(columns=[c for c in scores.columns if c in df.columns]), scores], axis=1)
    summary = corpus_means(scores) | {"diversity": diversity(generated, raw)}
    with atomic_dir(args.out, replaces=OUTPUT_FILES) as partial:  # renamed when complete
        atomic_write_text(partial / "samples.csv", samples.to_csv(index=False))
        atomic_write_text(partial / "metrics.json", json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 on success, 1 with a one-line error otherwise."""
    args = parse_args(argv)
    try:
        summary = run(args)
    except GLIMError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    m = summary["metrics"]
    headline = (C.bleu(1), C.gm_bleu(1, C.RAW_TAG), C.rouge("fmeasure"), C.gm_rouge(C.RAW_TAG), "WER")  # @RAW beside @MTV
    shown = ", ".join(f"{k} {m[k]:.4f}" for k in headline if m.get(k) is not None)
    print(f"scored {summary['n']} samples -> {args.out} ({shown})")
    print(diversity_line(summary["diversity"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
