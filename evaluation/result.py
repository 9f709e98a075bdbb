"""The one result of a test run and its files: ``RunResult`` holds the EEG run (or the one
control asked for), the controls run beside it, their paired comparisons, the grounding verdicts,
the bootstrap CIs and the ``metrics.json`` record with its provenance, all computed once; ``write``
puts ``samples.csv``, ``controls/<name>/samples.csv``, ``metrics.json`` and ``report.md`` (with
``figures/``) into the result directory, atomically."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Collection

import pandas as pd

from data.store_identity import store_identity
from evaluation import columns as C
from evaluation.columns import metric_names
from evaluation.controls import PROMPT_MODE
from evaluation.diversity import diversity
from evaluation.grounding import compare, grounding
from evaluation.protocol import protocol_line
from evaluation.report import batch_sizes, retrieval_chance, write_report
from evaluation.run_logs import run_directory, training_curves
from evaluation.stats import ci_table
from evaluation.zero_shot import MAJORITY, baselines, majority_frame
from infra.atomic import atomic_dir, atomic_write_text
from infra.provenance import file_sha256, git_state
from model.glim import GLIM

if TYPE_CHECKING:
    from evaluation.run import Evaluation


def provenance(ckpt: str | Path, data_dir: str | Path, text_model: str | None,
               config: dict[str, Any], training_run: dict[str, Any] | None = None) -> dict[str, Any]:
    """Where a test result comes from (JSON-safe): the store, the text model, the checkpoint, the
    code, the test options and the training seed."""
    return {"store": store_identity(data_dir), "text_model": text_model,
            "checkpoint": {"path": str(Path(ckpt).resolve()), "sha256": file_sha256(ckpt)},
            "code": git_state(), "config": config,
            "training_seed": (training_run or {}).get("seed")}


def finite(v: float) -> float | None:
    """``v``, or None for NaN and infinities (JSON has neither)."""
    return v if v == v and abs(v) != float("inf") else None


@dataclass
class RunResult:
    """A test run's result, computed once: what metrics.json, the report and the figures show."""

    ckpt: str
    condition: str
    main: Evaluation
    controls: dict[str, Evaluation]
    comparisons: dict[str, pd.DataFrame]
    cis: dict[str, pd.DataFrame]  # bootstrap CI table per run: "EEG" (the main run) first, then the controls
    record: dict[str, Any]  # metrics.json

    def write(self, out: Path, replaces: Collection[str], report: bool = True, n_examples: int = 10) -> None:
        """Every result file into ``out``, through a sibling directory renamed when complete."""
        with atomic_dir(out, replaces=replaces) as partial:
            for name, control in self.controls.items():
                (partial / "controls" / name).mkdir(parents=True, exist_ok=True)
                atomic_write_text(partial / "controls" / name / "samples.csv", control.samples_csv())
            atomic_write_text(partial / "samples.csv", self.main.samples_csv())
            atomic_write_text(partial / "metrics.json", json.dumps(self.record, indent=1) + "\n")
            if report:
                atomic_write_text(partial / "report.md", self.report(partial, n_examples))

    def report(self, out: Path, n_examples: int) -> str:
        """The Markdown report (its figures written into ``out/figures``)."""
        r, name = self.record, Path(self.ckpt).name
        meta = {"checkpoint": name, "phase": r["phase"], "condition": self.condition,
                "prompt mode": r["prompt_mode"], "beams": r["config"]["num_beams"],
                "protocol": protocol_line(r["protocol"]).removeprefix("protocol: "), "numerics": r["numerics"]}
        return write_report(out, f"GLIM test report: {name}", meta, self.main.samples, r, self.main.groups, self.cis,
                            {c: e.samples for c, e in self.controls.items()}, self.comparisons,
                            training_curves(self.ckpt), run_directory(self.ckpt), n_examples)


def run_result(model: GLIM, cfg: Any, condition: str, main: Evaluation, controls: dict[str, Evaluation],
                numerics: str) -> RunResult:
    """The result of a test run with test.py's options ``cfg``: the paired comparison of the main
    run with each control and with the majority-class baseline, the grounding verdicts, bootstrap
    CIs and the metrics.json record."""
    samples, runs = main.samples, {c: e.samples for c, e in controls.items()}
    comparisons = {c: compare(samples, s, cfg.bootstrap, cfg.permutations, cfg.seed) for c, s in runs.items()}
    baseline_comparisons = {MAJORITY: compare(samples, majority_frame(samples), cfg.bootstrap, cfg.permutations,
                                              cfg.seed)} if comparisons else {}
    verdicts = grounding(comparisons, baseline_comparisons, baselines(samples)) if comparisons else None
    # the bootstrap CIs, once per run: metrics.json, the report and the figures all read these
    cis = {name: ci_table(s, metric_names(s), cfg.bootstrap, seed=cfg.seed) for name, s in {"EEG": samples, **runs}.items()}

    def ci95(name: str) -> dict[str, list[float | None]]:
        return {k: [finite(float(cis[name].at[k, "lo"])), finite(float(cis[name].at[k, "hi"]))] for k in main.keys}

    options = {k: v for k, v in vars(cfg).items() if k != "config"}
    run_info = getattr(model, "run_info", None)
    summary = main.summary
    record = {
        "ckpt": str(cfg.ckpt), "phase": cfg.phase, "condition": condition, "config": options,
        "training_run": run_info,
        "prompt_mode": PROMPT_MODE.get(condition, cfg.prompt_mode or model.prompt_mode),
        "noise_input": condition == "noise", "protocol": main.protocol, "numerics": numerics, "metrics": summary,
        "ci95": ci95("EEG"),
        "baselines": {"zero_shot": baselines(samples), "retrieval_chance": retrieval_chance(
            summary[C.POOL_SIZE], batch_sizes(summary))},
        "diversity": {name: diversity(s[C.GENERATED].fillna("").tolist(), s[C.INPUT_TEXT].tolist())
                      for name, s in {"EEG": samples, **runs}.items()},
        "provenance": provenance(cfg.ckpt, cfg.data_dir, model.config.text_model_id if cfg.text_model is None
                                 else cfg.text_model, options, run_info),
        "groups": json.loads(main.groups.to_json(orient="records")),
        "controls": {c: {"metrics": e.summary, "ci95": ci95(c),
                         "comparison": json.loads(comparisons[c].to_json(orient="records"))} for c, e in controls.items()},
    }
    if verdicts:
        record["grounding"] = verdicts
    return RunResult(str(cfg.ckpt), condition, main, controls, comparisons, cis, record)
