"""Scorer speed on 2208 rows: the original's metric code vs GLIM's batched scorer, in one run.

    python -m bench.bench_metrics [--process]

The 120 published rows (``../shared/reference/glim_published_samples_head120.csv``) are repeated to
2208 rows, the repeats with perturbed generations. Both scorers score the generated column (@MTV,
@MTVk, @RAW, WER) and the teacher-forced column (``(w/tf)``). The original's metric code is stood
in for by ``evaluation.metrics.reference_score_loop``: one call of torchmetrics' functional
``bleu_score`` / ``rouge_score`` / ``word_error_rate`` per sample and metric, as the original
computes its per-sample table. ``--process`` also times whole processes (interpreter and imports
included): ``python -m evaluation.score FILE.csv`` against a process running the loop on the same
file. Exits non-zero when the values differ or a ratio is under its target (20x scoring, 8x process).
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.columns import GENERATED, GENERATED_TF, INPUT_TEXT, TARGETS_JSON
from evaluation.metrics import (
    reference_score_loop,
    score_samples,
    score_teacher_forced,
    teacher_forced,
)
from infra.options import OptionParser

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_CSV = ROOT.parent / "shared" / "reference" / "glim_published_samples_head120.csv"
N_ROWS = 2208
MIN_SPEEDUP, MIN_PROCESS_SPEEDUP = 20.0, 8.0
LOOP_PROCESS = """
import json, sys
import pandas as pd
from evaluation.metrics import reference_score_loop, teacher_forced
df = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
raw, refs = df["Input Text"].tolist(), [json.loads(t) for t in df["targets_json"]]
gen, tf = df["Generated Text"].tolist(), df["Generated Text (w/tf)"].tolist()
out = pd.concat([reference_score_loop(gen, refs, raw), teacher_forced(reference_score_loop(tf, [[r] for r in raw], raw))], axis=1)
pd.concat([df, out], axis=1).to_csv(sys.argv[2], index=False)
"""


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


def bench_table(n_rows: int = N_ROWS, seed: int = 0) -> pd.DataFrame:
    """The published rows repeated to ``n_rows``; generated and teacher-forced texts of every repeat
    after the first perturbed."""
    df = pd.read_csv(REFERENCE_CSV, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(seed)
    out = df.iloc[np.arange(n_rows) % len(df)].reset_index(drop=True)
    for col in (GENERATED, GENERATED_TF):
        out[col] = [t if k < len(df) else perturb(t, rng) for k, t in enumerate(out[col])]
    return out[[INPUT_TEXT, TARGETS_JSON, GENERATED, GENERATED_TF]]


def bench_inputs(n_rows: int = N_ROWS, seed: int = 0) -> tuple[list[str], list[list[str]], list[str]]:
    """(generated, references, raw) of ``bench_table``."""
    t = bench_table(n_rows, seed)
    return t[GENERATED].tolist(), [json.loads(s) for s in t[TARGETS_JSON]], t[INPUT_TEXT].tolist()


def batched(table: pd.DataFrame) -> pd.DataFrame:
    """GLIM's scorer on the generated and teacher-forced columns."""
    raw, refs = table[INPUT_TEXT].tolist(), [json.loads(s) for s in table[TARGETS_JSON]]
    return pd.concat([score_samples(table[GENERATED].tolist(), refs, raw),
                      score_teacher_forced(table[GENERATED_TF].tolist(), raw)], axis=1)


def looped(table: pd.DataFrame) -> pd.DataFrame:
    """The original's per-sample torchmetrics calls on the same columns."""
    raw, refs = table[INPUT_TEXT].tolist(), [json.loads(s) for s in table[TARGETS_JSON]]
    tf = reference_score_loop(table[GENERATED_TF].tolist(), [[r] for r in raw], raw)
    return pd.concat([reference_score_loop(table[GENERATED].tolist(), refs, raw), teacher_forced(tf)], axis=1)


def timed(fn, *args, repeat: int = 1) -> tuple[float, pd.DataFrame]:
    """Best wall time over `repeat` runs and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, out


def process_seconds(cmd: list[str]) -> float:
    """Wall time of a whole process."""
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    """Time both scorers on the same inputs, compare values, print the ratios."""
    p = OptionParser(prog="python -m bench.bench_metrics", description=__doc__.splitlines()[0])
    p.add_argument("--process", action="store_true", help="also time whole processes on a 2208-row CSV")
    args = p.parse_args(argv)
    if not REFERENCE_CSV.is_file():
        print(f"missing {REFERENCE_CSV}", file=sys.stderr)
        return 1
    table = bench_table()
    t_batch, fast = timed(batched, table, repeat=3)
    t_loop, slow = timed(looped, table)
    equal = fast.columns.equals(slow.columns) and np.array_equal(fast.to_numpy(), slow.to_numpy(), equal_nan=True)
    max_diff = float(np.nanmax(np.abs(fast.to_numpy() - slow.to_numpy())))
    ratio = t_loop / t_batch
    ok = equal and ratio >= MIN_SPEEDUP
    print(f"rows {len(table)} (generated + teacher-forced), metric columns {fast.shape[1]}")
    print("| what | original's metric code (torchmetrics loop) | GLIM scorer | ratio |\n| --- | --- | --- | --- |")
    print(f"| scoring | {t_loop:.2f} s | {t_batch:.3f} s (best of 3) | {ratio:.1f}x (target >= {MIN_SPEEDUP:.0f}x) |")
    if args.process:
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "published_2208.csv"
            table.to_csv(csv, index=False)
            t_proc_loop = process_seconds([sys.executable, "-c", LOOP_PROCESS, str(csv), str(Path(tmp) / "loop.csv")])
            t_proc = process_seconds([sys.executable, "-m", "evaluation.score", str(csv), "--out", str(Path(tmp) / "s")])
        proc_ratio = t_proc_loop / t_proc
        ok = ok and proc_ratio >= MIN_PROCESS_SPEEDUP
        print(f"| whole process | {t_proc_loop:.2f} s | {t_proc:.2f} s (`python -m evaluation.score`) | "
              f"{proc_ratio:.1f}x (target >= {MIN_PROCESS_SPEEDUP:.0f}x) |")
    print(f"identical values: {equal} (max |diff| {max_diff:.3g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
