"""Report figures (matplotlib, Agg backend), each written atomically as a PNG.

Every function takes scored sample tables / comparison tables and returns the path written.
"""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from evaluation.stats import bootstrap_ci  # noqa: E402
from evaluation.zero_shot import SOURCES, TASKS, confusion  # noqa: E402
from infra.atomic import atomic_write_bytes  # noqa: E402

GENERATION = ("Bleu1", "Bleu2", "Bleu3", "Bleu4", "Rouge1-precision", "Rouge1-recall", "Rouge1-fmeasure")
COLORS = ("#1f4e79", "#c0504d", "#9bbb59", "#8064a2", "#f79646")


def save_figure(fig: plt.Figure, path: Path) -> Path:
    """Render as PNG and write it atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def _ci_bars(ax: plt.Axes, runs: dict[str, pd.DataFrame], metrics: list[str], labels: list[str],
             n_resamples: int, seed: int) -> None:
    """Grouped bars of the means of ``metrics`` per run, with bootstrap 95% CIs over samples."""
    width = 0.8 / max(len(runs), 1)
    x = np.arange(len(metrics))
    for r, (name, s) in enumerate(runs.items()):
        ci = bootstrap_ci(s[metrics].to_numpy(np.float64), n_resamples, seed=seed)
        err = np.abs(np.vstack([ci["mean"] - ci["lo"], ci["hi"] - ci["mean"]]))
        ax.bar(x + (r - (len(runs) - 1) / 2) * width, ci["mean"], width, yerr=np.nan_to_num(err),
               capsize=2, label=name, color=COLORS[r % len(COLORS)])
    ax.set_xticks(x, labels, rotation=30, ha="right")
    ax.grid(axis="y", alpha=0.3)


def metric_bars(runs: dict[str, pd.DataFrame], path: Path, n_resamples: int = 1000, seed: int = 0) -> Path:
    """BLEU/ROUGE @MTV (left) and retrieval / zero-shot from EEG (right), EEG run vs controls."""
    first = next(iter(runs.values()))
    batch = [c for c in first.columns if c.startswith("retrieval_batch") and c.endswith(("/top1", "/top5"))]
    other = [c for c in (*batch, "retrieval_pool/R@1", "retrieval_pool/R@10", "retrieval_pool/MRR",
                         "zero_shot/sentiment@EEG/top1", "zero_shot/relation@EEG/top1",
                         "zero_shot/relation@EEG/top3", "zero_shot/corpus@EEG/top1")
             if c in first.columns and first[c].notna().any()]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [len(GENERATION), max(len(other), 1)]})
    _ci_bars(axes[0], runs, list(GENERATION), [m.replace("Rouge1-", "ROUGE-1 ").replace("Bleu", "BLEU-") for m in GENERATION],
             n_resamples, seed)
    axes[0].set_title("generation @MTV (mean, 95% bootstrap CI)")
    if other:
        _ci_bars(axes[1], runs, other, [c.split("/", 1)[1].replace("@EEG", "") for c in other], n_resamples, seed)
    axes[1].set_title("retrieval and zero-shot from EEG")
    axes[0].legend(fontsize=8)
    return save_figure(fig, path)


def variant_bars(samples: pd.DataFrame, path: Path, n_resamples: int = 1000, seed: int = 0) -> Path:
    """BLEU-1 and ROUGE-1 recall against each reference alone, the raw sentence, and all (MTV)."""
    tags = [c.split("@")[1] for c in samples.columns if c.startswith("GM\\.BLEU1@")]
    runs = {"BLEU-1": samples.assign(**{t: samples[f"GM\\.BLEU1@{t}"] for t in tags}, MTV=samples["Bleu1"]),
            "ROUGE-1 recall": samples.assign(**{t: samples[f"GM\\.ROUGE1@{t}"] for t in tags}, MTV=samples["Rouge1-recall"])}
    fig, ax = plt.subplots(figsize=(10, 3.8))
    _ci_bars(ax, runs, tags + ["MTV"], tags + ["MTV (all 8)"], n_resamples, seed)
    ax.set_title("generated text against each target variant, the raw sentence, and all variants")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def control_forest(comparisons: dict[str, pd.DataFrame], metrics: list[str], path: Path) -> Path:
    """Control − EEG per metric with the paired 95% CI; filled marker = significant."""
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(metrics) * max(len(comparisons), 1) + 1.2))
    y, ticks, names = 0, [], []
    for m in metrics:
        top = y
        for c, (control, table) in enumerate(comparisons.items()):
            row = table.set_index("metric").loc[m] if m in set(table["metric"]) else None
            if row is None or not row["n"]:
                continue
            color = COLORS[(c + 1) % len(COLORS)]
            ax.errorbar(row["diff"], y, xerr=[[row["diff"] - row["lo"]], [row["hi"] - row["diff"]]], fmt="o",
                        color=color, mfc=color if row["eeg_better"] else "white", capsize=3,
                        label=control if m == metrics[0] else None)
            y -= 1
        if y < top:
            ticks.append((top + y + 1) / 2)
            names.append(m)
            ax.axhline(y + 0.25, color="grey", lw=0.4, alpha=0.5)
        y -= 0.5
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(ticks, names, fontsize=8)
    ax.set_xlabel("control − EEG (filled: EEG significantly better; WER: lower is better)")
    ax.legend(fontsize=8, loc="best")
    return save_figure(fig, path)


def rank_histogram(runs: dict[str, pd.DataFrame], path: Path) -> Path:
    """Histogram of the 1-based rank of the true sentence among all distinct test sentences."""
    first = next(iter(runs.values()))
    pool = int(first["text uid"].nunique())
    bins = np.linspace(0.5, pool + 0.5, min(pool, 40) + 1)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for r, (name, s) in enumerate(runs.items()):
        ax.hist(s["rank@pool"], bins=bins, histtype="step", lw=1.6, color=COLORS[r % len(COLORS)], label=name)
    ax.axhline(len(first) / (len(bins) - 1), color="grey", ls="--", lw=1, label="chance")
    ax.set_xlabel(f"rank of the true sentence among {pool} test sentences")
    ax.set_ylabel("samples")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def confusion_grid(samples: pd.DataFrame, path: Path, sources: tuple[str, ...] = SOURCES) -> Path:
    """Row-normalised zero-shot confusion matrices: one row per task, one column per source."""
    tasks = [t for t in TASKS.values() if t.target(samples).notna().any()]
    fig, axes = plt.subplots(max(len(tasks), 1), len(sources), figsize=(4.2 * len(sources), 4.4 * max(len(tasks), 1)),
                             squeeze=False, layout="constrained")
    for i, task in enumerate(tasks):
        for j, source in enumerate(sources):
            ax = axes[i, j]
            cm = confusion(samples, task, source)
            norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
            ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
            for (a, b), v in np.ndenumerate(cm):
                ax.text(b, a, str(v), ha="center", va="center", fontsize=7,
                        color="white" if norm[a, b] > 0.5 else "black")
            k = len(task.labels)
            ax.set_xticks(range(k), task.labels, rotation=60, ha="right", fontsize=7)
            ax.set_yticks(range(k), task.labels if j == 0 else [], fontsize=7)
            ax.set_xlabel("predicted", fontsize=8)
            if j == 0:
                ax.set_ylabel("true", fontsize=8)
            acc = np.trace(cm) / max(cm.sum(), 1)
            ax.set_title(f"{task.name} from {source}: acc {acc:.2f}", fontsize=9)
    return save_figure(fig, path)
