"""The evaluation of a GLIM checkpoint, from the checkpoint to the result files, in one place.

``evaluate`` is the path every evaluation takes (test.py's EEG run and each control, full
validation during training, the classification notebooks): the test loader (the sampler's
batches of distinct sentences, the leftover dropped unless ``all_records``: docs/protocol.md
§evaluation), inference under the run's numerics (``infra.numerics``), every per-sample score,
and an ``Evaluation`` holding the scored samples, the protocol, their summary and group means.

``run`` is test.py's run once test.py has parsed and checked its options: the numerics, the
store, the checkpoint, the EEG run and its controls, and the one ``RunResult``
(``evaluation.result``) written to ``--out`` (samples.csv, metrics.json with the provenance,
report.md).
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from data.config import DataConfig
from data.loader import distinct_text_loader
from data.store import StoreError, open_store
from evaluation import columns as C
from evaluation.columns import export_order
from evaluation.controls import PROMPT_MODE, control_dataset
from evaluation.diversity import diversity_line
from evaluation.grounding import grounding_lines, main_condition, parse_controls
from evaluation.predict import predict, rank_and_world
from evaluation.protocol import MAX_LENGTH, NUM_BEAMS, RESULT_FILES, RETRIEVAL_BATCH_SIZE, protocol, protocol_line
from evaluation.result import run_result
from evaluation.sample_scores import score_predictions
from evaluation.semantic import load_encoder, semantic_frame
from evaluation.summary import group_means, key_metrics, summarize
from evaluation.zero_shot import label_vectors
from infra.errors import GLIMError
from infra.loggers import make_logger
from infra.numerics import Numerics, evaluation_numerics
from model.checkpoint import glim_from_checkpoint
from model.glim import GLIM

class NoBatchError(GLIMError, ValueError):
    """The split's records fill no batch of distinct sentences (too few distinct sentences)."""


@dataclass(frozen=True)
class EvalSettings:
    """How an evaluation runs: loader batch size (distinct sentences per batch), retrieval batch
    size, beams and most tokens of a generation, every record or the sampler's batches, loader
    workers and a progress bar."""

    batch_size: int
    retrieval_batch_size: int = RETRIEVAL_BATCH_SIZE
    num_beams: int = NUM_BEAMS
    max_length: int = MAX_LENGTH
    all_records: bool = False
    num_workers: int = 0
    progress: bool = True


@dataclass(frozen=True)
class Evaluation:
    """One evaluated dataset (the EEG run, a control, a full validation): one row per sample with
    every per-sample metric (dataset order), and the protocol its means are over."""

    samples: pd.DataFrame
    protocol: dict[str, object]

    @cached_property
    def summary(self) -> dict[str, Any]:
        """Mean of every metric, median ranks and counts (``evaluation.summary.summarize``)."""
        return summarize(self.samples)

    @cached_property
    def keys(self) -> list[str]:
        """The headline metrics present in the samples."""
        return [k for k in key_metrics(self.samples) if k in self.samples.columns]

    @cached_property
    def groups(self) -> pd.DataFrame:
        """Means of the headline metrics per group task-dataset-subject-raw task, with counts."""
        return group_means(self.samples, self.keys)

    def samples_csv(self) -> str:
        """The samples table as written to ``samples.csv``: published columns first."""
        return export_order(self.samples).to_csv(index=False)

    def with_columns(self, extra: pd.DataFrame) -> Evaluation:
        """The same evaluation with more per-sample columns (e.g. the semantic metrics)."""
        samples = pd.concat([self.samples.reset_index(drop=True), extra], axis=1)
        return dataclasses.replace(self, samples=samples)


def evaluation_loader(dataset: Dataset, batch_size: int, num_workers: int = 0, all_records: bool = False) -> DataLoader:
    """The test loader: the samples in order, cut into batches of distinct texts by the sampler,
    whose leftover (the records no full batch takes) is dropped, as in the published results;
    ``all_records`` adds it in extra, smaller batches. With several ranks, rank r takes batches
    r, r+N, ... ``NoBatchError`` when no batch can be filled."""
    rank, world = rank_and_world()
    loader = distinct_text_loader(dataset, batch_size, num_replicas=world, rank=rank, keep_leftover=all_records,
                                  num_workers=num_workers)
    if not all_records and len(loader.batch_sampler) == 0:
        distinct = len(set(dataset.uids.tolist()))
        raise NoBatchError(f"{len(dataset)} {getattr(dataset, 'phase', '')} records of {distinct} distinct sentences fill no "
                           f"batch of {batch_size} distinct sentences{f' for each of {world} ranks' if world > 1 else ''}")
    return loader


def evaluate(model: GLIM, dataset: Dataset, settings: EvalSettings, numerics: Numerics,
             prompt_mode: str | None = None, labels: dict[str, torch.Tensor] | None = None) -> Evaluation | None:
    """Predict and score the samples of ``dataset`` the test protocol takes (every record with
    ``all_records``) under ``numerics``; ``labels``: the zero-shot label vectors
    (``evaluation.zero_shot.label_vectors``, computed here when not given). Under several ranks
    only rank 0 scores (the others return None once their predictions are gathered)."""
    loader = evaluation_loader(dataset, settings.batch_size, settings.num_workers, settings.all_records)
    pred = predict(model, loader, numerics, prompt_mode, settings.num_beams, settings.max_length, settings.progress)
    if pred is None:
        return None
    labels = label_vectors(model) if labels is None else labels
    samples = score_predictions(model, pred, labels, settings.retrieval_batch_size)
    return Evaluation(samples, protocol(len(dataset), len(samples), settings.all_records))


