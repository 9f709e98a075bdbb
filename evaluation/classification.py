"""Zero-shot and LLM-assisted classification of the test split, as used by the predict_*.ipynb
notebooks: from the EEG vectors, from the text vectors of the raw and of the generated sentence
(references), and by an instruction model reading the generated sentence."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from data.dataset import GLIMDataset
from data.store import open_store
from evaluation import columns as C
from evaluation.columns import export_order
from evaluation.llm_classify import QUESTIONS, llm_classify, load_llm
from evaluation.run import evaluate, evaluation_model, settings_for
from evaluation.samples_cache import cache_key, key_mismatch, write_key
from evaluation.zero_shot import SOURCES, TASKS, confusion, target_index
from infra.atomic import atomic_write_text as write_atomic
from infra.numerics import evaluation_numerics


def test_predictions(ckpt: str, data_dir: str, text_model: str | None = None, out: str | None = None,
                     batch_size: int | None = None, device: str = "auto", progress: bool = False) -> pd.DataFrame:
    """Scored test samples with zero-shot probabilities. Read from ``out/samples.csv`` when it is
    there (e.g. written by test.py) and was made from this checkpoint, store and text model
    (``evaluation.samples_cache``); else computed with the checkpoint and saved there with its key.
    A cache made from other inputs is recomputed, said in one printed line."""
    cached = Path(out) / "samples.csv" if out else None
    key = cache_key(ckpt, data_dir, text_model) if cached is not None else None
    if cached is not None and cached.is_file():
        why = key_mismatch(cached.parent, key)
        if why is None:
            return pd.read_csv(cached)
        print(f"{why}: recomputing")
    device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    numerics = evaluation_numerics("auto", torch.device(device).type)  # test.py's default numerics
    model = evaluation_model(ckpt, text_model, numerics).to(device).eval()
    evaluation = evaluate(model, GLIMDataset(open_store(data_dir), "test"), settings_for(model, batch_size, progress=progress),
                          numerics)
    samples = export_order(evaluation.samples)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(cached, samples.to_csv(index=False))
        write_key(cached.parent, key)
    return samples


def task_samples(samples: pd.DataFrame, task: str) -> pd.DataFrame:
    """The samples that count for a task (e.g. task1 samples with a sentiment label)."""
    return samples[TASKS[task].target(samples).notna()]


def llm_predictions(samples: pd.DataFrame, task: str, llm: str, batch_size: int = 8,
                    device: str = "auto") -> pd.DataFrame:
    """An instruction model's label for the generated sentence of every sample that counts."""
    subset = task_samples(samples, task)
    gen = load_llm(llm, device)
    pred = llm_classify(gen, subset["Generated Text"].astype(str).tolist(), TASKS[task].labels, QUESTIONS[task],
                        batch_size)
    return pred.set_index(subset.index)


def summary(samples: pd.DataFrame, task: str, llm: pd.DataFrame | None = None) -> pd.DataFrame:
    """Accuracy (top-k) from each source: EEG, raw-sentence text vector, generated-sentence text
    vector, and the LLM reading the generated sentence, with the chance level."""
    t = TASKS[task]
    n = int(t.target(samples).notna().sum())
    rows = []
    for source, name in zip(SOURCES, ("EEG vector (zero-shot)", "raw sentence vector (reference)",
                                      "generated sentence vector")):
        row = {"source": name, "n": n}
        row |= {f"top{k}": samples[C.zero_shot(task, source, k)].mean() for k in t.topk}
        rows.append(row)
    if llm is not None:
        target = np.array(t.labels)[target_index(t, samples.loc[llm.index])]
        rows.append({"source": "LLM on generated sentence", "n": len(llm),
                     "top1": float((llm["label"].to_numpy() == target).mean()) if len(llm) else float("nan")})
    rows.append({"source": "chance", "n": n, **{f"top{k}": min(k / len(t.labels), 1.0) for k in t.topk}})
    return pd.DataFrame(rows)


def llm_confusion(samples: pd.DataFrame, task: str, llm: pd.DataFrame) -> np.ndarray:
    """(K, K) counts of true label × LLM label."""
    t = TASKS[task]
    k = len(t.labels)
    true = target_index(t, samples.loc[llm.index])
    pred = np.array([t.labels.index(lab) for lab in llm["label"]], dtype=np.int64)
    return np.bincount(true * k + pred, minlength=k * k).reshape(k, k)


def confusion_figure(samples: pd.DataFrame, task: str, llm: pd.DataFrame | None = None):
    """Row-normalised confusion matrices per source (and the LLM), one panel each."""
    import matplotlib.pyplot as plt

    t = TASKS[task]
    mats = {s: confusion(samples, t, s) for s in SOURCES}
    if llm is not None:
        mats["LLM"] = llm_confusion(samples, task, llm)
    fig, axes = plt.subplots(1, len(mats), figsize=(4.2 * len(mats), 4.4), squeeze=False, layout="constrained")
    for ax, (name, cm) in zip(axes[0], mats.items()):
        norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
        for (a, b), v in np.ndenumerate(cm):
            ax.text(b, a, str(v), ha="center", va="center", fontsize=7, color="white" if norm[a, b] > 0.5 else "black")
        ax.set_xticks(range(len(t.labels)), t.labels, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(len(t.labels)), t.labels if ax is axes[0][0] else [], fontsize=7)
        ax.set_title(f"{task} from {name}: acc {np.trace(cm) / max(cm.sum(), 1):.2f}", fontsize=9)
    return fig


def save_summary(table: pd.DataFrame, out: str, task: str) -> Path:
    """Write ``out/<task>_classification.csv`` atomically."""
    path = Path(out) / f"{task}_classification.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, table.to_csv(index=False))
    return path
