"""Per-sample metrics on 2208 rows: torchmetrics loop vs the batched `score_samples`.

Run `python -m bench.bench_metrics`; exits non-zero when the values differ or the speed-up is < 10x.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.metrics import reference_score_loop, score_samples

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_CSV = ROOT.parent / "shared" / "reference" / "glim_published_samples_head120.csv"
N_ROWS = 2208
MIN_SPEEDUP = 10.0


def perturb(text: str, rng: np.random.Generator) -> str:
    """Drop, duplicate or swap a few words, so the repeated rows are not all identical."""
    words = text.split()
    for _ in range(int(rng.integers(0, 4))):
        if not words:
            break
        i = int(rng.integers(len(words)))
        op = int(rng.integers(3))
        if op == 0:
            words.pop(i)
        elif op == 1:
            words.insert(i, words[i])
        else:
            j = int(rng.integers(len(words)))
            words[i], words[j] = words[j], words[i]
    return " ".join(words)


def bench_inputs(n_rows: int = N_ROWS, seed: int = 0) -> tuple[list[str], list[list[str]], list[str]]:
    """The 120 published rows repeated to n_rows; every repeat after the first has its generated text perturbed."""
    df = pd.read_csv(REFERENCE_CSV, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(seed)
    idx = np.arange(n_rows) % len(df)
    generated = [
        df["Generated Text"].iat[i] if k < len(df) else perturb(df["Generated Text"].iat[i], rng)
        for k, i in enumerate(idx)
    ]
    refs = [json.loads(df["targets_json"].iat[i]) for i in idx]
    raw = [df["Input Text"].iat[i] for i in idx]
    return generated, refs, raw


def timed(fn, *args, repeat: int = 1) -> tuple[float, pd.DataFrame]:
    """Best wall time over `repeat` runs and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> int:
    """Time both scorers on the same inputs, compare values, print the speed-up."""
    if not REFERENCE_CSV.is_file():
        print(f"missing {REFERENCE_CSV}", file=sys.stderr)
        return 1
    generated, refs, raw = bench_inputs()
    t_batch, batched = timed(score_samples, generated, refs, raw, repeat=3)
    t_loop, looped = timed(reference_score_loop, generated, refs, raw)
    equal = batched.columns.equals(looped.columns) and np.array_equal(
        batched.to_numpy(), looped.to_numpy(), equal_nan=True
    )
    max_diff = float(np.nanmax(np.abs(batched.to_numpy() - looped.to_numpy())))
    ratio = t_loop / t_batch
    print(f"rows {len(generated)}, metric columns {batched.shape[1]}")
    print(f"torchmetrics loop : {t_loop:8.3f} s")
    print(f"score_samples     : {t_batch:8.3f} s (best of 3)")
    print(f"speed-up          : {ratio:8.1f}x (required >= {MIN_SPEEDUP:.0f}x)")
    print(f"identical values  : {equal} (max |diff| {max_diff:.3g})")
    return 0 if equal and ratio >= MIN_SPEEDUP else 1


if __name__ == "__main__":
    sys.exit(main())
