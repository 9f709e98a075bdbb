"""Resident memory of the training data pipeline against the size of the EEG it reads.

    python -m bench.bench_data_memory [--sizes-gb 1 3] [--workers 2] [--readers mmap pread] [--keep DIR]

For each size a store of random EEG (all train, 8 target variants per record) is written, then a
fresh process runs one full epoch of ``GLIMDataModule.train_dataloader()`` (batch 72, worker
processes reading the memory-mapped ``eeg.npy``) while a thread samples ``/proc/<pid>/smaps_rollup``
of the process and of its workers every 0.2 s. Reported: the peak of the summed RSS and PSS
(PSS shares a page among the processes mapping it, so the sum counts each page once), split into
anonymous and file-backed pages, as a fraction of the EEG size. A store of 2 batches gives the fixed
cost of Python, torch and the workers; what grows with the data is the peak minus that.

Readers: ``mmap`` is ``GLIMDataset`` as it is (rows copied out of a memory map, whose pages stay
mapped, hence resident, in every worker that touched them); ``pread`` reads each row with
``os.preadv`` into a fresh array, so the file's pages live in the kernel's page cache only.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from data.store import open_store

ROOT = Path(__file__).resolve().parents[1]
ROW_BYTES = 1280 * 128 * 4
FIELDS = ("Rss", "Pss", "Pss_Anon", "Pss_File", "Pss_Shmem")
LIMIT = 0.25


def smaps_rollup(pid: int) -> dict[str, int]:
    """The memory fields of one process in bytes (zeros when it has exited)."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return dict.fromkeys(FIELDS, 0)
    values = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in lines[1:]}
    return {k: values.get(k, 0) for k in FIELDS}


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from ``/proc/<pid>/task/*/children``)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return found


class Sampler(threading.Thread):
    """Samples the summed memory of this process tree; keeps the sample with the largest PSS."""

    def __init__(self, period: float = 0.2):
        super().__init__(daemon=True)
        self.period, self.peak, self.stop = period, dict.fromkeys(FIELDS, 0), threading.Event()
        self.peak["processes"] = 0

    def sample(self) -> None:
        pids = descendants(os.getpid())
        total = {k: sum(v) for k, v in zip(FIELDS, zip(*(smaps_rollup(p).values() for p in pids)))}
        if total["Pss"] > self.peak["Pss"]:
            self.peak = {**total, "processes": len(pids)}

    def run(self) -> None:
        while not self.stop.wait(self.period):
            self.sample()


def use_mmap_reader() -> None:
    """For comparison: make ``GLIMDataset`` index a memory map of ``eeg.npy`` instead of its
    ``RowReader`` (pages it touched stay in its resident memory)."""
    import numpy as np

    from data.dataset import GLIMDataset

    init = GLIMDataset.__init__

    def mmap_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self._eeg = np.load(self.path / "eeg.npy", mmap_mode="r")
    GLIMDataset.__init__ = mmap_init


def epoch(store: Path, workers: int, batch: int, reader: str) -> dict:
    """One training epoch of the data module in this process; the peak memory and counts."""
    import torch

    from data.datamodule import GLIMDataModule

    torch.set_num_threads(1)
    if reader == "mmap":
        use_mmap_reader()
    sampler = Sampler()
    sampler.start()
    dm = GLIMDataModule(data_dir=store, batch_size=batch, num_workers=workers)
    dm.setup("fit")
    start, n, steps = time.perf_counter(), 0, 0
    for b in dm.train_dataloader():
        n += len(b["eeg"])
        steps += 1
    seconds = time.perf_counter() - start
    sampler.sample()
    sampler.stop.set()
    return {**sampler.peak, "samples": n, "batches": steps, "seconds": seconds}


def write_store(path: Path, gb: float) -> Path:
    """A train-only store of random EEG of about ``gb`` GB (2 subjects x n sentences)."""
    from data.synthetic.random_store import write_random_store

    n_sentences = max(1, math.ceil(gb * 2**30 / ROW_BYTES / 2))
    return write_random_store(path, n_sentences=n_sentences, n_subjects=1, phases=("train",))


def measure(store: Path, workers: int, batch: int, reader: str) -> dict:
    """Run ``epoch`` in a fresh process (so that writing the store does not count)."""
    out = subprocess.run([sys.executable, "-m", "bench.bench_data_memory", "--child", str(store),
                          "--workers", str(workers), "--batch", str(batch), "--readers", reader], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_data_memory", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes-gb", type=float, nargs="+", default=[1.0, 3.0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=72)
    parser.add_argument("--readers", nargs="+", choices=("mmap", "pread"), default=["mmap", "pread"])
    parser.add_argument("--keep", help="write the stores here instead of a temporary folder")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(epoch(Path(args.child), args.workers, args.batch, args.readers[0])))
        return 0
    mb = lambda v: f"{v / 2**20:7.0f}"  # noqa: E731
    met = {}
    with tempfile.TemporaryDirectory(dir=args.keep) as tmp:
        tiny = write_store(Path(tmp) / "tiny", 2 * args.batch * ROW_BYTES / 2**30)
        stores = {gb: write_store(Path(tmp) / f"store_{gb:g}gb", gb) for gb in args.sizes_gb}
        print(f"one train epoch, batch {args.batch}, {args.workers} workers; peak memory summed over "
              "the process and its workers, MB")
        print(f"{'reader':>6s} {'store':>7s} {'EEG':>7s} {'s':>5s} {'RSS':>7s} {'PSS':>7s} {'anon':>7s} "
              f"{'file':>7s} {'shmem':>7s} {'PSS/EEG':>8s} {'(PSS-fixed)/EEG':>16s}")
        for reader in args.readers:
            base = measure(tiny, args.workers, args.batch, reader)
            print(f"{reader:>6s} {'fixed':>7s} {'':7s} {'':5s} {mb(base['Rss'])} {mb(base['Pss'])} "
                  f"{mb(base['Pss_Anon'])} {mb(base['Pss_File'])} {mb(base['Pss_Shmem'])}"
                  f"   ({base['batches']} batches)")
            for gb, store in stores.items():
                eeg = (store / "eeg.npy").stat().st_size
                r = measure(store, args.workers, args.batch, reader)
                assert r["samples"] >= 0.95 * 8 * len(open_store(store)), r  # a full epoch
                grown = (r["Pss"] - base["Pss"]) / eeg
                met[reader] = met.get(reader, True) and grown < LIMIT
                print(f"{reader:>6s} {gb:>5g}GB {mb(eeg)} {r['seconds']:5.0f} {mb(r['Rss'])} {mb(r['Pss'])} "
                      f"{mb(r['Pss_Anon'])} {mb(r['Pss_File'])} {mb(r['Pss_Shmem'])} {r['Pss'] / eeg:8.1%} "
                      f"{grown:16.1%}")
    for reader, ok in met.items():
        print(f"target with the {reader} reader: memory that grows with the data < {LIMIT:.0%} of the "
              f"EEG size: {'met' if ok else 'NOT met'}")
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
