"""Test-split inference (generation, teacher-forced predictions, EEG and text vectors) and the
scored evaluation of one dataset (the EEG run or a control), under the test protocol of SPEC §5:
the sampler's batches of distinct texts with the leftover dropped (or every record), and the
published numerics on a GPU (bf16 text model, bf16 autocast, matmul precision ``medium``)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from rich.progress import Progress
from torch.utils.data import DataLoader

from data.dataset import collate
from data.prompts import INPUT_PREFIX
from data.sampler import DistinctUidBatchSampler
from evaluation.columns import (
    BATCH,
    EEG_RECORD,
    FIELDS,
    GENERATED,
    GENERATED_TF,
    GROUP_KEYS,
    SAMPLE,
    TASK,
    TF_TARGET,
)
from evaluation.scoring import roundtrip_texts, score_run
from evaluation.zero_shot import pooled_text_vectors
from infra.errors import GLIMError
from model.glim import GLIM

@dataclass
class Predictions:
    """Everything test.py scores: one row per sample plus the vectors."""

    samples: pd.DataFrame  # input text, targets, generated, teacher-forced, labels, batch
    eeg_vec: torch.Tensor  # (n, d)
    text_vec: torch.Tensor  # (n, d)


# ----------------------------------------------------------------------------- numerics
def set_numerics(numerics: str) -> torch.dtype | None:
    """Set the float32 matmul precision of ``numerics`` (``medium`` for bf16, else ``highest``) and
    return the dtype to load the text model in (bf16, or None for float32)."""
    torch.set_float32_matmul_precision("medium" if numerics == "bf16" else "highest")
    return torch.bfloat16 if numerics == "bf16" else None


# ----------------------------------------------------------------------------- inference
@torch.no_grad()
def predict(model: GLIM, loader: Iterable[dict], prompt_mode: str | None = None, num_beams: int = 2,
            max_length: int = 64, progress: bool = True, bf16: bool | None = None) -> Predictions | None:
    """Run the model over ``loader`` in eval mode (teacher-forced pass + beam search), under bf16
    autocast when ``bf16`` (default: on a GPU). Under several ranks the predictions are gathered
    on rank 0; the other ranks get None."""
    model.eval()
    device = model.device
    rows, eeg_vecs, text_vecs = [], [], []
    rank, world = rank_and_world()
    bf16 = device.type == "cuda" if bf16 is None else bf16
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
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
                    TASK: "<TSR>" if batch["task"][i] == "task3" else "<NR>",
                    GENERATED: generated[i], GENERATED_TF: tf_pred[i], TF_TARGET: batch["target_text"][i],
                    **record_fields(batch, i),
                    EEG_RECORD: int(batch.get("eeg_record", batch["record"])[i]),
                    SAMPLE: int(batch["sample"][i]), BATCH: rank + b * world,
                })
            bar.advance(task)
    samples = pd.DataFrame(rows)
    order = np.argsort(samples[SAMPLE].to_numpy(), kind="stable") if rows else np.zeros(0, dtype=np.int64)
    idx = torch.as_tensor(order)
    empty = torch.zeros(0, model.hparams.embed_dim)  # a rank may get no batch
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


class NoBatchError(GLIMError, ValueError):
    """The split's records fill no batch of distinct sentences (too few distinct sentences)."""


def make_loader(dataset, batch_size: int, num_workers: int = 0, all_records: bool = False) -> DataLoader:
    """Test loader: the samples in order, cut into batches of distinct texts by the sampler of
    SPEC §2, whose leftover (the records no full batch takes) is dropped, as in the published
    results; ``all_records`` adds it in extra, smaller batches. With several ranks, rank r takes
    batches r, r+N, ..."""
    rank, world = rank_and_world()
    sampler = DistinctUidBatchSampler(dataset.uids, batch_size, shuffle=False, num_replicas=world, rank=rank,
                                      keep_leftover=all_records)
    if not all_records and len(sampler) == 0:
        distinct = len(set(dataset.uids.tolist()))
        raise NoBatchError(f"{len(dataset)} {getattr(dataset, 'phase', '')} records of {distinct} distinct sentences fill no "
                           f"batch of {batch_size} distinct sentences{f' for each of {world} ranks' if world > 1 else ''}")
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=num_workers)


def score_predictions(model: GLIM, pred: Predictions, labels: dict[str, torch.Tensor],
                      retrieval_batch: int = 24) -> pd.DataFrame:
    """Every per-sample metric of ``pred`` (one row per sample, in dataset order): generation
    (round-tripped strings), retrieval and zero-shot classification."""
    hp = model.hparams
    samples = roundtrip_texts(pred.samples, model.text_model.tokenizer, hp.tgt_text_len, hp.input_text_len)
    gen_vec = pooled_text_vectors(model, [INPUT_PREFIX + t for t in samples[GENERATED]], hp.input_text_len)
    return score_run(samples, pred.eeg_vec, pred.text_vec, gen_vec, labels, retrieval_batch)


def evaluate_dataset(model: GLIM, dataset, labels: dict[str, torch.Tensor], batch_size: int,
                     prompt_mode: str | None = None, num_beams: int = 2, max_length: int = 64,
                     retrieval_batch: int = 24, num_workers: int = 0, progress: bool = True,
                     all_records: bool = False, bf16: bool | None = None) -> pd.DataFrame | None:
    """Predict and score the samples of ``dataset`` the test protocol takes (every record with
    ``all_records``): one row per sample (in dataset order) with every per-sample metric. Under
    several ranks only rank 0 scores (the others return None once their predictions are gathered)."""
    loader = make_loader(dataset, batch_size, num_workers, all_records)
    pred = predict(model, loader, prompt_mode, num_beams, max_length, progress, bf16)
    return None if pred is None else score_predictions(model, pred, labels, retrieval_batch)


def protocol(n_records: int, n_evaluated: int, all_records: bool) -> dict[str, object]:
    """What the results are means over: the protocol's name and how many records it left out."""
    name = "all records" if all_records else "sampler batches, leftover dropped"
    return {"name": name, "records": int(n_records), "evaluated": int(n_evaluated),
            "left_out": int(n_records - n_evaluated)}


def protocol_line(p: dict[str, object]) -> str:
    """One line saying which protocol was used and how many records it left out."""
    line = f"protocol: {p['name']}: {p['evaluated']} of {p['records']} records evaluated, {p['left_out']} left out"
    return line if p["name"] == "all records" else line + " (--all_records true evaluates every record)"


def group_means(samples: pd.DataFrame, columns: list[str], keys: tuple[str, ...] = GROUP_KEYS) -> pd.DataFrame:
    """Means of metric columns per group task-dataset-subject-raw task (NaNs skipped), with counts."""
    g = samples.groupby(list(keys), dropna=False)
    return g[columns].mean().join(g.size().rename("n")).reset_index()
