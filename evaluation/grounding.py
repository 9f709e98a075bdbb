"""Whether a run is grounded in the EEG: its paired comparison with each control, and the verdicts.

``compare`` pairs the per-sample values of the EEG run and of a control (same samples, same
order); ``grounding`` turns those comparisons into one verdict per family (generation, retrieval,
classification) and ``grounding_lines`` into sentences. Numbers only (numpy, pandas): the control
datasets themselves are ``evaluation.controls``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evaluation import columns as C
from evaluation.columns import lower_is_better, metric_names
from evaluation.stats import holm, nan_mean, paired_difference
from infra.errors import OptionError

CONTROLS = ("noise", "prompt-free", "shuffled")
EEG_ABLATIONS = ("noise", "shuffled")  # the controls that take the EEG away: grounding is tested against them
PROMPT_ABLATIONS = ("prompt-free",)  # keeps the EEG, ablates the prompt: reported, not a grounding condition
ALPHA = 0.05
GROUNDING = {  # the metrics of each verdict; a metric is grounded when the EEG run beats every EEG ablation
    "generation": (C.bleu(1), C.rouge("fmeasure")),
    "retrieval": (C.POOL_MRR,),
    "classification": ("zero_shot/sentiment@EEG/top1", "zero_shot/relation@EEG/top1", "zero_shot/corpus@EEG/top1"),
}
IMBALANCE_TOLERANCE = 0.05  # a control within this of the majority-class rate is explained by label imbalance


def parse_controls(spec: str | None) -> list[str]:
    """``"noise,shuffled"`` → ``["noise", "shuffled"]``; ``"all"`` → every control."""
    if not spec:
        return []
    names = list(CONTROLS) if spec.strip() == "all" else [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [n for n in names if n not in CONTROLS]
    if unknown:
        raise OptionError(f"unknown control(s) {unknown}; choose from {', '.join(CONTROLS)} or 'all'")
    return list(dict.fromkeys(names))


def main_condition(cfg: Any) -> str:
    """The condition of the main run: the EEG, or one control asked for by its flag."""
    flags = [name for name, on in (("noise", cfg.noise_input), ("prompt-free", cfg.prompt_free),
                                   ("shuffled", cfg.shuffled)) if on]
    if len(flags) > 1:
        raise OptionError(f"choose one of --noise-input, --prompt-free, --shuffled (got {', '.join(flags)})")
    return flags[0] if flags else "eeg"


def compare(eeg: pd.DataFrame, control: pd.DataFrame, n_resamples: int = 2000, n_permutations: int = 2000,
            seed: int = 0) -> pd.DataFrame:
    """Per metric: EEG mean, control mean, control − EEG with a paired bootstrap CI, the two-sided
    sign-flip p-value ``p``, the one-sided ``p_eeg_better`` / ``p_control_better`` (direction-aware:
    lower WER is better) and ``eeg_better`` (one-sided p < 5 %, unadjusted)."""
    if not (eeg["sample"].to_numpy() == control["sample"].to_numpy()).all():
        raise ValueError("the control run does not hold the samples of the EEG run in the same order")
    cols = [c for c in metric_names(eeg) if c in control.columns]
    a, b = control[cols].to_numpy(np.float64), eeg[cols].to_numpy(np.float64)
    d = paired_difference(a, b, n_resamples, n_permutations, seed=seed)
    lower = np.array([lower_is_better(c) for c in cols], dtype=bool)
    p_eeg = np.where(lower, d["p_greater"], d["p_less"])
    p_control = np.where(lower, d["p_less"], d["p_greater"])
    return pd.DataFrame({"metric": cols, "eeg": nan_mean(b), "control": nan_mean(a), "diff": d["mean"],
                         "lo": d["lo"], "hi": d["hi"], "p": d["p"], "p_eeg_better": p_eeg,
                         "p_control_better": p_control, "n": d["n"], "eeg_better": p_eeg < ALPHA})


def _row(table: pd.DataFrame, metric: str) -> pd.Series | None:
    rows = table[table["metric"] == metric]
    return None if rows.empty or not rows["n"].iloc[0] else rows.iloc[0]


def _imbalance_cause(metric: str, value: float, baselines: dict[str, dict]) -> str | None:
    b = baselines.get(metric)
    if not b or b.get("majority_rate") is None or value > b["majority_rate"] + IMBALANCE_TOLERANCE:
        return None
    return (f"label imbalance: always answering {'/'.join(repr(x) for x in b['majority'])} scores "
            f"{b['majority_rate']:.3g} on these samples")


def grounding(comparisons: dict[str, pd.DataFrame], baseline_comparisons: dict[str, pd.DataFrame] | None = None,
              baselines: dict[str, dict] | None = None, alpha: float = ALPHA) -> dict[str, dict[str, Any]]:
    """Per verdict family: a metric is grounded when the EEG run beats each EEG ablation (noise and
    shuffled) and each baseline that scores it (e.g. the majority class) significantly: one-sided
    paired sign-flip test, the largest p over those comparisons (intersection-union), Holm-adjusted
    across the family's metrics. A control significantly better than the EEG (one-sided,
    Holm-adjusted likewise) is a warning, with its likely cause where known; the prompt ablations
    are reported beside (two-sided, Holm-adjusted)."""
    baseline_comparisons, baselines = baseline_comparisons or {}, baselines or {}
    ablations = [c for c in EEG_ABLATIONS if c in comparisons]
    out: dict[str, dict[str, Any]] = {}
    for family, metrics in GROUNDING.items():
        present = [m for m in metrics if any(_row(t, m) is not None for t in comparisons.values())]
        verdict: dict[str, Any] = {"grounded": False, "tested": False, "against": ablations, "metrics": {},
                                   "missing_ablations": [c for c in EEG_ABLATIONS if c not in comparisons],
                                   "warnings": [], "prompt_ablation": {}}
        tested = [m for m in present if ablations and all(_row(comparisons[c], m) is not None for c in ablations)]
        if tested and not verdict["missing_ablations"]:
            verdict["tested"] = True
            p_max = []
            for m in tested:
                against = {c: comparisons[c] for c in ablations} | {
                    b: t for b, t in baseline_comparisons.items() if _row(t, m) is not None}
                rows = {c: _row(t, m) for c, t in against.items()}
                p_max.append(max(float(r["p_eeg_better"]) for r in rows.values()))
                verdict["metrics"][m] = {"eeg": float(next(iter(rows.values()))["eeg"]), "against": {
                    c: {"value": float(r["control"]), "diff": float(r["diff"]), "p": float(r["p_eeg_better"])}
                    for c, r in rows.items()}}
            for m, p in zip(tested, holm(np.array(p_max))):
                verdict["metrics"][m] |= {"p_holm": float(p), "grounded": bool(p < alpha)}
            verdict["grounded"] = any(v["grounded"] for v in verdict["metrics"].values())
        for c, table in comparisons.items():
            rows = {m: _row(table, m) for m in present if _row(table, m) is not None}
            if not rows:
                continue
            better = holm(np.array([float(r["p_control_better"]) for r in rows.values()]))
            for (m, r), p in zip(rows.items(), better):
                if p < alpha:
                    cause = _imbalance_cause(m, float(r["control"]), baselines)
                    verdict["warnings"].append(
                        f"{c} scores significantly better than the EEG on {m} ({float(r['control']):.3g} vs "
                        f"{float(r['eeg']):.3g}, one-sided Holm-adjusted p={p:.2g})"
                        + (f"; likely cause: {cause}" if cause else ""))
            if c in PROMPT_ABLATIONS:
                two_sided = holm(np.array([float(r["p"]) for r in rows.values()]))
                verdict["prompt_ablation"][c] = {m: {"diff": float(r["diff"]), "p_holm": float(p)}
                                                 for (m, r), p in zip(rows.items(), two_sided)}
        out[family] = verdict
    return out


def _against(v: dict[str, Any]) -> str:
    return " / ".join(f"{c} {a['value']:.3g}" for c, a in v["against"].items())


def grounding_lines(verdicts: dict[str, dict[str, Any]]) -> list[str]:
    """One sentence per family (``<family>: ...``), then ``warning: ...`` and ``prompt ablation: ...`` lines."""
    lines, extra = [], []
    for family, v in verdicts.items():
        if not v["tested"]:
            why = (f"needs the {' and '.join(v['missing_ablations'])} control(s)" if v["missing_ablations"]
                   else "no metric available")
            lines.append(f"{family}: not tested ({why})")
        else:
            shown = {m: x for m, x in v["metrics"].items() if x["grounded"]}
            rest = {m: x for m, x in v["metrics"].items() if not x["grounded"]}
            fmt = lambda ms: "; ".join(f"{m} {x['eeg']:.3g} vs {_against(x)} (p={x['p_holm']:.2g})"  # noqa: E731
                                       for m, x in ms.items())
            if shown:
                line = f"{family}: grounded in the EEG — {fmt(shown)}"
                if rest:
                    line += f"; not shown for {fmt(rest)}"
            else:
                line = f"{family}: NOT shown to be grounded in the EEG — {fmt(rest)}"
            against = dict.fromkeys(c for x in v["metrics"].values() for c in x["against"])
            lines.append(line + f" [EEG vs each of {', '.join(against)}: one-sided paired sign-flip test, "
                                f"Holm-adjusted over {len(v['metrics'])} metric(s), grounded at p < {ALPHA}]")
        extra += [f"warning: {family}: {w}" for w in v["warnings"]]
        for c, ms in v["prompt_ablation"].items():
            extra.append(f"prompt ablation ({c}, keeps the EEG; not a grounding condition): {family}: "
                         + ", ".join(f"{c} − EEG {m} {x['diff']:+.3g} (p={x['p_holm']:.2g})" for m, x in ms.items()))
    return lines + extra
