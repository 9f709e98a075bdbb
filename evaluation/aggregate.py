"""Aggregate several runs (e.g. seeds): mean ± 95% t-interval per metric across runs.

    python aggregate.py results/run1 results/run2 ... --out results/agg [--overwrite]

Reads each run's ``metrics.json`` (as written by test.py) and writes ``aggregate.json`` and
``aggregate.md`` to ``--out``. Besides the EEG run's metrics, each control's metrics
(``<control>/<metric>``) and paired differences (``<control> − EEG/<metric>``) are aggregated.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from evaluation.report import fmt, markdown_table
from evaluation.stats import t_interval
from infra.atomic import atomic_write_text as write_atomic

OUTPUT_FILES = ("aggregate.json", "aggregate.md")


class AggregateError(Exception):
    """A user-facing error, reported as one line."""


def flatten(result: dict[str, Any]) -> dict[str, float]:
    """Numeric figures of one run's metrics.json, keyed by metric name."""
    out = {k: float(v) for k, v in result.get("metrics", {}).items() if isinstance(v, (int, float))}
    for control, c in result.get("controls", {}).items():
        out |= {f"{control}/{k}": float(v) for k, v in c.get("metrics", {}).items() if isinstance(v, (int, float))}
        out |= {f"{control} − EEG/{row['metric']}": float(row["diff"]) for row in c.get("comparison", [])
                if isinstance(row.get("diff"), (int, float))}
    return out


def read_runs(run_dirs: Sequence[Path]) -> pd.DataFrame:
    """(runs × metrics) table; a metric missing from a run is NaN there."""
    rows = {}
    for d in run_dirs:
        f = Path(d) / "metrics.json"
        if not f.is_file():
            raise AggregateError(f"{d} holds no metrics.json (run test.py with --out {d} first)")
        try:
            rows[str(d)] = flatten(json.loads(f.read_text()))
        except json.JSONDecodeError as e:
            raise AggregateError(f"{f} is not valid JSON ({e.msg})") from e
    return pd.DataFrame.from_dict(rows, orient="index")


def aggregate(table: pd.DataFrame, level: float = 0.95) -> dict[str, dict[str, float]]:
    """Per metric: mean, t-interval (lo, hi), sd and number of runs."""
    return {c: t_interval(table[c].to_numpy(float), level) for c in table.columns}


def to_markdown(summary: dict[str, dict[str, float]], runs: list[str]) -> str:
    rows = pd.DataFrame([{"metric": k, "mean": v["mean"], "95% CI (t)": f"[{fmt(v['lo'])}, {fmt(v['hi'])}]",
                          "± half-width": (v["hi"] - v["mean"]), "sd": v["sd"], "runs": v["n"]}
                         for k, v in summary.items()])
    head = [f"# Aggregate of {len(runs)} runs", "", *[f"- `{r}`" for r in runs], "",
            "Mean across runs with a Student-t 95% confidence interval.", ""]
    return "\n".join(head) + markdown_table(rows) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="aggregate.py", description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path, help="result directories of test.py")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--level", type=float, default=0.95)
    p.add_argument("--overwrite", action="store_true", help="replace results already in --out")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> dict[str, Any]:
    held = [f for f in OUTPUT_FILES if (args.out / f).exists()]
    if held and not args.overwrite:
        raise AggregateError(f"{args.out} already holds results ({', '.join(held)}); pass --overwrite to replace them")
    table = read_runs(args.runs)
    summary = aggregate(table, args.level)
    runs = [str(r) for r in args.runs]
    clean = {k: {m: (None if isinstance(x, float) and x != x else x) for m, x in v.items()} for k, v in summary.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out / "aggregate.json", json.dumps({"runs": runs, "level": args.level, "metrics": clean},
                                                         indent=1) + "\n")
    write_atomic(args.out / "aggregate.md", to_markdown(summary, runs))
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = run(args)
    except AggregateError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    shown = [k for k in ("Bleu1", "Rouge1-fmeasure", "retrieval_pool/MRR") if k in summary]
    print("; ".join(f"{k} {summary[k]['mean']:.4f} ± {summary[k]['hi'] - summary[k]['mean']:.4f}" for k in shown))
    print(f"aggregate of {len(args.runs)} runs written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
