"""Aggregate several runs (e.g. seeds): mean ± 95% t-interval per metric across runs.

    python aggregate.py results/run1 results/run2 ... --out results/agg [--overwrite]

Reads each run's ``metrics.json`` (as written by test.py) and writes ``aggregate.json`` and
``aggregate.md`` to ``--out``. Besides the EEG run's metrics, each control's metrics
(``<control>/<metric>``) and paired differences (``<control> − EEG/<metric>``) are aggregated.

The runs must differ in their seeds only (``SEED_KEYS``): the same data (store hash), text
model, training configuration, test options and checkpoint epoch; ``--allow-different``
aggregates them anyway and lists the differences. The same directory twice, or two runs of one
checkpoint (same hash), is refused.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from evaluation import columns as C
from evaluation.stats import t_interval
from evaluation.tables import fmt, markdown_table
from infra.atomic import atomic_dir
from infra.atomic import atomic_write_text as write_atomic
from infra.errors import GLIMError

OUTPUT_FILES = ("aggregate.json", "aggregate.md")
SEED_KEYS = frozenset({"seed", "data.seed", "data.sampler_seed"})
"""What may differ between the runs of a multi-seed study: train.py's ``--seed`` (initial
weights, dropout, workers), ``--data.sampler_seed`` (batch order), ``--data.seed`` (the noise
control), and test.py's ``--seed`` (bootstrap and permutations)."""
IGNORED_KEYS = frozenset({
    "out_dir", "run_name", "resume", "overwrite", "progress", "logger", "ckpt_every", "ckpt_every_n_steps",
    "record_batches", "text_cache_dir", "compile_encoder", "data.num_workers", "data.pin_memory",
    "data.data_dir", "text_model", "model.text_model_id", "config", "ckpt", "out", "report", "examples",
    "num_workers", "device", "data_dir", "text-model", "bootstrap", "permutations",
})
"""Bookkeeping options (paths, logging, speed) that do not change a result; the data and the text
model are compared by identity instead."""


class AggregateError(GLIMError):
    """A user-facing error, reported as one line."""


def flatten(result: dict[str, Any]) -> dict[str, float]:
    """Numeric figures of one run's metrics.json, keyed by metric name."""
    out = {k: float(v) for k, v in result.get("metrics", {}).items() if isinstance(v, (int, float))}
    for control, c in result.get("controls", {}).items():
        out |= {f"{control}/{k}": float(v) for k, v in c.get("metrics", {}).items() if isinstance(v, (int, float))}
        out |= {f"{control} − EEG/{row['metric']}": float(row["diff"]) for row in c.get("comparison", [])
                if isinstance(row.get("diff"), (int, float))}
    return out


def read_results(run_dirs: Sequence[Path]) -> dict[str, dict[str, Any]]:
    """Each run's metrics.json; the same directory twice is refused."""
    results, seen = {}, {}
    for d in run_dirs:
        real = Path(d).resolve()
        if real in seen:
            raise AggregateError(f"{d} is given twice (also as {seen[real]}): each run counts once")
        seen[real] = d
        f = Path(d) / "metrics.json"
        if not f.is_file():
            raise AggregateError(f"{d} holds no metrics.json (run test.py with --out {d} first)")
        try:
            results[str(d)] = json.loads(f.read_text())
        except json.JSONDecodeError as e:
            raise AggregateError(f"{f} is not valid JSON ({e.msg})") from e
    return results


def dotted(tree: Any, prefix: str = "") -> dict[str, Any]:
    """A nested dict as ``{"a.b": leaf}``."""
    if not isinstance(tree, dict):
        return {prefix: tree} if prefix else {}
    out = {}
    for k, v in tree.items():
        out |= dotted(v, f"{prefix}.{k}" if prefix else str(k))
    return out


def checkpoint_epoch(epoch: int | None, path: str | None) -> int | None:
    """The checkpoint's epoch: recorded, else from a ``...epoch=E...`` file name."""
    if epoch is None and path:
        found = re.search(r"epoch=(\d+)", Path(path).name)
        epoch = int(found.group(1)) if found else None
    return epoch


def identity(result: dict[str, Any]) -> dict[str, Any]:
    """What must be equal across the runs of a seed study: data, text model, training
    configuration, test options, checkpoint epoch (seeds and bookkeeping left out)."""
    prov = result.get("provenance") or {}
    store, ckpt = prov.get("store") or {}, prov.get("checkpoint") or {}
    training = (result.get("training_run") or {}).get("config") or {}
    test = result.get("config") or {}
    keep = lambda tree, prefix: {f"{prefix}.{k}": v for k, v in dotted(tree).items()  # noqa: E731
                                 if k not in SEED_KEYS and k not in IGNORED_KEYS}
    text_model = test.get("text_model") or test.get("text-model") or (training.get("model") or {}).get("text_model_id")
    return {"data": store.get("sha256") or test.get("data_dir"), "text model": text_model,
            "checkpoint epoch": checkpoint_epoch(ckpt.get("epoch"), ckpt.get("path") or test.get("ckpt")),
            "condition": result.get("condition"),
            "protocol": result.get("protocol"), "numerics": result.get("numerics"),
            **keep(training, "training"), **keep(test, "test")}


