"""The Markdown report of a test run (and its controls), with its PNG figures."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaluation import figures
from evaluation.controls import GROUNDING, grounding_lines
from evaluation.metrics import BLEU_ORDERS, RAW_TAG, TF_SUFFIX
from evaluation.stats import bootstrap_ci
from evaluation.zero_shot import SOURCES, TASKS

GEN_ROWS = [(f"BLEU-{n}", f"Bleu{n}", f"GM\\.BLEU{n}@{{t}}") for n in BLEU_ORDERS] + [
    ("ROUGE-1 P", "Rouge1-precision", "Rouge1-precision@{t}"),
    ("ROUGE-1 R", "Rouge1-recall", "GM\\.ROUGE1@{t}"),
    ("ROUGE-1 F", "Rouge1-fmeasure", "Rouge1-fmeasure@{t}"),
]


def fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "–"
    if isinstance(v, (float, np.floating)):
        return "–" if not np.isfinite(v) else f"{v:.{digits}f}"
    return str(v)


def markdown_table(df: pd.DataFrame, digits: int = 4) -> str:
    """A DataFrame as a Markdown table (floats rounded)."""
    rows = [" | ".join(map(str, df.columns)), " | ".join("---" for _ in df.columns)]
    rows += [" | ".join(fmt(v, digits).replace("|", "\\|").replace("\n", " ") for v in r)
             for r in df.itertuples(index=False)]
    return "\n".join(f"| {r} |" for r in rows)


def with_ci(samples: pd.DataFrame, cols: list[str], n_resamples: int, seed: int = 0) -> list[str]:
    """'mean [lo, hi]' per column, bootstrap over samples."""
    ci = bootstrap_ci(samples[cols].to_numpy(np.float64), n_resamples, seed=seed)
    return [f"{fmt(m)} [{fmt(lo)}, {fmt(hi)}]" for m, lo, hi in zip(ci["mean"], ci["lo"], ci["hi"])]


def generation_table(samples: pd.DataFrame) -> pd.DataFrame:
    """BLEU/ROUGE rows × @MTV, @MTV00.., @RAW and teacher-forced columns (means)."""
    tags = [c.split("@")[1] for c in samples.columns if c.startswith("GM\\.BLEU1@") and not c.endswith(RAW_TAG)]
    rows = []
    for name, multi, single in GEN_ROWS:
        row = {"metric": name, "@MTV": samples[multi].mean()}
        row |= {f"@{t}": samples[single.format(t=t)].mean() for t in tags + [RAW_TAG]}
        row["teacher-forced (vs target)"] = samples[multi + TF_SUFFIX].mean() if multi + TF_SUFFIX in samples else np.nan
        rows.append(row)
    wer = {"metric": "WER (vs raw)", "@RAW": samples["WER"].mean(), "teacher-forced (vs target)": samples.get(
        "WER" + TF_SUFFIX, pd.Series([np.nan])).mean()}
    return pd.DataFrame(rows + [wer])


def zero_shot_table(samples: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per task and top-k from the EEG, the raw sentence and the generated sentence."""
    rows = []
    for task in TASKS.values():
        n = int(task.target(samples).notna().sum())
        for k in task.topk:
            row = {"task": f"{task.name} ({len(task.labels)}-way) top-{k}", "n": n,
                   "chance": min(k / len(task.labels), 1.0)}
            row |= {f"from {s}": samples[f"zero_shot/{task.name}@{s}/top{k}"].mean() for s in SOURCES}
            rows.append(row)
    return pd.DataFrame(rows)


