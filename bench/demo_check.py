"""A demo-size run as a user runs it, on one device: the synthetic corpus, ``python -m
data.prepare``, a tiny T5, ``train.py`` (configs/demo.yaml) for one epoch under bf16-mixed, then
``test.py`` with the noise control; checks what each step leaves behind (part of bench.gpu_check)."""
from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.workload import ROOT


@dataclass
class DemoSizes:
    """The corpus and the run: the demo's on a GPU, a few batches in the CPU dry run."""

    subjects: int = 2
    sentences: int = 36
    pretrain_steps: int = 100
    train_batches: float = 1.0  # Lightning's limit_train_batches: 1.0 = the whole epoch
    options: tuple[str, ...] = ()


def smoke_demo() -> DemoSizes:
    return DemoSizes(subjects=1, sentences=8, pretrain_steps=2, train_batches=2,
                     options=("--data.batch_size", "4", "--data.val_batch_size", "4", "--retrieval_batch_size", "4",
                              "--limit_val_batches", "1", "--full_val", "false"))


class DemoFailed(RuntimeError):
    """A step of the demo run failed or left wrong results."""


def run(cmd: list[str], log: Path) -> float:
    """Run ``cmd`` from the project root with its output in ``log``; seconds taken."""
    start = time.perf_counter()
    with open(log, "w") as out:
        code = subprocess.run(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT).returncode
    if code:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:]
        raise DemoFailed(f"{' '.join(cmd[1:3])} exited {code}: {tail[0] if tail else ''} (log: {log})")
    return time.perf_counter() - start


def finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def last_train_loss(out_dir: Path) -> float:
    """The last logged ``train/loss`` of a run (its CSV log)."""
    rows = [r for f in sorted(out_dir.glob("logs/**/metrics.csv")) for r in csv.DictReader(open(f))]
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    if not losses:
        raise DemoFailed(f"no train/loss logged under {out_dir}/logs")
    return losses[-1]


def demo_check(work: Path, accelerator: str, sizes: DemoSizes) -> list[tuple[str, str]]:
    """Run the demo in ``work`` on ``accelerator`` (gpu or cpu); rows (what, result). Raises
    ``DemoFailed`` when a step fails or a check does not hold."""
    py = sys.executable
    raw, store, t5, ckpt, res = (work / n for n in ("raw", "store", "tiny-t5", "ckpt", "results"))
    t_data = run([py, "-m", "data.synthetic", "--out", str(raw), "--subjects", str(sizes.subjects),
                  "--sentences", str(sizes.sentences), "--seed", "0", "--quiet"], work / "synthetic.log")
    t_data += run([py, "-m", "data.prepare", "--raw", str(raw), "--out", str(store), "--labels",
                   str(raw / "labels_8variants.jsonl")], work / "prepare.log")
    pretrain = ["--pretrain_on", str(store), "--steps", str(sizes.pretrain_steps)] if sizes.pretrain_steps else []
    t_data += run([py, "-m", "data.synthetic.tiny_t5", "--out", str(t5), *pretrain], work / "tiny_t5.log")
    t_train = run([py, "train.py", "--config", "configs/demo.yaml", "--model.text_model_id", str(t5),
                   "--data.data_dir", str(store), "--out_dir", str(ckpt), "--max_epochs", "1",
                   "--accelerator", accelerator, "--devices", "1", "--precision", "bf16-mixed",
                   "--limit_train_batches", str(sizes.train_batches), "--data.num_workers", "0",
                   "--progress", "false", "--overwrite", *sizes.options], work / "train.log")
    loss = last_train_loss(ckpt)
    if not (ckpt / "last.ckpt").is_file() or not finite(loss):
        raise DemoFailed(f"training left no checkpoint or a non-finite loss ({loss})")
    t_test = run([py, "test.py", "--ckpt", str(ckpt / "last.ckpt"), "--data_dir", str(store), "--out", str(res),
                  "--controls", "noise", "--max_length", "64", "--bootstrap", "100", "--permutations", "100",
                  "--num_workers", "0", "--progress", "false", "--overwrite"]
                 + (["--batch_size", "4"] if sizes.options else []), work / "test.log")
    metrics = json.loads((res / "metrics.json").read_text())
    eeg, noise = metrics["metrics"], metrics["controls"]["noise"]["metrics"]
    with open(res / "samples.csv") as f:
        samples = sum(1 for _ in csv.DictReader(f))
    keys = ("Bleu1", "WER", "retrieval_pool/R@1")
    if samples == 0 or not all(finite(eeg.get(k)) and finite(noise.get(k)) for k in keys):
        raise DemoFailed(f"the test left {samples} samples or non-finite metrics: "
                         f"{ {k: (eeg.get(k), noise.get(k)) for k in keys} }")
    return [("demo data: corpus, store, tiny T5", f"{t_data:.0f} s"),
            ("demo train.py, 1 epoch, bf16-mixed", f"{t_train:.0f} s, last train/loss {loss:.3f}"),
            (f"demo test.py + noise control ({samples} samples, numerics {metrics['numerics']})",
             f"{t_test:.0f} s, " + ", ".join(f"{k} {eeg[k]:.3f} vs noise {noise[k]:.3f}" for k in keys))]
