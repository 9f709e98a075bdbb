"""GLIM's training step against the original implementation's, side by side in one run.

    python -m bench.vs_original --harness DIR [--text_model tiny|large] [--tokenizer model|subword]
                                [--variants default,warm]
                                [--warmup 1] [--steps 10] [--pairs 3] [--out bench/out/step_vs_original.md]

The original implementation (github:justin-xzliu/GLIM, its own code from a git mirror) runs in its
own Python environment through a side-by-side harness, ``DIR``: ``DIR/setup.sh`` prepares, once
per machine, that environment, the original's work tree, random T5 models (tiny: width 1024, 2 + 2
layers; ``large``: Flan-T5-large's shape, 24 + 24 layers, random weights), a ZuCo-shaped raw tree
and the original pipeline's own table of it, and prints their places; ``DIR/lib/step_worker_ref.py``
runs the original's Lightning module and data module on that table and prints ``@@ready``/``@@step``
lines as ``bench.step_worker`` does for GLIM. GLIM reads the same raw tree through ``python -m
data.prepare`` and trains through ``train.py`` (``bench.step_worker``). Same work on both sides: the
paper's EEG architecture, batch 12, bf16-mixed, 2 threads, the same frozen text model.

Every worker starts at once and loads its first batch; then they compute one training step at a
time, round-robin (the first of a round rotates), so that no two compute together and the load
drift falls on all alike. After ``--warmup`` rounds, ``--pairs`` pairs of ``--steps`` rounds: per
pair the median step of each side, the ratio to the original, the mean real EEG length of the
batches' samples and the length the batches are padded to, and the 1-minute load average after
the pair. The table is printed and written as markdown to ``--out``. Timings mean something only on
an otherwise idle machine; the load averages show whether it was.

``--tokenizer subword`` gives both sides the same text model with a subword tokenizer trained on
the tree's texts (``bench.subword``: about 1.35 tokens per word, as Flan-T5's SentencePiece), so
that targets have a real model's token counts instead of one token per character.
"""
from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.step_worker import VARIANTS  # the module imports torch only when it runs
from infra.options import OptionParser

ROOT = Path(__file__).resolve().parents[1]
ORIGINAL = "original"


class HarnessError(RuntimeError):
    """The side-by-side harness or a worker failed (one line)."""


