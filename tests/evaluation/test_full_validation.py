"""Full validation during training (docs/protocol.md §training): when it runs, what it writes and logs, and that it
leaves training as it was (train mode, RNG states, final weights)."""
from __future__ import annotations

import json
import random
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from data.dataset import GLIMDataset
from data.store import open_store
from data.synthetic.random_store import write_random_store
from evaluation.full_validation import FullValidation, is_due, preserved_rng
from infra.numerics import training_numerics
from model.glim import GLIM
from model.text_model import build_tiny_t5
from tests.factories import TINY_DATA, TINY_GLIM
from tests.test_train_cli import train_in_process

N_VAL = 16  # 4 val sentences x 4 readers, batches of 4: no leftover


def test_due_after_epoch_zero_and_every_interval() -> None:
    assert [e for e in range(30) if is_due(e, 10)] == [0, 9, 19, 29]
    assert [e for e in range(8) if is_due(e, 4)] == [0, 3, 7]
    assert [e for e in range(3) if is_due(e, 1)] == [0, 1, 2]


def test_preserved_rng_restores_every_generator() -> None:
    torch.manual_seed(3), np.random.seed(3), random.seed(3)
    expected = (torch.rand(2), np.random.rand(2), random.random())
    torch.manual_seed(3), np.random.seed(3), random.seed(3)
    with preserved_rng():
        torch.rand(5), np.random.rand(5), random.random()
    got = (torch.rand(2), np.random.rand(2), random.random())
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1]) and got[2] == expected[2]


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("full_val")
    write_random_store(tmp / "store", n_sentences=12, n_subjects=2)
    t5 = build_tiny_t5(tmp / "tiny-t5", d_model=TINY_GLIM["embed_dim"])
    config = {"model": {**TINY_GLIM, "text_model_id": str(t5)}, "full_val_interval": 2,
              "data": {"data_dir": str(tmp / "store"), **TINY_DATA}, "accelerator": "cpu", "devices": 1,
              "precision": "32-true", "ckpt_every": 1, "logger": "csv", "progress": False,
              "deterministic": True, "limit_train_batches": 3}
    (tmp / "tiny.yaml").write_text(json.dumps(config))
    return tmp


class Recorder:
    """A logger stand-in: keeps what ``log_metrics`` receives."""

    def __init__(self):
        self.logged: list[tuple[dict, int]] = []

    def log_metrics(self, metrics: dict, step: int) -> None:
        self.logged.append((metrics, step))


def test_callback_writes_logs_and_leaves_train_mode_and_rng(setup: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = GLIM(**{**TINY_GLIM, "text_model_id": str(setup / "tiny-t5")})
    model.attach_text_model()
    model.train()
    logger = Recorder()
    val = GLIMDataset(open_store(setup / "store"), "val")
    trainer = SimpleNamespace(sanity_checking=False, current_epoch=0, global_step=12, is_global_zero=True,
                              loggers=[logger], datamodule=SimpleNamespace(datasets={"val": val}, val_batch_size=4))
    float32 = training_numerics("32-true", gpu=False)
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    FullValidation(tmp_path, float32, max_length=8).on_train_epoch_end(trainer, model)
    assert torch.equal(torch.rand(3), expected)  # the loader's draw was undone
    assert model.training and model.eeg_encoder.training and not model.text_model.model.training

    samples = pd.read_csv(tmp_path / "full_val" / "epoch=0" / "samples.csv")
    assert len(samples) == N_VAL and sorted(samples["sample"]) == list(range(N_VAL))
    assert {"Generated Text", "Bleu1", "Bleu1 (w/tf)", "rank@pool", "zero_shot/corpus@EEG/top1"} <= set(samples.columns)
    result = json.loads((tmp_path / "full_val" / "epoch=0" / "metrics.json").read_text())
    assert result["protocol"]["left_out"] == 0 and result["metrics"]["n_samples"] == N_VAL
    (metrics, step), = logger.logged
    assert step == 12 and metrics["full_val/Bleu1"] == pytest.approx(samples["Bleu1"].mean())
    assert metrics["full_val/zero_shot/corpus@EEG/top1"] == pytest.approx(samples["zero_shot/corpus@EEG/top1"].mean())
    groups = {k.split("/")[2] for k in metrics if k.startswith("full_val/group/")}
    assert len(groups) == 4 and "<NR>-ZuCo1-ZAB-task2" in groups  # val: task2 sentences of 4 readers
    assert metrics["full_val/group/<NR>-ZuCo1-ZAB-task2/n"] == 4

    trainer.current_epoch = 1  # not due with interval 10
    FullValidation(tmp_path, float32, max_length=8).on_train_epoch_end(trainer, model)
    assert len(logger.logged) == 1 and not (tmp_path / "full_val" / "epoch=1").exists()


@pytest.mark.slow
def test_fit_runs_full_validation_without_changing_training(setup: Path) -> None:
    """Two epochs with full_val_interval 2: full validation after epochs 0 and 1, its table in the
    run directory and its metrics in the CSV log; the final weights equal those of a run without it."""
    on, off = setup / "on", setup / "off"
    common = ("--config", str(setup / "tiny.yaml"), "--max_epochs", "2")
    assert train_in_process(*common, "--out_dir", str(on)) == 0
    assert train_in_process(*common, "--out_dir", str(off), "--full_val", "false") == 0

    for epoch in (0, 1):
        samples = pd.read_csv(on / "full_val" / f"epoch={epoch}" / "samples.csv")
        assert len(samples) == N_VAL and samples["Bleu1"].notna().all()
    assert not (off / "full_val").exists()
    logged = pd.read_csv(next((on / "logs").glob("version_*/metrics.csv")))
    rows = logged[logged["full_val/Bleu1"].notna()]
    assert len(rows) == 2 and rows["full_val/n_samples"].tolist() == [N_VAL, N_VAL]
    assert "full_val/retrieval_pool/R@1" in logged.columns and "val/loss" in logged.columns
    assert any(c.startswith("full_val/group/") for c in logged.columns)

    a, b = (torch.load(d / "last.ckpt", weights_only=True)["state_dict"] for d in (on, off))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
