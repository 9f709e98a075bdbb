"""Throughput and peak memory of ``python -m data.prepare`` on synthetic ZuCo corpora of two sizes.

    python -m bench.bench_prepare [--sizes 1,1,120 4,4,120] [--workers 1 2] [--keep DIR]

Each size is ``SUBJECTS1,SUBJECTS2,SENTENCES`` for ``data.synthetic.corpus.write_corpus`` (subjects of
ZuCo 1.0 and 2.0, sentences per file): the default sizes have files of the same size and 4x as
many of them, so the peak memory should not change with the corpus. Every run is a
fresh process; the resident memory of its process tree is sampled with psutil every 50 ms: the
peak of the main process (matching, the store writer) and of the largest worker (reading one
file and step 3) are reported apart, with the checksum of the EEG written (equal for every
worker count).
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

from data.synthetic.corpus import LABELS_FILE, write_corpus
from infra.options import OptionParser

ROOT = Path(__file__).resolve().parents[1]
POLL_S = 0.05


def _tree_rss(proc: psutil.Process, peaks: dict[int, tuple[str, int]]) -> None:
    """Record the resident memory of ``proc`` and its descendants: pid -> (role, peak bytes)."""
    try:
        members = [(proc, "main")]
        for child in proc.children():  # the forkserver and the resource tracker
            role = "tracker" if "resource_tracker" in " ".join(child.cmdline()) else "server"
            members += [(child, role)] + [(c, "worker") for c in child.children(recursive=True)]
    except psutil.Error:
        return
    for member, role in members:
        try:
            rss = member.memory_info().rss
        except psutil.Error:
            continue
        peaks[member.pid] = (role, max(rss, peaks.get(member.pid, (role, 0))[1]))


def measure(raw: Path, out: Path, workers: int) -> dict[str, float]:
    """Run ``data.preprocess.prepare`` once; returns wall seconds, the peak resident memory (MB,
    sampled every 50 ms) of the main process and of the largest worker, and the counts written."""
    command = [sys.executable, "-m", "data.preprocess.prepare", "--raw", str(raw), "--out", str(out),
               "--labels", str(raw / LABELS_FILE), "--workers", str(workers), "--overwrite"]
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    watched, peaks = psutil.Process(proc.pid), {}
    while proc.poll() is None:
        _tree_rss(watched, peaks)
        time.sleep(POLL_S)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"data.preprocess.prepare failed ({proc.returncode}):\n{proc.stderr.read()}")
    info = json.loads((out / "store.json").read_text())
    peak = lambda role: max((b for r, b in peaks.values() if r == role), default=0) / 2**20  # noqa: E731
    return {"seconds": seconds, "main_mb": peak("main"), "worker_mb": peak("worker"),
            "records": info["n_records"], "sentences": sum(info["summary"]["sentences"].values()),
            "eeg_sha256": info["checksums"]["eeg.npy"]["sha256"]}


def main(argv: list[str] | None = None) -> None:
    parser = OptionParser(prog="python -m bench.bench_prepare", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["1,1,120", "4,4,120"])
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--keep", help="write corpora and stores here instead of a temporary folder")
    args = parser.parse_args(argv)
    console = Console(width=110)
    table = Table(title="python -m data.prepare on synthetic ZuCo")
    for column in ("corpus", "raw MB", "workers", "sentences", "records", "s", "records/s",
                   "main peak MB", "peak per worker MB", "eeg sha256"):
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
                              f"{result['main_mb']:.0f}",
                              f"{result['worker_mb']:.0f}" if workers > 1 else "-",
                              result["eeg_sha256"][:12])
    console.print(table)


if __name__ == "__main__":
    main()