def comparison_table(table: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    t = table.set_index("metric").loc[[m for m in metrics if m in set(table["metric"])]].reset_index()
    return pd.DataFrame({"metric": t["metric"], "EEG": t["eeg"], "control": t["control"],
                         "control − EEG": t["diff"], "95% CI": [f"[{fmt(a)}, {fmt(b)}]" for a, b in zip(t["lo"], t["hi"])],
                         "p": [f"{p:.3g}" if np.isfinite(p) else "–" for p in t["p"]], "n": t["n"],
                         "EEG better": np.where(t["eeg_better"], "yes", "no")})


def key_metrics(samples: pd.DataFrame) -> list[str]:
    batch = [c for c in samples.columns if c.startswith("retrieval_batch")]
    zs = [f"zero_shot/{t.name}@EEG/top{k}" for t in TASKS.values() for k in t.topk]
    return ["Bleu1", "Bleu2", "Bleu3", "Bleu4", "Rouge1-precision", "Rouge1-recall", "Rouge1-fmeasure", "WER",
            *batch, "retrieval_pool/R@1", "retrieval_pool/R@5", "retrieval_pool/R@10", "retrieval_pool/MRR", *zs]


def write_report(out: Path, title: str, meta: dict[str, Any], samples: pd.DataFrame, summary: dict[str, Any],
                 groups: pd.DataFrame, controls: dict[str, pd.DataFrame] | None = None,
                 comparisons: dict[str, pd.DataFrame] | None = None, verdicts: dict | None = None,
                 n_examples: int = 10, n_resamples: int = 1000) -> str:
    """Write the figures into ``out/figures`` and return the Markdown text of the report."""
    controls, comparisons = controls or {}, comparisons or {}
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    runs = {"EEG": samples, **controls}
    keys = [c for c in key_metrics(samples) if c in samples.columns]
    lines = [f"# {title}", "", *[f"- {k}: `{v}`" for k, v in meta.items()], f"- samples: {len(samples)}", ""]
    if verdicts:
        lines += ["## Is it grounded in the EEG?", "", *[f"- {s}" for s in grounding_lines(verdicts)], ""]
    figures.metric_bars(runs, fig_dir / "metrics.png", n_resamples)
    lines += ["## Headline metrics", "", "![metrics](figures/metrics.png)", ""]
    head = pd.DataFrame({"metric": keys, "EEG (95% bootstrap CI)": with_ci(samples, keys, n_resamples)})
    for name, s in controls.items():
        head[name] = [fmt(s[c].mean()) for c in keys]
    lines += [markdown_table(head), ""]

    figures.variant_bars(samples, fig_dir / "variants.png", n_resamples)
    lines += ["## Generation against each target", "",
              "Beam search from the EEG embeddings alone; the teacher-forced column is the argmax of "
              "the teacher-forced logits; its BLEU/ROUGE are against the target the model was taught toward "
              "(the raw sentence cut at tgt_text_len tokens), its WER against the raw sentence.", "",
              markdown_table(generation_table(samples)), "", "![variants](figures/variants.png)", ""]

    figures.rank_histogram(runs, fig_dir / "retrieval_ranks.png")
    ret = [k for k in summary if k.startswith("retrieval_")]
    lines += ["## Retrieval", "", markdown_table(pd.DataFrame({"metric": ret, "value": [fmt(summary[k]) for k in ret]})),
              "", "![ranks](figures/retrieval_ranks.png)", ""]

    figures.confusion_grid(samples, fig_dir / "zero_shot_confusion.png")
    lines += ["## Zero-shot classification", "",
              "Softmax over the cosine similarity of a vector with the label sentences' text vectors; "
              "from the EEG vector, and from the text vectors of the raw and of the generated sentence.", "",
              markdown_table(zero_shot_table(samples)), "", "![confusion](figures/zero_shot_confusion.png)", ""]

    if comparisons:
        decisive = [m for ms in GROUNDING.values() for m in ms]
        figures.control_forest(comparisons, [m for m in keys if m in decisive or m in ("Bleu4", "WER")],
                               fig_dir / "controls.png")
        lines += ["## EEG vs controls", "", "Paired over samples: control − EEG, bootstrap 95% CI "
                  "(resampling samples) and sign-flip permutation p-value.", "", "![controls](figures/controls.png)", ""]
        for name, table in comparisons.items():
            lines += [f"### {name}", "", markdown_table(comparison_table(table, keys)), ""]

    lines += ["## Per group (task – dataset – subject – raw task)", "", markdown_table(groups, 3), "", "## Examples", ""]
    ex = samples.head(n_examples)
    lines += [markdown_table(pd.DataFrame({"input": ex["Input Text"], "generated": ex["Generated Text"],
                                           "teacher-forced": ex["Generated Text (w/tf)"], "BLEU-1": ex["Bleu1"]}), 3)]
    return "\n".join(lines) + "\n"