@dataclass
class Worker:
    """One long-lived training process driven over its stdin/stdout."""

    name: str
    cmd: list[str]
    cwd: Path
    log: Path
    env: dict
    steps: list[tuple[float, float, int]] = field(default_factory=list)  # (seconds, mean real, padded)

    def start(self) -> None:
        self.err = open(self.log, "w")
        self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, env=self.env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err, text=True, bufsize=1)

    def read(self, tag: str) -> list[str]:
        for line in self.proc.stdout:
            if line.startswith(tag):
                return line.split()[1:]
        self.proc.wait()
        self.err.flush()
        tail = [ln for ln in self.log.read_text(errors="replace").splitlines() if ln.strip()][-1:]
        raise HarnessError(f"{self.name} worker ended (exit {self.proc.returncode}): "
                           f"{tail[0][:200] if tail else ''} (log: {self.log})")

    def step(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        _, seconds, real, padded, _ = self.read("@@step")
        self.steps.append((float(seconds), float(real), int(padded)))
        self.read("@@ready")  # the next batch is loaded

    def stop(self) -> None:
        try:
            self.proc.stdin.write("stop\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=60)
        except (BrokenPipeError, ValueError, OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.err.close()


def setup(harness: Path, text_model: str) -> dict[str, str]:
    """Run the harness's setup.sh (from the project root) and return the places it prints."""
    env = dict(os.environ, GLIM_T5=text_model, HF_HUB_OFFLINE="1")
    done = subprocess.run(["bash", str(harness / "setup.sh")], cwd=ROOT, env=env, capture_output=True, text=True)
    lines = [ln for ln in done.stdout.splitlines() if ln.strip()]
    if not done.returncode and lines and lines[-1].startswith("echo "):  # setup.sh: the original is missing
        raise HarnessError(shlex.split(lines[-1])[1])
    if done.returncode or not lines or "=" not in lines[-1]:
        why = (done.stderr.strip().splitlines() or lines or ["no output"])[-1]
        raise HarnessError(f"{harness}/setup.sh failed (exit {done.returncode}): {why[:200]}")
    return dict(item.split("=", 1) for item in shlex.split(lines[-1]))


@dataclass
class Pair:
    median: dict[str, float]
    real: dict[str, float]
    padded: dict[str, float]
    load: float


def summarise(workers: list[Worker], warmup: int, steps: int, pairs: int, loads: list[float]) -> list[Pair]:
    out = []
    for q in range(pairs):
        lo = warmup + q * steps
        chunk = {w.name: w.steps[lo:lo + steps] for w in workers}
        out.append(Pair({n: statistics.median(s[0] for s in c) for n, c in chunk.items()},
                        {n: statistics.mean(s[1] for s in c) for n, c in chunk.items()},
                        {n: statistics.mean(s[2] for s in c) for n, c in chunk.items()}, loads[q + 1]))
    return out


def markdown(result: list[Pair], variants: list[str], head: str, loads: list[float]) -> str:
    """The result table: per pair the median step of each side (seconds), its ratio to the
    original's, and the mean real / padded EEG length of the batches."""
    cols = [ORIGINAL, *variants]
    lines = [head, "", "| pair | " + " | ".join(f"{c} s [real / padded]" for c in cols) + " | "
             + " | ".join(f"{v} / original" for v in variants) + " | load after |",
             "| --- " * (len(cols) + len(variants) + 2) + "|"]
    for k, p in enumerate(result, 1):
        lines.append(f"| {k} | " + " | ".join(f"{p.median[c]:.2f} [{p.real[c]:.0f} / {p.padded[c]:.0f}]" for c in cols)
                     + " | " + " | ".join(f"{p.median[v] / p.median[ORIGINAL]:.3f}" for v in variants)
                     + f" | {p.load:.1f} |")
    med = {c: statistics.median(p.median[c] for p in result) for c in cols}
    ratio = {v: statistics.median(p.median[v] / p.median[ORIGINAL] for p in result) for v in variants}
    lines.append("| median | " + " | ".join(f"{med[c]:.2f}" for c in cols) + " | "
                 + " | ".join(f"**{ratio[v]:.2f}**" for v in variants) + " | |")
    lines += ["", "1-minute load averages, at the start and after each pair: "
              + " ".join(f"{x:.1f}" for x in loads) + " (the workers alone make about the thread count; "
              "more means other jobs shared the cores and the ratios are less reliable)."]
    return "\n".join(lines) + "\n"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = OptionParser(prog="python -m bench.vs_original", description=__doc__.split("\n")[0])
    p.add_argument("--harness", type=Path, default=os.environ.get("GLIM_ORIGINAL_HARNESS"),
                   help="the side-by-side harness directory (setup.sh, lib/step_worker_ref.py); "
                        "default $GLIM_ORIGINAL_HARNESS")
    p.add_argument("--text_model", choices=("tiny", "large"), default="tiny")
    p.add_argument("--tokenizer", choices=("model", "subword"), default="model",
                   help="the text model's own (byte-level: every target 64 tokens) or a subword one "
                        "trained on the tree's texts, about 1.35 tokens per word as Flan-T5's (bench/subword.py)")
    p.add_argument("--variants", default="default,warm")
    p.add_argument("--batch", type=int, default=12)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precision", default="bf16-mixed")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--steps", type=int, default=None, help="rounds per pair (default 10 tiny, 3 large)")
    p.add_argument("--pairs", type=int, default=None, help="pairs (default 3 tiny, 2 large)")
    p.add_argument("--out", type=Path, default=ROOT / "bench/out/step_vs_original.md")
    args = p.parse_args(argv)
    args.variants = [v for v in args.variants.split(",") if v]
    bad = [v for v in args.variants if v not in VARIANTS]
    if bad or not args.variants:
        p.exit(2, f"error: --variants takes {', '.join(VARIANTS)}, not {', '.join(bad) or 'nothing'}\n")
    if args.harness is None or not (args.harness / "setup.sh").is_file():
        p.exit(2, "error: --harness DIR (or $GLIM_ORIGINAL_HARNESS): a directory with setup.sh and "
                  f"lib/step_worker_ref.py, not {args.harness}\n")
    large = args.text_model == "large"
    args.steps = args.steps or (3 if large else 10)
    args.pairs = args.pairs or (2 if large else 3)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    harness = args.harness.resolve()
    start = time.time()
    try:
        places = setup(harness, args.text_model)
    except HarnessError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    text_model = places["T5_LARGE" if args.text_model == "large" else "TINY_T5_1024"]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    common = [text_model, str(args.batch), args.precision, str(args.threads)]
    tokens = ""
    with tempfile.TemporaryDirectory(prefix="glim-vs-original-") as tmp:
        work = Path(tmp)
        prep = subprocess.run([sys.executable, "-m", "data.prepare", "--raw", places["RAW"], "--labels",
                               places["LABELS"], "--out", str(work / "store")], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        if prep.returncode:
            print(f"error: python -m data.prepare failed: {(prep.stderr.strip().splitlines() or [''])[-1]}",
                  file=sys.stderr)
            return 2
        if args.tokenizer == "subword":  # both sides read the same model directory
            from bench.subword import subword_text_model
            from data.store import VARIANT_COLUMNS, open_store

            records = open_store(work / "store").records
            texts = [t for c in ("input text", *VARIANT_COLUMNS) for t in records[c]]
            per_word = subword_text_model(Path(text_model), texts, work / "text-model-subword")
            common[0] = str(work / "text-model-subword")
            tokens = f" with a subword tokenizer ({per_word:.2f} tokens per word on the tree's texts)"
            print(f"text model{tokens}", flush=True)
        workers = [Worker(ORIGINAL, [f"{places['REF_VENV']}/bin/python", str(harness / "lib/step_worker_ref.py"),
                                     f"{places['CACHE']}/ref_step4.df", *common], work, work / "original.log",
                          dict(env, REF_GLIM=places["REF_GLIM"]))]
        workers += [Worker(v, [sys.executable, "-m", "bench.step_worker", str(work / "store"), *common,
                               str(work / f"run-{v}"), v], ROOT, work / f"{v}.log", env) for v in args.variants]
        loads = [os.getloadavg()[0]]
        try:
            for w in workers:
                w.start()
            for w in workers:
                w.read("@@ready")
            print(f"workers ready after {time.time() - start:.0f} s", flush=True)
            for k in range(args.warmup + args.pairs * args.steps):
                for i in range(len(workers)):
                    workers[(k + i) % len(workers)].step()
                if k >= args.warmup and (k - args.warmup + 1) % args.steps == 0:
                    loads.append(os.getloadavg()[0])
                    print(f"pair {len(loads) - 1} done after {time.time() - start:.0f} s "
                          f"(load average {loads[-1]:.1f})", flush=True)
        except HarnessError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        finally:
            for w in workers:
                if hasattr(w, "proc"):
                    w.stop()
    result = summarise(workers, args.warmup, args.steps, args.pairs, loads)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    head = (f"Training step, GLIM (commit {commit or '?'}) vs the original implementation, side by side in one "
            f"run on {platform.node()} ({os.cpu_count()} CPUs), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
            f"text model `{args.text_model}`" + tokens
            + f", batch {args.batch}, {args.precision}, {args.threads} threads; "
            f"{args.pairs} pairs of {args.steps} rounds after {args.warmup} warm-up round(s), one step per side per "
            f"round. Command: `python -m bench.vs_original --harness DIR --text_model {args.text_model} "
            + (f"--tokenizer {args.tokenizer} " if args.tokenizer != "model" else "") + "--variants "
            f"{','.join(args.variants)} --warmup {args.warmup} --steps {args.steps} --pairs {args.pairs}`; wall time "
            f"{time.time() - start:.0f} s.")
    table = markdown(result, args.variants, head, loads)
    print("\n" + table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
