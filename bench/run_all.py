"""Run every benchmark of bench/ in turn (``make bench``) and summarise their exit codes.

    python -m bench.run_all [--only bench_step ...] [--skip bench_prepare ...]

Each benchmark runs as ``python -m bench.<name>`` with its default arguments and prints its own
report; a benchmark fails when it exits non-zero (its criterion is not met or it crashed).
``gpu_check`` runs only where a CUDA GPU is present, ``vs_original`` only where
``$GLIM_ORIGINAL_HARNESS`` names the side-by-side harness of the original implementation (each is
skipped otherwise, with a line saying so). The helper modules (``LIBRARIES``) are not benchmarks.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from infra.options import OptionParser

BENCH = Path(__file__).resolve().parent
NEEDS_GPU = ("gpu_check",)
NEEDS_ORIGINAL = ("vs_original",)
LIBRARIES = ("__init__", "run_all", "workload", "padded_path", "demo_check", "step_worker")
FIRST = ("bench_metrics", "bench_eval", "memory_estimate", "bench_data_memory", "bench_prepare", "bench_step")


def benchmarks() -> list[str]:
    """Every runnable module of bench/, the quick ones first."""
    names = sorted(p.stem for p in BENCH.glob("*.py") if p.stem not in LIBRARIES)
    return sorted(names, key=lambda n: FIRST.index(n) if n in FIRST else len(FIRST))


def main(argv: list[str] | None = None) -> int:
    parser = OptionParser(prog="python -m bench.run_all", description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", default=None, help="run only these benchmarks")
    parser.add_argument("--skip", nargs="+", default=[], help="benchmarks to leave out")
    args = parser.parse_args(argv)
    missing = {} if torch.cuda.is_available() else {n: "no CUDA GPU" for n in NEEDS_GPU}
    if not os.environ.get("GLIM_ORIGINAL_HARNESS"):
        missing.update({n: "no $GLIM_ORIGINAL_HARNESS: the original implementation is not set up" for n in NEEDS_ORIGINAL})
    skip = list(args.skip) + list(missing)
    names = [n for n in benchmarks() if (args.only is None or n in args.only) and n not in skip]
    for name in sorted(set(missing) - set(args.skip)):
        print(f"bench.{name}: skipped ({missing[name]})")
    results = []
    for name in names:
        print(f"\n===== bench.{name} =====", flush=True)
        start = time.perf_counter()
        code = subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=BENCH.parent).returncode
        results.append((name, code, time.perf_counter() - start))
    print("\n===== summary =====")
    for name, code, seconds in results:
        print(f"{name:20s} {'ok' if code == 0 else f'FAILED ({code})':12s} {seconds:7.0f} s")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