# ----------------------------------------------------------------------------- test.py's run
def init_distributed(device: str) -> int | None:
    """Under torchrun (``WORLD_SIZE`` > 1) join the process group (gloo on the CPU, nccl on GPUs):
    every rank predicts its share of the batches, all predictions are gathered, rank 0 writes."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return torch.distributed.get_rank()


def settings_for(model: GLIM, batch_size: int | None = None, retrieval_batch_size: int | None = None,
                 **options: Any) -> EvalSettings:
    """``EvalSettings`` for a checkpoint's model: the batch sizes default to its training run's (the
    checkpoint's ``bsz_val`` and ``bs_retrieval``), else to the data module's and the protocol's."""
    saved = model.run_settings
    return EvalSettings(batch_size or saved.get("bsz_val", DataConfig.val_batch_size),
                        retrieval_batch_size or saved.get("bs_retrieval", RETRIEVAL_BATCH_SIZE), **options)


def evaluation_model(ckpt: str | Path, text_model: str | None, numerics: Numerics) -> GLIM:
    """GLIM from a checkpoint (loaded strictly) with its text model (default: the checkpoint's)
    held as ``numerics`` say, whose matmul precision is set."""
    model = glim_from_checkpoint(ckpt, attach_text=False)
    model.attach_text_model(text_model, dtype=numerics.apply())
    return model


def with_semantic(evaluation: Evaluation, encoder: Any, seed: int) -> Evaluation:
    """The semantic columns of ``evaluation.semantic`` (generated vs raw sentence) added."""
    s = evaluation.samples
    gen, raw = s[C.GENERATED].astype(str).tolist(), s[C.INPUT_TEXT].astype(str).tolist()
    return evaluation.with_columns(semantic_frame(encoder, gen, raw, seed))


def run(cfg: Any) -> Path:
    """Evaluate as test.py's options ``cfg`` say (checked by test.py) and write the results to
    ``cfg.out``; returns it. A ``GLIMError`` for anything the user can fix."""
    out = Path(cfg.out)
    condition, controls = main_condition(cfg), parse_controls(cfg.controls)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device
    numerics = evaluation_numerics(cfg.numerics, torch.device(device).type)
    store = open_store(cfg.data_dir, verify="eeg" if cfg.verify_store else "metadata")
    model = evaluation_model(cfg.ckpt, cfg.text_model, numerics)
    rank = init_distributed(device)
    if rank is not None and device == "cuda":
        device = f"cuda:{os.environ.get('LOCAL_RANK', rank)}"
    model.to(device).eval()
    labels = label_vectors(model)  # once per run, shared by the EEG run and the controls
    settings = settings_for(model, cfg.batch_size, cfg.retrieval_batch_size, num_beams=cfg.num_beams,
                            max_length=cfg.max_length, all_records=cfg.all_records, num_workers=cfg.num_workers,
                            progress=cfg.progress)

    def evaluate_condition(name: str) -> Evaluation | None:
        ds = control_dataset(name, store, cfg.phase)
        if len(ds) == 0:
            raise StoreError(f"{cfg.data_dir} holds no {cfg.phase} samples")
        if cfg.progress:
            print(f"evaluating: {name}", file=sys.stderr)
        try:
            return evaluate(model, ds, settings, numerics, PROMPT_MODE.get(name, cfg.prompt_mode), labels)
        except NoBatchError as e:
            raise NoBatchError(f"{e}: pass a smaller --batch_size or --all_records true") from None

    main = evaluate_condition(condition)
    runs = {c: evaluate_condition(c) for c in controls}
    if main is None:  # a rank > 0 under torchrun: its predictions are gathered; rank 0 scores and writes
        return out
    if cfg.semantic:  # optional semantic metrics beside the others, for the EEG run and every control
        encoder = load_encoder(cfg.semantic)
        main = with_semantic(main, encoder, cfg.seed)
        runs = {c: with_semantic(e, encoder, cfg.seed) for c, e in runs.items()}
    result = run_result(model, cfg, condition, main, runs, numerics.name)
    if not rank:  # None (one process) or rank 0 writes, into a sibling renamed when complete
        result.write(out, RESULT_FILES, report=cfg.report, n_examples=cfg.examples)
        log_summary(cfg.logger, out, result.record["metrics"])
    return out


def log_summary(kind: str, out: Path, metrics: dict) -> None:
    """The numeric summary metrics, once, through the chosen experiment logger."""
    logger = make_logger(kind, out, f"test-{out.name}")
    if logger:
        logger.log_metrics({k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}, step=0)
        logger.save()
        logger.finalize("success")


PRINTED_METRICS = (C.bleu(1), C.gm_bleu(1, C.RAW_TAG), C.rouge("fmeasure"), C.rouge_at("fmeasure", C.RAW_TAG),
                   "WER", C.pool_recall(1), "zero_shot/sentiment@EEG/top1", "zero_shot/corpus@EEG/top1")
"""The metrics test.py prints when it is done."""


def summary_lines(out: Path) -> list[str]:
    """What test.py prints when it is done: the protocol, the headline metrics, the grounding
    verdicts, the diversity of the generations and where the results are."""
    result = json.loads((out / "metrics.json").read_text())
    summary = result["metrics"]
    lines = [protocol_line(result["protocol"]),
             " ".join(f"{k}={summary[k]:.4f}" for k in PRINTED_METRICS if isinstance(summary.get(k), float))]
    if result.get("grounding"):
        lines += grounding_lines(result["grounding"])
    return lines + [diversity_line(result["diversity"]["EEG"]), f"results written to {out}"]
