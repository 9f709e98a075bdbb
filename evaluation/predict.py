"""Inference over a loader (generation, teacher-forced predictions, EEG and text vectors), one row
per sample; under several ranks the predictions are gathered on rank 0. ``evaluation.run`` builds
the loader, chooses the numerics and scores what this returns."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from rich.progress import Progress

from data.prompts import task_prompt
from evaluation.columns import (
    BATCH,
    EEG_RECORD,
    FIELDS,
    GENERATED,
    GENERATED_TF,
    SAMPLE,
    TASK,
    TF_TARGET,
)
from infra.numerics import Numerics
from model.glim import GLIM


@dataclass
class Predictions:
    """Everything an evaluation scores: one row per sample plus the vectors."""

    samples: pd.DataFrame  # input text, targets, generated, teacher-forced, labels, batch
    eeg_vec: torch.Tensor  # (n, d)
    text_vec: torch.Tensor  # (n, d)


@torch.no_grad()
def predict(model: GLIM, loader: Iterable[dict], numerics: Numerics, prompt_mode: str | None = None,
            num_beams: int = 2, max_length: int = 64, progress: bool = True) -> Predictions | None:
    """Run the model over ``loader`` in eval mode (teacher-forced pass + beam search) under the
    autocast of ``numerics``. Under several ranks the predictions are gathered on rank 0; the
    other ranks get None."""
    model.eval()
    device = model.device
    rows, eeg_vecs, text_vecs = [], [], []
    rank, world = rank_and_world()
    autocast = numerics.autocast(device.type)
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
                    TASK: task_prompt(batch["task"][i]),
                    GENERATED: generated[i], GENERATED_TF: tf_pred[i], TF_TARGET: batch["target_text"][i],
                    **record_fields(batch, i),
                    EEG_RECORD: int(batch.get("eeg_record", batch["record"])[i]),
                    SAMPLE: int(batch["sample"][i]), BATCH: rank + b * world,
                })
            bar.advance(task)
    samples = pd.DataFrame(rows)
    order = np.argsort(samples[SAMPLE].to_numpy(), kind="stable") if rows else np.zeros(0, dtype=np.int64)
    idx = torch.as_tensor(order)
    empty = torch.zeros(0, model.config.embed_dim)  # a rank may get no batch
    local = Predictions(samples.iloc[order].reset_index(drop=True),
                        (torch.cat(eeg_vecs) if eeg_vecs else empty)[idx],
                        (torch.cat(text_vecs) if text_vecs else empty)[idx])
    return gather_predictions(local, rank, world)


def record_fields(batch: dict, i: int) -> dict:
    """The record fields of sample ``i`` of a batch under their export names
    (``evaluation.columns.FIELDS``: batch key -> export column)."""
    values = {export: batch[key][i] for _, key, export in FIELDS}
    return {k: int(v) if torch.is_tensor(v) else v for k, v in values.items()}


def rank_and_world() -> tuple[int, int]:
    """(rank, number of ranks) of an initialised process group, else (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def gather_predictions(pred: Predictions, rank: int, world: int) -> Predictions | None:
    """Every rank's predictions on rank 0, in sample order (each sample once); None on the other
    ranks, which have nothing left to do (rank 0 scores and writes)."""
    if world == 1:
        return pred
    parts: list | None = [None] * world if rank == 0 else None
    torch.distributed.gather_object((pred.samples, pred.eeg_vec, pred.text_vec), parts, dst=0)
    if rank != 0:
        return None
    samples = pd.concat([p[0] for p in parts], ignore_index=True)
    order = np.argsort(samples[SAMPLE].to_numpy(), kind="stable")
    idx = torch.as_tensor(order)
    return Predictions(samples.iloc[order].reset_index(drop=True),
                       torch.cat([p[1] for p in parts])[idx], torch.cat([p[2] for p in parts])[idx])
