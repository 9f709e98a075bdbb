"""Test-split inference (generation, teacher-forced predictions, EEG and text vectors) and the
scored evaluation of one dataset (the EEG run or a control)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd
import torch
from rich.progress import Progress
from torch.utils.data import DataLoader

from data.dataset import INPUT_PREFIX, collate
from data.sampler import DistinctUidBatchSampler

from .glim import GLIM
from .scoring import roundtrip_texts, score_run
from .zero_shot import pooled_text_vectors


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
    rank, world = rank_and_world()
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
                    "EEG record": int(batch.get("eeg_record", batch["record"])[i]),
                    "sample": int(batch["sample"][i]), "batch": rank + b * world,
                })
            bar.advance(task)
    samples = pd.DataFrame(rows)
    order = np.argsort(samples["sample"].to_numpy(), kind="stable") if rows else np.zeros(0, dtype=np.int64)
    idx = torch.as_tensor(order)
    empty = torch.zeros(0, model.hparams.embed_dim)  # a rank may get no batch
    local = Predictions(samples.iloc[order].reset_index(drop=True),
                        (torch.cat(eeg_vecs) if eeg_vecs else empty)[idx],
                        (torch.cat(text_vecs) if text_vecs else empty)[idx])
    return gather_predictions(local, rank, world)


def rank_and_world() -> tuple[int, int]:
    """(rank, number of ranks) of an initialised process group, else (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def gather_predictions(pred: "Predictions", rank: int, world: int) -> "Predictions":
    """Every rank's predictions on every rank, in sample order (each sample once)."""
    if world == 1:
        return pred
    parts: list = [None] * world
    torch.distributed.all_gather_object(parts, (pred.samples, pred.eeg_vec, pred.text_vec))
    samples = pd.concat([p[0] for p in parts], ignore_index=True)
    order = np.argsort(samples["sample"].to_numpy(), kind="stable")
    idx = torch.as_tensor(order)
    return Predictions(samples.iloc[order].reset_index(drop=True),
                       torch.cat([p[1] for p in parts])[idx], torch.cat([p[2] for p in parts])[idx])


def make_loader(dataset, batch_size: int, num_workers: int = 0) -> DataLoader:
    """Test loader: the samples in order, cut into batches of distinct texts (SPEC §2); with
    several ranks, rank r takes batches r, r+N, ... (every batch is kept)."""
    rank, world = rank_and_world()
    sampler = DistinctUidBatchSampler(dataset.uids, batch_size, shuffle=False, drop_last=False,
                                      num_replicas=world, rank=rank)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=num_workers)


def evaluate_dataset(model: GLIM, dataset, labels: dict[str, torch.Tensor], batch_size: int,
                     prompt_mode: str | None = None, num_beams: int = 2, max_length: int = 64,
                     retrieval_batch: int = 24, num_workers: int = 0, progress: bool = True) -> tuple[pd.DataFrame, Predictions]:
    """Predict and score every sample of ``dataset``: one row per sample (in dataset order) with
    every per-sample metric, and the raw predictions with their vectors."""
    pred = predict(model, make_loader(dataset, batch_size, num_workers), prompt_mode, num_beams, max_length, progress)
    hp = model.hparams
    samples = roundtrip_texts(pred.samples, model.text_model.tokenizer, hp.tgt_text_len, hp.input_text_len)
    gen_vec = pooled_text_vectors(model, [INPUT_PREFIX + t for t in samples["Generated Text"]], hp.input_text_len)
    return score_run(samples, pred.eeg_vec, pred.text_vec, gen_vec, labels, retrieval_batch), pred


GROUP_KEYS = ("Task", "Dataset", "Subject", "Raw Task Key")


def group_means(samples: pd.DataFrame, columns: list[str], keys: tuple[str, ...] = GROUP_KEYS) -> pd.DataFrame:
    """Means of metric columns per group task-dataset-subject-raw task (NaNs skipped), with counts."""
    g = samples.groupby(list(keys), dropna=False)
    return g[columns].mean().join(g.size().rename("n")).reset_index()
