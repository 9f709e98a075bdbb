"""Test-split inference: generation, teacher-forced predictions, EEG and text vectors."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd
import torch
from rich.progress import Progress

from .glim import GLIM


@dataclass
class Predictions:
    """Everything test.py scores: one row per sample plus the vectors."""

    samples: pd.DataFrame  # input text, targets, generated, teacher-forced, labels, batch
    eeg_vec: torch.Tensor  # (n, d)
    text_vec: torch.Tensor  # (n, d)


@torch.no_grad()
def predict(model: GLIM, loader: Iterable[dict], prompt_mode: str | None = None, num_beams: int = 2,
            max_length: int = 64, progress: bool = True) -> Predictions:
    """Run the model over ``loader`` in eval mode (teacher-forced pass + beam search)."""
    model.eval()
    device = model.device
    rows, eeg_vecs, text_vecs = [], [], []
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    tokenizer = model.text_model.tokenizer
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("testing", total=len(loader) if hasattr(loader, "__len__") else None)
        for b, batch in enumerate(loader):
            batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
            with autocast:
                out = model(batch, prompt_mode=prompt_mode)
                generated = model.generate(out["eeg_emb"], num_beams=num_beams, max_length=max_length)
            tf_pred = tokenizer.batch_decode(out["logits"].argmax(-1), skip_special_tokens=True)
            eeg_vecs.append(out["eeg_vec"].float().cpu())
            text_vecs.append(out["text_vec"].float().cpu())
            for i in range(len(generated)):
                rows.append({
                    "Task": "<TSR>" if batch["task"][i] == "task3" else "<NR>",
                    "Dataset": batch["dataset"][i], "Subject": batch["subject"][i],
                    "Raw Task Key": batch["task"][i], "Input Text": batch["raw_text"][i],
                    "targets": batch["references"][i], "Generated Text": generated[i],
                    "Generated Text (w/tf)": tf_pred[i],
                    "Sentiment label": batch["sentiment label"][i],
                    "Relation label": batch["relation label"][i],
                    "text uid": int(batch["text_uid"][i]), "record": int(batch["record"][i]),
                    "batch": b,
                })
            bar.advance(task)
    return Predictions(pd.DataFrame(rows), torch.cat(eeg_vecs), torch.cat(text_vecs))


def group_means(samples: pd.DataFrame, columns: list[str],
                keys: tuple[str, ...] = ("Task", "Dataset", "Subject", "Raw Task Key")) -> pd.DataFrame:
    """Means of metric columns per group task-dataset-subject-raw task, with counts."""
    g = samples.groupby(list(keys), dropna=False)
    return g[columns].mean().join(g.size().rename("n")).reset_index()


def nan_to_none(values: dict) -> dict:
    return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in values.items()}
