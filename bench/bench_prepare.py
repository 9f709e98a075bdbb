"""Throughput and peak memory of ``python -m data.prepare`` on synthetic ZuCo corpora of two sizes.

    python -m bench.bench_prepare [--sizes 1,1,120 4,4,120] [--workers 1 2] [--keep DIR]

Each size is ``SUBJECTS1,SUBJECTS2,SENTENCES`` for ``data.synthetic.corpus.write_corpus`` (subjects of
ZuCo 1.0 and 2.0, sentences per file): the default sizes have files of the same size and 4x as
many of them, so the peak memory should not change with the corpus. Every run is a
fresh process; its peak resident memory is the largest ``ru_maxrss`` of the process tree
(workers included), read by a small parent process with ``resource.getrusage``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from data.synthetic.corpus import LABELS_FILE, write_corpus

ROOT = Path(__file__).resolve().parents[1]
MEASURE = ("import resource, subprocess, sys, time\n"
           "start = time.perf_counter()\n"
           "code = subprocess.run(sys.argv[1:]).returncode\n"
           "seconds = time.perf_counter() - start\n"
           "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
           "print(f'{code} {seconds} {rss}', file=sys.stderr)\n")


def measure(raw: Path, out: Path, workers: int) -> dict[str, float]:
    """Run ``data.preprocess.prepare`` once; returns wall seconds, peak RSS (MB) and the counts written."""
    command = [sys.executable, "-c", MEASURE, sys.executable, "-m", "data.preprocess.prepare", "--raw", str(raw),
               "--out", str(out), "--labels", str(raw / LABELS_FILE), "--workers", str(workers)]
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, check=False)
    code, seconds, rss_kb = done.stderr.strip().splitlines()[-1].split()
    if int(code) != 0:
        raise RuntimeError(f"data.preprocess.prepare failed ({code}):\n{done.stderr}")
    info = json.loads((out / "store.json").read_text())
    return {"seconds": float(seconds), "rss_mb": int(rss_kb) / 1024, "records": info["n_records"],
            "sentences": sum(info["summary"]["sentences"].values())}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_prepare", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["1,1,120", "4,4,120"])
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--keep", help="write corpora and stores here instead of a temporary folder")
    args = parser.parse_args(argv)
    console = Console(width=110)
    table = Table(title="python -m data.prepare on synthetic ZuCo")
    for column in ("corpus", "raw MB", "workers", "sentences", "records", "s", "records/s",
                   "peak RSS MB"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory(dir=args.keep) as work:
        for size in args.sizes:
            n1, n2, n_sentences = (int(x) for x in size.split(","))
            raw = Path(work) / f"raw_{n1}_{n2}_{n_sentences}"
            started = time.perf_counter()
            written = write_corpus(raw, n_subjects1=n1, n_subjects2=n2, n_sentences=n_sentences, seed=0)
            console.print(f"corpus {size}: {written['bytes'] / 2**20:.0f} MB in "
                          f"{time.perf_counter() - started:.0f} s")
            for workers in args.workers:
                out = Path(work) / f"store_{size.replace(',', '_')}_w{workers}"
                result = measure(raw, out, workers)
                table.add_row(size, f"{written['bytes'] / 2**20:.0f}", str(workers),
                              str(result["sentences"]), str(result["records"]),
                              f"{result['seconds']:.1f}", f"{result['records'] / result['seconds']:.0f}",
                              f"{result['rss_mb']:.0f}")
    console.print(table)


if __name__ == "__main__":
    main()
