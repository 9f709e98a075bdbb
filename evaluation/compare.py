"""Compare two test runs on the same test samples: ``python -m evaluation.compare RUN_A RUN_B --out DIR``.

RUN_A and RUN_B are ``test.py`` result directories (``samples.csv``, and ``controls/noise/samples.csv``
when run with the noise control), typically an EEG-trained model (A) and one trained on noise
(``train.py --data.noise_input true``, B): the train-on-noise control, which separates what the
EEG tells the model from what its language prior writes anyway. Every metric is compared per
sample, B − A, with a paired bootstrap CI and sign-flip p-values (``evaluation.grounding.compare``).
Writes DIR/comparison.csv, DIR/comparison.json and DIR/comparison.md; when both runs hold the
noise control, comparison.md also shows the 2×2 grid (trained on EEG / noise × tested on EEG / noise).
Runs on different test samples are refused with a one-line error.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.columns import (
    POOL_MRR,
    RAW_TAG,
    SAMPLE,
    WER,
    bleu,
    gm_bleu,
    rouge,
    zero_shot,
)
from evaluation.grounding import compare
from evaluation.tables import markdown_table
from infra.atomic import atomic_write_text
from infra.errors import GLIMError

NOISE_SAMPLES = Path("controls") / "noise" / "samples.csv"
OUTPUT_FILES = ("comparison.csv", "comparison.json", "comparison.md")
GRID_METRICS = (bleu(1), rouge("fmeasure"), gm_bleu(1, RAW_TAG), WER, POOL_MRR, zero_shot("sentiment", "EEG"),
                zero_shot("corpus", "EEG"))
"""The figures of the 2×2 grid (those present in both runs)."""
RENAMED = {"eeg": "A", "control": "B", "diff": "B − A", "p_eeg_better": "p (A better)",
           "p_control_better": "p (B better)", "eeg_better": "A significantly better"}


class CompareError(GLIMError):
    """A user-facing error, reported as one line."""


def read_samples(path: Path) -> pd.DataFrame:
    """A per-sample table of a test run."""
    if not path.is_file():
        raise CompareError(f"{path} not found (is {path.parent} a test.py result directory?)")
    return pd.read_csv(path, keep_default_na=True)


def check_same_samples(a: pd.DataFrame, b: pd.DataFrame, name_a: str, name_b: str) -> None:
    """Refuse runs that do not hold the same test samples in the same order."""
    for df, name in ((a, name_a), (b, name_b)):
        if SAMPLE not in df.columns:
            raise CompareError(f"{name} has no {SAMPLE!r} column: not a test.py samples table")
    sa, sb = a[SAMPLE].to_numpy(), b[SAMPLE].to_numpy()
    if len(sa) != len(sb) or not np.array_equal(sa, sb):
        only_a, only_b = len(set(sa) - set(sb)), len(set(sb) - set(sa))
        raise CompareError(f"{name_a} and {name_b} hold different test samples ({len(sa)} vs {len(sb)} rows; "
                           f"{only_a} only in the first, {only_b} only in the second): run test.py on the same "
                           "store and protocol")


def comparison(a: pd.DataFrame, b: pd.DataFrame, n_resamples: int = 2000, n_permutations: int = 2000,
               seed: int = 0) -> pd.DataFrame:
    """Per metric: means of A and B, B − A with a paired bootstrap CI and p-values."""
    return compare(a, b, n_resamples, n_permutations, seed).rename(columns=RENAMED)


def grid(runs: dict[tuple[str, str], pd.DataFrame]) -> pd.DataFrame:
    """Rows ``(trained on, tested on)``, one column per grid metric present in every run: the means."""
    metrics = [m for m in GRID_METRICS if all(m in df.columns for df in runs.values())]
    rows = [{"trained on": trained, "tested on": tested, **{m: float(df[m].mean()) for m in metrics}}
            for (trained, tested), df in runs.items()]
    return pd.DataFrame(rows)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m evaluation.compare", description=__doc__.splitlines()[0])
    p.add_argument("run_a", type=Path, help="test.py result directory (e.g. the EEG-trained model)")
    p.add_argument("run_b", type=Path, help="test.py result directory (e.g. the noise-trained model)")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples")
    p.add_argument("--permutations", type=int, default=2000, help="sign flips of the paired test")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace results already in --out")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> pd.DataFrame:
    """Compare the two runs, write the result files; return the comparison table."""
    a, b = read_samples(args.run_a / "samples.csv"), read_samples(args.run_b / "samples.csv")
    check_same_samples(a, b, str(args.run_a), str(args.run_b))
    held = [f for f in OUTPUT_FILES if (args.out / f).exists()]
    if held and not args.overwrite:
        raise CompareError(f"{args.out} already holds results ({', '.join(held)}); pass --overwrite to replace them")
    table = comparison(a, b, args.bootstrap, args.permutations, args.seed)
    lines = [f"# {args.run_b.name} (B) vs {args.run_a.name} (A), {len(a)} paired test samples", "",
             f"A: `{args.run_a}`  ", f"B: `{args.run_b}`", "",
             "B − A per metric, 95% paired bootstrap CI, sign-flip p-values (one-sided, unadjusted).", "",
             markdown_table(table)]
    noise = [args.run_a / NOISE_SAMPLES, args.run_b / NOISE_SAMPLES]
    grid_table = None
    if all(p.is_file() for p in noise):
        runs = {("EEG (A)", "EEG"): a, ("EEG (A)", "noise"): read_samples(noise[0]),
                ("noise (B)", "EEG"): b, ("noise (B)", "noise"): read_samples(noise[1])}
        grid_table = grid(runs)
        lines += ["", "## Trained on EEG / noise × tested on EEG / noise (means)", "", markdown_table(grid_table)]
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "comparison.csv", table.to_csv(index=False))
    result = {"run_a": str(args.run_a), "run_b": str(args.run_b), "n": len(a),
              "comparison": json.loads(table.to_json(orient="records")),
              "grid": None if grid_table is None else json.loads(grid_table.to_json(orient="records"))}
    atomic_write_text(args.out / "comparison.json", json.dumps(result, indent=1) + "\n")
    atomic_write_text(args.out / "comparison.md", "\n".join(lines) + "\n")
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 on success, 1 with a one-line error otherwise."""
    args = parse_args(argv)
    try:
        table = run(args)
    except GLIMError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    better = int(table["A significantly better"].sum())
    print(f"compared {len(table)} metrics: A significantly better on {better}; results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
