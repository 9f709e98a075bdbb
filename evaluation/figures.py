"""Report figures (matplotlib, Agg backend outside notebooks), each written atomically as a PNG.

Every function takes scored sample tables / comparison tables and returns the path written.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib

if "inline" not in os.environ.get("MPLBACKEND", ""):  # a notebook's kernel keeps its inline figures
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from evaluation import columns as C
from evaluation.zero_shot import SOURCES, TASKS, confusion  # noqa: E402
from infra.atomic import atomic_write_bytes  # noqa: E402

GENERATION = (C.bleu(1), C.bleu(2), C.bleu(3), C.bleu(4), C.rouge("precision"), C.rouge("recall"), C.rouge("fmeasure"))
COLORS = ("#1f4e79", "#c0504d", "#9bbb59", "#8064a2", "#f79646")


def save_figure(fig: plt.Figure, path: Path) -> Path:
    """Render as PNG and write it atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


RAW_PAIRS = ((C.bleu(1), C.gm_bleu(1, C.RAW_TAG)), (C.rouge("fmeasure"), C.rouge_at("fmeasure", C.RAW_TAG)))  # @MTV beside @RAW


def _ci_bars(ax: plt.Axes, cis: dict[str, pd.DataFrame], metrics: list[str], labels: list[str]) -> None:
    """Grouped bars of the means of ``metrics`` per run with their 95% CIs (``evaluation.stats.ci_table``
    of each run, computed once per result)."""
    width = 0.8 / max(len(cis), 1)
    x = np.arange(len(metrics))
    for r, (name, ci) in enumerate(cis.items()):
        t = ci.reindex(metrics)
        err = np.abs(np.vstack([t["mean"] - t["lo"], t["hi"] - t["mean"]]))
        ax.bar(x + (r - (len(cis) - 1) / 2) * width, t["mean"], width, yerr=np.nan_to_num(err),
               capsize=2, label=name, color=COLORS[r % len(COLORS)])
    ax.set_xticks(x, labels, rotation=30, ha="right")
    ax.grid(axis="y", alpha=0.3)


def metric_bars(cis: dict[str, pd.DataFrame], path: Path) -> Path:
    """BLEU/ROUGE @MTV with BLEU-1 / ROUGE-1 F @RAW (left) and retrieval / zero-shot from EEG (right),
    EEG run vs controls, from the runs' CI tables."""
    first = next(iter(cis.values()))
    have = lambda c: c in first.index and np.isfinite(first.at[c, "mean"])  # noqa: E731
    generation = [c for c in (*GENERATION, *(raw for _, raw in RAW_PAIRS)) if have(c)]
    batch = [c for c in first.index if c.startswith("retrieval_batch") and c.endswith(("/top1", "/top5"))]
    other = [c for c in (*batch, C.pool_recall(1), C.pool_recall(10), C.POOL_MRR,
                         "zero_shot/sentiment@EEG/top1", "zero_shot/relation@EEG/top1",
                         "zero_shot/relation@EEG/top3", "zero_shot/corpus@EEG/top1") if have(c)]
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.2), gridspec_kw={"width_ratios": [max(len(generation), 1), max(len(other), 1)]})
    _ci_bars(axes[0], cis, generation, [C.label(m) for m in generation])
    axes[0].set_title("generation @MTV (8 variants) and @RAW (the sentence read); mean, 95% bootstrap CI", fontsize=9)
    if other:
        _ci_bars(axes[1], cis, other, [C.label(c) for c in other])
    axes[1].set_title("retrieval and zero-shot from EEG")
    axes[0].legend(fontsize=8)
    return save_figure(fig, path)


def variant_bars(ci: pd.DataFrame, path: Path) -> Path:
    """BLEU-1 and ROUGE-1 recall against each reference alone, the raw sentence, and all (MTV),
    from the EEG run's CI table."""
    tags = [c.split("@")[1] for c in ci.index if c.startswith(C.gm_bleu(1, ""))]
    rows = {"BLEU-1": (C.gm_bleu(1, "{t}"), C.bleu(1)), "ROUGE-1 recall": (C.gm_rouge("{t}"), C.rouge("recall"))}
    cis = {}
    for name, (single, multi) in rows.items():
        t = ci.reindex([single.format(t=t) for t in tags] + [multi])
        cis[name] = t.set_axis(tags + ["MTV"])
    fig, ax = plt.subplots(figsize=(10, 3.8))
    _ci_bars(ax, cis, tags + ["MTV"], tags + ["MTV (all 8)"])
    ax.set_title("generated text against each target variant, the raw sentence, and all variants")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def scale_groups(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The curves of a panel split by scale: those within [0, 1] (BLEU, ROUGE, accuracies, recall),
    and the others (WER, ranks, losses), each group on its own axis; one group when all are alike."""
    curves = [c for c in frame.columns if c != "epoch" and frame[c].notna().any()]
    unbounded = [c for c in curves if C.lower_is_better(c) or frame[c].abs().max() > 1]
    bounded = [c for c in curves if c not in unbounded]
    return (bounded, unbounded) if bounded and unbounded else (curves, [])


def training_curves(curves: dict[str, pd.DataFrame], path: Path) -> Path:
    """One panel per curve family (losses, val retrieval, full-validation means) against the epoch;
    metrics of different scales (e.g. WER beside BLEU/ROUGE) on a left and a right axis."""
    fig, axes = plt.subplots(1, len(curves), figsize=(5.5 * len(curves), 3.6), squeeze=False)
    for ax, (name, frame) in zip(axes[0], curves.items()):
        name_of = C.label if name == "full validation" else str
        left, right = scale_groups(frame)
        handles = []
        for axis, group, style in ((ax, left, "-"), (ax.twinx() if right else None, right, "--")):
            for col in group:
                ok, i = frame[col].notna(), len(handles)
                handles += axis.plot(frame["epoch"][ok], frame[col][ok], style, marker="o", ms=3,
                                     color=COLORS[i % len(COLORS)], label=name_of(col))
            if group and axis is not ax:
                axis.set_ylabel(", ".join(map(name_of, group)) + " (dashed)", fontsize=8)
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend(handles=handles, fontsize=7)
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
    ax.set_xlabel("control − EEG (filled: EEG better, one-sided p < 0.05 before Holm; WER: lower is better)")
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
