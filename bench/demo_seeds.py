"""The demo's verdicts for several seeds: a property of the pipeline, not of one lucky seed.

    python -m bench.demo_seeds [--seeds 0 1 2] [--jobs 1] [--out results/demo_seeds] [--keep]

Runs the demo's stages (``make demo-stages``, in this environment) once per seed, each seed in its
own directory under ``--out`` (the seed drives the synthetic corpus, the tiny text model and both
trainings), and writes ``--out/demo_seeds.md``: per seed the test samples, both models' verdicts
and every metric of them (grounded or not, Holm-adjusted p), the CPU seconds (user + system) of
every stage, and the longest silence of its log per stage (the most seconds between two output
lines; a busy machine stretches them). Each seed's log, every line stamped with its seconds since
the start, is ``--out/seed<N>/demo.log``. ``--jobs``: seeds run at once. A seed passes when every
verdict of the EEG-trained model is grounded and so is each of its four generation metrics
(BLEU-1 and ROUGE-1 F at @MTV and @RAW), each zero-shot task's test labels hold two classes or
more, and no metric of the noise-trained model is grounded; the exit status is 0 when every seed
passes. The raw corpus of a seed
(hundreds of MB) is removed once its store is written unless ``--keep``.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from evaluation.grounding import GROUNDING
from evaluation.zero_shot import TASKS
from infra.options import OptionParser

ROOT = Path(__file__).resolve().parent.parent
GENERATION = GROUNDING["generation"]
"""BLEU-1 and ROUGE-1 F against the 8 variants (@MTV) and against the sentence read (@RAW)."""
STAGES = ("corpus", "prepare", "text model", "train on EEG", "train on noise", "test EEG-trained",
          "test noise-trained", "compare")
"""The stages of ``make demo-stages``, in order (each timed once)."""
TIME_FORMAT = "%U %S %e"


def verdict_table(metrics: dict[str, Any]) -> dict[str, tuple[bool, float]]:
    """Every metric of the grounding verdicts: grounded or not, and its Holm-adjusted p."""
    return {m: (v["grounded"], v["p_holm"]) for family in metrics["grounding"].values()
            for m, v in family["metrics"].items()}


def seed_result(out: Path) -> dict[str, Any]:
    """What one seed's demo shows: the verdicts of both models (per family and per metric), the
    test samples and each zero-shot task's samples and classes."""
    import pandas as pd

    eeg = json.loads((out / "metrics.json").read_text())
    noise = json.loads((out / "noise-trained" / "metrics.json").read_text())
    samples = pd.read_csv(out / "samples.csv")
    return {"samples": len(samples),
            "zero_shot": {name: (int(task.target(samples).notna().sum()), int(task.target(samples).nunique()))
                          for name, task in TASKS.items()},
            "families": {f: (eeg["grounding"][f]["grounded"], noise["grounding"][f]["grounded"])
                         for f in eeg["grounding"]},
            "eeg": verdict_table(eeg), "noise": verdict_table(noise)}


def passes(r: dict[str, Any]) -> bool:
    """The demo's claims: every verdict of the EEG-trained model grounded, and its four generation
    metrics each; two classes or more in each zero-shot task's test labels; no metric of the
    noise-trained model grounded."""
    return (all(eeg for eeg, _ in r["families"].values()) and not any(noise for _, noise in r["families"].values())
            and all(r["eeg"][m][0] for m in GENERATION) and not any(g for g, _ in r["noise"].values())
            and min(classes for _, classes in r["zero_shot"].values()) >= 2)


def cpu_seconds(timing: Path) -> list[float]:
    """User + system seconds of each timed stage, in order."""
    return [float(u) + float(s) for u, s, _ in (line.split()[:3] for line in timing.read_text().splitlines()
                                               if line.strip() and not line.startswith("Command"))]


def run_logged(cmd: list[str], log: Path) -> tuple[int, dict[str, float]]:
    """Run ``cmd``, writing each output line to ``log`` stamped with its seconds since the start;
    returns the exit status and, per stage (a line make echoes for a timed command opens one),
    the most seconds between two output lines."""
    start = last = time.monotonic()
    stage, gaps, timed = "start", {}, iter(STAGES)
    with open(log, "w") as f, subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                               text=True, errors="replace") as proc:
        for line in proc.stdout:
            now = time.monotonic()
            gaps[stage] = max(gaps.get(stage, 0.0), now - last)
            last = now
            if line.startswith("/usr/bin/time"):
                stage = next(timed, stage)
                gaps.setdefault(stage, 0.0)
            f.write(f"{now - start:8.1f}  {line}")
            f.flush()
    return proc.returncode, gaps


