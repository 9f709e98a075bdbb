"""The Markdown report of a test run (and its controls), with its PNG figures.

The report shows what ``metrics.json`` holds (the same summary, CIs, verdicts, baselines,
diversity and provenance: computed once in ``evaluation.result``) and adds the figures."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaluation import columns as C
from evaluation import figures
from evaluation.diversity import MOST_FREQUENT, WARNING
from evaluation.grounding import GROUNDING, grounding_lines
from evaluation.metrics import BLEU_ORDERS, RAW_TAG, TF_SUFFIX
from evaluation.summary import key_metrics
from evaluation.tables import fmt, markdown_table
from evaluation.zero_shot import SOURCES, TASKS, balanced_accuracy, score_column

GEN_ROWS = [(f"BLEU-{n}", f"Bleu{n}", f"GM\\.BLEU{n}@{{t}}") for n in BLEU_ORDERS] + [
    ("ROUGE-1 P", C.rouge("precision"), "Rouge1-precision@{t}"),
    ("ROUGE-1 R", C.rouge("recall"), "GM\\.ROUGE1@{t}"),
    ("ROUGE-1 F", C.rouge("fmeasure"), "Rouge1-fmeasure@{t}"),
]


RAW_SENTENCE = ("@MTV scores a generation against the 8 target variants together (paraphrases written by an "
                "LLM from the sentence; the published figures), @RAW against the sentence the subject actually read.")
NO_LOGS = ("no training logs found beside the checkpoint (looked for {dir}/logs/version_*/metrics.csv and "
           "{dir}/full_val/epoch=*/metrics.json)")


def with_ci(ci: pd.DataFrame, cols: list[str]) -> list[str]:
    """'mean [lo, hi]' per column of a CI table (``evaluation.stats.ci_table``)."""
    t = ci.reindex(cols)
    return [f"{fmt(m)} [{fmt(lo)}, {fmt(hi)}]" for m, lo, hi in zip(t["mean"], t["lo"], t["hi"])]


def retrieval_chance(pool_size: int, batch_sizes: list[int], ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    """Expected value of each retrieval metric for vectors that carry no information: top-k k/b in
    batches of b, R@k k/u, MRR H_u/u and median rank (u+1)/2 over a pool of u sentences."""
    u = max(int(pool_size), 1)
    out = {C.pool_recall(k): min(k / u, 1.0) for k in ks}
    out |= {C.POOL_MRR: float(np.sum(1.0 / np.arange(1, u + 1)) / u), C.median_rank("pool"): (u + 1) / 2}
    for b in batch_sizes:
        out |= {f"retrieval_batch{b}/top{k}": min(k / b, 1.0) for k in ks} | {f"retrieval_batch{b}/median_rank": (b + 1) / 2}
    return out


def batch_sizes(columns) -> list[int]:
    """The retrieval batch sizes b of the ``retrieval_batch<b>/...`` columns."""
    return sorted({int(c.split("/")[0].removeprefix("retrieval_batch")) for c in columns if c.startswith("retrieval_batch")})


def blank_reason(metric: str, summary: dict[str, Any], samples: pd.DataFrame) -> str:
    """Why a metric has no value, in a few words."""
    if metric.startswith("retrieval_batch"):
        b = int(metric.split("/")[0].removeprefix("retrieval_batch"))
        pool = summary.get(C.POOL_SIZE, samples["text uid"].nunique())
        return (f"{pool} distinct test sentences < {b}" if pool < b
                else f"no batch of {b} distinct sentences among the evaluated batches")
    for task in TASKS.values():
        if metric.startswith(f"{C.ZERO_SHOT_PREFIX}{task.name}@"):
            return f"no {task.name} samples"
    return "undefined"


def value_or_reason(metric: str, summary: dict[str, Any], samples: pd.DataFrame) -> str:
    v = summary.get(metric)
    return fmt(v) if v is not None else f"– ({blank_reason(metric, summary, samples)})"


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


def zero_shot_table(samples: pd.DataFrame, baselines: dict[str, dict]) -> pd.DataFrame:
    """Per task and top-k: samples, uniform chance, the majority-class baseline, accuracy from the
    EEG (and its balanced accuracy for top-1), from the raw and from the generated sentence."""
    rows = []
    for task in TASKS.values():
        for k in task.topk:
            b = baselines.get(score_column(task.name, k, "EEG"), {})
            n = b.get("n", int(task.target(samples).notna().sum()))
            row = {"task": f"{task.name} ({len(task.labels)}-way) top-{k}", "n": n, "chance": min(k / len(task.labels), 1.0),
                   "majority class": "/".join(b.get("majority", [])) or f"– (no {task.name} samples)",
                   "majority rate": b.get("majority_rate")}
            for s in SOURCES:
                row[f"from {s}"] = samples[score_column(task.name, k, s)].mean() if n else f"– (no {task.name} samples)"
                if s == "EEG":
                    row["balanced acc. from EEG (chance 1/K)"] = (balanced_accuracy(samples, task, "EEG")
                                                                 if k == 1 and n else None)
            rows.append(row)
    return pd.DataFrame(rows)


def comparison_table(table: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    t = table.set_index("metric").loc[[m for m in metrics if m in set(table["metric"])]].reset_index()
    p1 = t["p_eeg_better"] if "p_eeg_better" in t else pd.Series(np.nan, index=t.index)
    return pd.DataFrame({"metric": t["metric"], "EEG": t["eeg"], "control": t["control"],
                         "control − EEG": t["diff"], "95% CI": [f"[{fmt(a)}, {fmt(b)}]" for a, b in zip(t["lo"], t["hi"])],
                         "p (two-sided)": [f"{p:.3g}" if np.isfinite(p) else "–" for p in t["p"]],
                         "p (EEG better, one-sided)": [f"{p:.3g}" if np.isfinite(p) else "–" for p in p1], "n": t["n"]})


def split_text(split: dict[str, Any]) -> str:
    """``sentences (the original's: held-out sentences, shared subjects)`` or the held-out subjects."""
    name = split.get("protocol", "sentences")
    if name == "sentences":
        return "`sentences` (the original's: held-out sentences, shared subjects)"
    return f"`{name}` (held-out subjects: {', '.join(split.get('held_out_subjects', []))})"


def provenance_lines(p: dict[str, Any]) -> list[str]:
    """Markdown bullet lines of a provenance record."""
    store = p["store"]
    code = p["code"] or {}
    info = store["store.json"] or {}
    return [(f"- store: `{store['path']}` ({info.get('n_records', '?')} records; sha256 of "
             f"{' + '.join(store['hashed'])}: `{store['sha256'][:16]}…`)"),
            f"- split protocol: {split_text(store.get('split') or {})}",
            f"- text model: `{p['text_model']}`",
            f"- checkpoint: `{p['checkpoint']['path']}` (sha256 `{p['checkpoint']['sha256']}`)",
            f"- code: git commit `{code.get('commit', 'unknown')}`" + (" with uncommitted changes" if code.get("dirty") else ""),
            f"- training seed: `{p['training_seed']}`",
            "- test configuration: `" + json.dumps(p["config"], sort_keys=True, default=str) + "`"]


def baseline_of(metric: str, result: dict[str, Any]) -> str:
    """Chance (and the majority-class rate) of a metric, as text."""
    chance = result.get("baselines", {}).get("retrieval_chance", {}).get(metric)
    if chance is not None:
        return f"chance {fmt(chance)}"
    zs = result.get("baselines", {}).get("zero_shot", {}).get(metric)
    if zs:
        return f"chance {fmt(zs['chance'])}, majority {fmt(zs['majority_rate'])}"
    return ""


def diversity_tables(diversity: dict[str, dict[str, Any]]) -> list[str]:
    """One table of the figures (a column per run) and the most frequent generations of each run."""
    names = [k for k in next(iter(diversity.values())) if k not in (MOST_FREQUENT, WARNING)]
    table = pd.DataFrame({"figure": names, **{run: [d.get(k) for k in names] for run, d in diversity.items()}},
                         dtype=object)  # counts stay integers
    lines = [markdown_table(table, 3), ""]
    for run, d in diversity.items():
        top = pd.DataFrame(d[MOST_FREQUENT]).rename(columns={"text": f"most frequent generations ({run})"})
        lines += [markdown_table(top) if len(top) else f"({run}: no generations)", ""]
    return lines


def curve_lines(curves: dict[str, pd.DataFrame] | None, run_dir: Path | None, fig_dir: Path) -> list[str]:
    if not curves:
        return [NO_LOGS.format(dir=run_dir) if run_dir else "no training logs given", ""]
    figures.training_curves(curves, fig_dir / "training_curves.png")
    lines = [f"From the logs beside the checkpoint (`{run_dir}`).", "", "![training](figures/training_curves.png)", ""]
    if "full validation" in curves:
        lines += ["Full validation (the test protocol on the val split) per epoch:", "",
                  markdown_table(curves["full validation"]), ""]
    return lines


def write_report(out: Path, title: str, meta: dict[str, Any], samples: pd.DataFrame, result: dict[str, Any],
                 groups: pd.DataFrame, cis: dict[str, pd.DataFrame], controls: dict[str, pd.DataFrame] | None = None,
                 comparisons: dict[str, pd.DataFrame] | None = None, curves: dict[str, pd.DataFrame] | None = None,
                 run_dir: Path | None = None, n_examples: int = 10) -> str:
    """Write the figures into ``out/figures`` and return the Markdown text of the report.

    ``result`` is the metrics.json record (summary ``metrics``, ``grounding``, ``baselines``,
    ``diversity``, ``provenance``); ``cis`` the CI table of each run (``EEG`` first, then the controls),
    the same that metrics.json's ``ci95`` holds."""
    controls, comparisons = controls or {}, comparisons or {}
    summary, verdicts = result["metrics"], result.get("grounding")
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    runs = {"EEG": samples, **controls}
    keys = [c for c in key_metrics(samples) if c in samples.columns]
    lines = [f"# {title}", "", *[f"- {k}: `{v}`" for k, v in meta.items()], f"- samples: {len(samples)}", ""]
    collapse = [f"warning: generation collapse ({run}): {d[WARNING]}"
                for run, d in result.get("diversity", {}).items() if d.get(WARNING)]
    if verdicts or collapse:
        lines += ["## Is it grounded in the EEG?", "", *[f"- {s}" for s in grounding_lines(verdicts or {})],
                  *[f"- {s}" for s in collapse], ""]
    figures.metric_bars(cis, fig_dir / "metrics.png")
    lines += ["## Headline metrics", "", RAW_SENTENCE, "", "![metrics](figures/metrics.png)", ""]
    head = pd.DataFrame({"metric": keys, "EEG (95% bootstrap CI)": with_ci(cis["EEG"], keys)})
    for name in controls:
        head[name] = [fmt(v) for v in cis[name].reindex(keys)["mean"]]
    head["chance / baseline"] = [baseline_of(k, result) for k in keys]
    head.loc[head["EEG (95% bootstrap CI)"].str.startswith("– "), "EEG (95% bootstrap CI)"] = [
        f"– ({blank_reason(k, summary, samples)})" for k in head["metric"][head["EEG (95% bootstrap CI)"].str.startswith("– ")]]
    lines += [markdown_table(head), ""]

    figures.variant_bars(cis["EEG"], fig_dir / "variants.png")
    lines += ["## Generation against each target", "", RAW_SENTENCE + " @MTV00..07 score against each variant alone.",
              ("Beam search from the EEG embeddings alone; the teacher-forced column is the argmax of "
              "the teacher-forced logits; its BLEU/ROUGE are against the target the model was taught toward "
              "(the raw sentence cut at tgt_text_len tokens), its WER against the raw sentence."), "",
              markdown_table(generation_table(samples)), "", "![variants](figures/variants.png)", ""]
    if result.get("diversity"):
        lines += ["## Collapse and diversity", "",
                  ("Distinct generations, distinct-n (unique n-grams / all n-grams of the run), self-BLEU (each "
                  "generation against all others: 1 = every generation repeats another) and lengths in words."), "",
                  *diversity_tables(result["diversity"])]

    figures.rank_histogram(runs, fig_dir / "retrieval_ranks.png")
    ret = [k for k in summary if k.startswith("retrieval_")]
    chance = result.get("baselines", {}).get("retrieval_chance", {})
    lines += ["## Retrieval", "", (f"Chance: what vectors without information score, for the pool of "
              f"{summary.get(C.POOL_SIZE)} distinct sentences and batches of "
              f"{', '.join(map(str, batch_sizes(ret))) or '–'}."), "",
              markdown_table(pd.DataFrame({"metric": ret, "value": [value_or_reason(k, summary, samples) for k in ret],
                                           "chance": [fmt(chance.get(k)) for k in ret]})),
              "", "![ranks](figures/retrieval_ranks.png)", ""]

    figures.confusion_grid(samples, fig_dir / "zero_shot_confusion.png")
    lines += ["## Zero-shot classification", "",
              ("Softmax over the cosine similarity of a vector with the label sentences' text vectors; "
              "from the EEG vector, and from the text vectors of the raw and of the generated sentence. "
              "The majority class always answers the most frequent label(s) of these samples; balanced "
              "accuracy is the mean recall over the labels present (chance 1/K whatever the imbalance)."), "",
              markdown_table(zero_shot_table(samples, result.get("baselines", {}).get("zero_shot", {}))), "",
              "![confusion](figures/zero_shot_confusion.png)", ""]

    if comparisons:
        decisive = [m for ms in GROUNDING.values() for m in ms]
        figures.control_forest(comparisons, [m for m in keys if m in decisive or m in (C.bleu(4), "WER")],
                               fig_dir / "controls.png")
        lines += ["## EEG vs controls", "", ("Paired over samples: control − EEG, bootstrap 95% CI "
                  "(resampling samples) and sign-flip permutation p-values (two-sided, and one-sided for the EEG "
                  "run being better, the test of the verdicts before Holm's adjustment)."), "",
                  "![controls](figures/controls.png)", ""]
        for name, table in comparisons.items():
            lines += [f"### {name}", "", markdown_table(comparison_table(table, keys)), ""]

    lines += ["## Training", "", *curve_lines(curves, run_dir, fig_dir)]
    lines += ["## Per group (task – dataset – subject – raw task)", "", markdown_table(groups, 3), "", "## Examples", ""]
    ex = samples.head(n_examples)
    lines += [markdown_table(pd.DataFrame({"input": ex["Input Text"], "generated": ex["Generated Text"],
                                           "teacher-forced": ex["Generated Text (w/tf)"], "BLEU-1": ex[C.bleu(1)]}), 3), ""]
    if result.get("provenance"):
        lines += ["## Provenance", "", *provenance_lines(result["provenance"])]
    return "\n".join(lines) + "\n"