def differences(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{field: {run: value}}`` for every identity field that is not the same in all runs."""
    ids = {run: identity(r) for run, r in results.items()}
    fields = sorted({k for i in ids.values() for k in i})
    return {f: {run: i.get(f) for run, i in ids.items()} for f in fields
            if len({json.dumps(i.get(f), sort_keys=True, default=str) for i in ids.values()}) > 1}


def check_runs(results: dict[str, dict[str, Any]], allow_different: bool) -> dict[str, dict[str, Any]]:
    """Refuse two runs of one checkpoint, and runs that differ in more than the seed unless
    ``allow_different``; returns the differences."""
    by_hash: dict[str, str] = {}
    for run, r in results.items():
        sha = ((r.get("provenance") or {}).get("checkpoint") or {}).get("sha256")
        if sha and sha in by_hash:
            raise AggregateError(f"{by_hash[sha]} and {run} evaluated the same checkpoint (sha256 {sha[:12]}): "
                                 "each run counts once")
        if sha:
            by_hash[sha] = run
    diff = differences(results)
    if diff and not allow_different:
        distinct = lambda runs: dict.fromkeys(json.dumps(v, default=str) for v in runs.values())  # noqa: E731
        shown = "; ".join(f"{f}: {' vs '.join(distinct(runs))}" for f, runs in list(diff.items())[:3])
        more = f" (+{len(diff) - 3} more)" if len(diff) > 3 else ""
        raise AggregateError(f"the runs differ in more than the seed: {shown}{more}; pass --allow-different "
                             "to aggregate them anyway")
    return diff


def seeds(result: dict[str, Any]) -> dict[str, Any]:
    """The seeds of a run (training and test), by dotted option name."""
    training = dotted((result.get("training_run") or {}).get("config") or {})
    out = {f"training.{k}": v for k, v in training.items() if k in SEED_KEYS}
    if "seed" in (result.get("config") or {}):
        out["test.seed"] = result["config"]["seed"]
    return out


def aggregate(table: pd.DataFrame, level: float = 0.95) -> dict[str, dict[str, float]]:
    """Per metric: mean, t-interval (lo, hi), sd and number of runs."""
    return {c: t_interval(table[c].to_numpy(float), level) for c in table.columns}


def to_markdown(summary: dict[str, dict[str, float]], runs: list[str],
                diff: dict[str, dict[str, Any]] | None = None) -> str:
    rows = pd.DataFrame([{"metric": k, "mean": v["mean"], "95% CI (t)": f"[{fmt(v['lo'])}, {fmt(v['hi'])}]",
                          "± half-width": (v["hi"] - v["mean"]), "sd": v["sd"], "runs": v["n"]}
                         for k, v in summary.items()])
    head = [f"# Aggregate of {len(runs)} runs", "", *[f"- `{r}`" for r in runs], "",
            "Mean across runs with a Student-t 95% confidence interval.", ""]
    if diff:
        head += ["**The runs differ in more than the seed** (`--allow-different`):", "",
                 *[f"- {f}: " + ", ".join(f"`{v}`" for v in runs_.values()) for f, runs_ in diff.items()], ""]
    return "\n".join(head) + markdown_table(rows) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="aggregate.py", description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path, help="result directories of test.py")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--level", type=float, default=0.95)
    p.add_argument("--overwrite", action="store_true", help="replace results already in --out")
    p.add_argument("--allow-different", action="store_true",
                   help="aggregate runs that differ in more than the seed (data, text model, config, epoch)")
    args = p.parse_args(argv)
    if not 0 < args.level < 1:
        p.error(f"--level must be between 0 and 1, not {args.level}")
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    held = [f for f in OUTPUT_FILES if (args.out / f).exists()]
    if held and not args.overwrite:
        raise AggregateError(f"{args.out} already holds results ({', '.join(held)}); pass --overwrite to replace them")
    results = read_results(args.runs)
    diff = check_runs(results, args.allow_different)
    table = pd.DataFrame.from_dict({d: flatten(r) for d, r in results.items()}, orient="index")
    summary = aggregate(table, args.level)
    runs = [str(r) for r in args.runs]
    clean = {k: {m: (None if isinstance(x, float) and x != x else x) for m, x in v.items()} for k, v in summary.items()}
    record = {"runs": runs, "level": args.level, "seeds": {d: seeds(r) for d, r in results.items()},
              "differences": diff, "metrics": clean}
    with atomic_dir(args.out, replaces=OUTPUT_FILES) as partial:  # renamed when complete
        write_atomic(partial / "aggregate.json", json.dumps(record, indent=1, default=str) + "\n")
        write_atomic(partial / "aggregate.md", to_markdown(summary, runs, diff))
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = run(args)
    except GLIMError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    shown = [k for k in (C.bleu(1), C.rouge("fmeasure"), C.POOL_MRR) if k in summary]
    print("; ".join(f"{k} {summary[k]['mean']:.4f} ± {summary[k]['hi'] - summary[k]['mean']:.4f}" for k in shown))
    print(f"aggregate of {len(args.runs)} runs written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