def run_seed(seed: int, out: Path, keep: bool) -> dict[str, Any]:
    """The demo's stages for one seed under ``out``; returns its result with the stage timings."""
    out.mkdir(parents=True, exist_ok=True)
    timing, log = out / "stage_times.txt", out / "demo.log"
    timing.unlink(missing_ok=True)
    dirs = {"DEMO_DATA": out / "data", "DEMO_CKPT": out / "checkpoints", "DEMO_OUT": out / "results"}
    cmd = ["make", "--no-print-directory", "demo-stages", f"PY={sys.executable}", f"DEMO_SEED={seed}",
           *(f"{k}={v}" for k, v in dirs.items()),
           f"DEMO_TIME=/usr/bin/time -a -o {timing} -f '{TIME_FORMAT}'"]
    code, gaps = run_logged(cmd, log)
    if not keep:
        shutil.rmtree(dirs["DEMO_DATA"] / "raw_data", ignore_errors=True)
    if code:
        return {"seed": seed, "error": f"make demo-stages exited {code} (see {log})"}
    return {"seed": seed, **seed_result(dirs["DEMO_OUT"]), "cpu": dict(zip(STAGES, cpu_seconds(timing))),
            "silence": {k: v for k, v in gaps.items() if k != "start"}}


def markdown(results: list[dict[str, Any]]) -> str:
    """The table of every seed's verdicts and timings."""
    lines = ["# The demo for several seeds", "",
             "Per seed: the verdicts of test.py for the EEG-trained and the noise-trained model (grounded ✓ or "
             "not ✗), then every metric of the verdicts with its Holm-adjusted p (generation: BLEU-1 and ROUGE-1 F "
             "at @MTV and @RAW).", ""]
    mark = lambda ok: "✓" if ok else "✗"  # noqa: E731
    for r in results:
        lines += [f"## seed {r['seed']}", ""]
        if "error" in r:
            lines += [f"error: {r['error']}", ""]
            continue
        lines += [f"- passes: {'yes' if passes(r) else 'NO'}",
                  f"- test samples: {r['samples']}; zero-shot samples (classes): "
                  + ", ".join(f"{k} {n} ({c})" for k, (n, c) in r["zero_shot"].items()), "",
                  "| verdict / metric | EEG-trained | noise-trained |", "| --- | --- | --- |"]
        lines += [f"| **{f}** | {mark(a)} | {mark(b)} |" for f, (a, b) in r["families"].items()]
        cell = lambda v: f"{mark(v[0])} (p {v[1]:.2g})" if v else "–"  # noqa: E731
        lines += [f"| {m} | {cell(v)} | {cell(r['noise'].get(m))} |" for m, v in r["eeg"].items()]
        lines += ["", "CPU seconds (user + system) per stage: "
                  + ", ".join(f"{k} {v:.0f}" for k, v in r["cpu"].items()) + f"; total {sum(r['cpu'].values()):.0f}",
                  "", "Longest silence of the log per stage (s): "
                  + ", ".join(f"{k} {v:.0f}" for k, v in r["silence"].items()), ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = OptionParser(prog="python -m bench.demo_seeds", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "demo_seeds")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run at once")
    parser.add_argument("--keep", action="store_true", help="keep each seed's raw corpus")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")

    def one(seed: int) -> dict[str, Any]:
        print(f"seed {seed}: running the demo's stages (log: {args.out / f'seed{seed}' / 'demo.log'})", flush=True)
        result = run_seed(seed, args.out / f"seed{seed}", args.keep)
        print(f"seed {seed}: {'error' if 'error' in result else 'passes' if passes(result) else 'FAILS'}", flush=True)
        return result

    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(one, args.seeds))
    text = markdown(results)
    (args.out / "demo_seeds.md").write_text(text)
    print(text)
    return 0 if all("error" not in r and passes(r) for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
