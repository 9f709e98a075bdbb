"""Control conditions and their paired comparison with the EEG run.

- ``noise``: every EEG replaced by standard-normal noise (seed 42), mask all ones (SPEC §2).
- ``prompt-free``: every prompt id 0 (``<UNK>`` for task, dataset and subject).
- ``shuffled``: each sample reads the EEG (and mask) of another sample with a different text,
  by a fixed seeded derangement; its own text, prompts and labels are kept.

A control dataset has the same samples in the same order as the EEG dataset, so rows pair up.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from data.dataset import GLIMDataset
from evaluation.scoring import lower_is_better, metric_names
from evaluation.stats import derangement_by_group, nan_mean, paired_difference

CONTROLS = ("noise", "prompt-free", "shuffled")
PROMPT_MODE = {"prompt-free": "zero"}  # evaluation prompt mode a control forces
GROUNDING = {  # the metrics whose improvement over every control shows use of the EEG
    "generation": ("Bleu1", "Rouge1-fmeasure"),
    "retrieval": ("retrieval_pool/MRR",),
    "classification": ("zero_shot/sentiment@EEG/top1", "zero_shot/relation@EEG/top1", "zero_shot/corpus@EEG/top1"),
}


class ControlDataset(Dataset):
    """The samples of ``base`` (same uids, same order), altered by ``__getitem__``."""

    def __init__(self, base: Dataset):
        self.base = base

    @property
    def uids(self) -> np.ndarray:
        return self.base.uids

    def __len__(self) -> int:
        return len(self.base)


class PromptFree(ControlDataset):
    """The samples of ``base`` with every prompt id set to 0."""

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = self.base[i]
        return {**item, "prompt_ids": torch.zeros_like(item["prompt_ids"])}


class ShuffledEEG(ControlDataset):
    """The samples of ``base``, sample i reading the EEG of sample ``partner[i]`` (another text)."""

    def __init__(self, base: Dataset, seed: int = 42):
        super().__init__(base)
        self.partner = derangement_by_group(np.asarray(base.uids), seed)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item, other = self.base[i], self.base[int(self.partner[i])]
        return {**item, "eeg": other["eeg"], "eeg_len": other["eeg_len"], "eeg_record": other["record"]}


def parse_controls(spec: str | None) -> list[str]:
    """``"noise,shuffled"`` → ``["noise", "shuffled"]``; ``"all"`` → every control."""
    if not spec:
        return []
    names = list(CONTROLS) if spec.strip() == "all" else [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [n for n in names if n not in CONTROLS]
    if unknown:
        raise ValueError(f"unknown control(s) {unknown}; choose from {', '.join(CONTROLS)} or 'all'")
    return list(dict.fromkeys(names))


def control_dataset(name: str, store, phase: str, seed: int = 42) -> Dataset:
    """The dataset of a control (or of the EEG run for ``name='eeg'``)."""
    if name == "noise":
        return GLIMDataset(store, phase, noise_input=True)
    base = GLIMDataset(store, phase)
    if name in ("eeg", None):
        return base
    if name == "prompt-free":
        return PromptFree(base)
    if name == "shuffled":
        return ShuffledEEG(base, seed)
    raise ValueError(f"unknown control {name!r}")


# ----------------------------------------------------------------------------- comparison
def compare(eeg: pd.DataFrame, control: pd.DataFrame, n_resamples: int = 2000, n_permutations: int = 2000,
            seed: int = 0) -> pd.DataFrame:
    """Per metric: EEG mean, control mean, control − EEG with a paired bootstrap CI and sign-flip
    p-value, and whether the EEG run is significantly better (direction-aware, 5 %)."""
    if not (eeg["sample"].to_numpy() == control["sample"].to_numpy()).all():
        raise ValueError("the control run does not hold the samples of the EEG run in the same order")
    cols = [c for c in metric_names(eeg) if c in control.columns]
    a, b = control[cols].to_numpy(np.float64), eeg[cols].to_numpy(np.float64)
    d = paired_difference(a, b, n_resamples, n_permutations, seed=seed)
    lower = np.array([lower_is_better(c) for c in cols])
    better = np.where(lower, d["lo"] > 0, d["hi"] < 0) & (d["p"] < 0.05)
    return pd.DataFrame({"metric": cols, "eeg": nan_mean(b), "control": nan_mean(a), "diff": d["mean"],
                         "lo": d["lo"], "hi": d["hi"], "p": d["p"], "n": d["n"], "eeg_better": better})


def grounding(comparisons: dict[str, pd.DataFrame]) -> dict[str, dict[str, Any]]:
    """Per family: grounded when every decisive metric is significantly better for the EEG run than
    for every control (an intersection-union test, valid at 5 % without correction)."""
    out: dict[str, dict[str, Any]] = {}
    for family, metrics in GROUNDING.items():
        failing, checked = [], []
        for control, table in comparisons.items():
            rows = table.set_index("metric")
            for m in metrics:
                if m not in rows.index or not rows.at[m, "n"]:
                    continue
                checked.append(m)
                if not rows.at[m, "eeg_better"]:
                    failing.append({"control": control, "metric": m, "diff": float(rows.at[m, "diff"]),
                                    "p": float(rows.at[m, "p"])})
        out[family] = {"grounded": bool(checked) and not failing, "metrics": sorted(set(checked)),
                       "controls": list(comparisons), "failing": failing}
    return out


def grounding_lines(verdicts: dict[str, dict[str, Any]]) -> list[str]:
    """One sentence per family."""
    lines = []
    for family, v in verdicts.items():
        if not v["metrics"]:
            lines.append(f"{family}: not tested (no metric available)")
        elif v["grounded"]:
            lines.append(f"{family}: grounded in the EEG — {', '.join(v['metrics'])} significantly better "
                         f"than every control ({', '.join(v['controls'])}; p < 0.05, 95% CI excludes 0)")
        else:
            by_control: dict[str, list[str]] = {}
            for f in v["failing"]:
                by_control.setdefault(f["control"], []).append(f"{f['metric']} {f['diff']:+.3g} (p={f['p']:.2g})")
            lines.append(f"{family}: NOT shown to be grounded in the EEG — not significantly better than "
                         + "; ".join(f"{c}: {', '.join(ms)}" for c, ms in by_control.items()))
    return lines
