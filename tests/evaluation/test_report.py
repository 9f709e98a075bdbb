"""Report helpers: retrieval chance, why a metric is blank, training curves from a run's logs, provenance."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from evaluation.figures import training_curves as curves_figure
from data.store_identity import store_identity
from evaluation.report import (
    blank_reason,
    curve_lines,
    provenance_lines,
    retrieval_chance,
    value_or_reason,
)
from evaluation.result import provenance
from evaluation.run_logs import training_curves


def test_retrieval_chance_is_what_random_vectors_score():
    chance = retrieval_chance(20, [8])
    assert chance["retrieval_pool/R@1"] == 0.05 and chance["retrieval_pool/R@10"] == 0.5
    assert chance["retrieval_batch8/top5"] == 5 / 8 and chance["retrieval_batch8/top10"] == 1.0
    rng = np.random.default_rng(0)
    ranks = np.array([1 + (rng.permutation(20) == 0).argmax() for _ in range(20000)])  # rank of the true one
    assert chance["retrieval_pool/MRR"] == pytest.approx((1 / ranks).mean(), abs=0.01)


def test_blank_metrics_say_why():
    samples = pd.DataFrame({"text uid": np.repeat(np.arange(18), 2)})
    summary = {"retrieval_pool/size": 18, "retrieval_batch24/top1": None, "zero_shot/sentiment@EEG/top1": None}
    assert blank_reason("retrieval_batch24/top1", summary, samples) == "18 distinct test sentences < 24"
    assert value_or_reason("retrieval_batch24/top1", summary, samples) == "– (18 distinct test sentences < 24)"
    assert blank_reason("zero_shot/sentiment@EEG/top1", summary, samples) == "no sentiment samples"


@pytest.fixture
def run_dir(tmp_path):
    """A training run directory as train.py leaves it: two CSV log versions (a resumed run) and full validations."""
    for version, epochs in ((0, (0, 1)), (1, (2,))):
        rows = []
        for e in epochs:
            rows += [{"epoch": e, "step": 10 * e + 5, "train/loss": 3.0 - e},
                     {"epoch": e, "step": 10 * e + 9, "val/loss": 2.5 - e, "val/top1": 0.1 * (e + 1)}]
        (tmp_path / f"logs/version_{version}").mkdir(parents=True)
        pd.DataFrame(rows).to_csv(tmp_path / f"logs/version_{version}/metrics.csv", index=False)
    for e in (0, 2):
        (tmp_path / f"full_val/epoch={e}").mkdir(parents=True)
        (tmp_path / f"full_val/epoch={e}/metrics.json").write_text(json.dumps(
            {"epoch": e, "metrics": {"Bleu1": 0.1 + e / 10, "GM\\.BLEU1@RAW": 0.05, "retrieval_pool/MRR": None}}))
    (tmp_path / "last.ckpt").write_bytes(b"weights")
    return tmp_path


def test_training_curves_are_read_from_the_checkpoint_directory(run_dir, tmp_path_factory):
    curves = training_curves(run_dir / "last.ckpt")
    assert set(curves) == {"losses", "val retrieval", "full validation"}
    assert curves["losses"]["epoch"].tolist() == [0, 1, 2]  # both log versions
    assert curves["losses"]["train/loss"].tolist() == [3.0, 2.0, 1.0]
    assert curves["losses"]["val/loss"].tolist() == [2.5, 1.5, 0.5]
    assert curves["full validation"]["Bleu1"].tolist() == pytest.approx([0.1, 0.3])
    fig_dir = tmp_path_factory.mktemp("figs")
    lines = curve_lines(curves, run_dir, fig_dir)
    assert "![training](figures/training_curves.png)" in lines and (fig_dir / "training_curves.png").stat().st_size
    assert curves_figure(curves, fig_dir / "c.png").read_bytes()[:4] == b"\x89PNG"
    empty = tmp_path_factory.mktemp("empty")
    assert training_curves(empty / "x.ckpt") == {}
    assert curve_lines({}, empty, fig_dir)[0].startswith(f"no training logs found beside the checkpoint (looked for {empty}")


def test_provenance_names_store_checkpoint_code_and_config(run_dir, tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / "store.json").write_text('{"format": "glim-store", "n_records": 3}')
    (store / "records.jsonl").write_text("{}\n{}\n{}\n")
    p = provenance(run_dir / "last.ckpt", store, "google/flan-t5-large", {"seed": 0}, {"seed": 42})
    assert p["checkpoint"]["sha256"] == hashlib.sha256(b"weights").hexdigest()
    assert p["store"]["store.json"]["n_records"] == 3 and p["training_seed"] == 42
    before = store_identity(store)["sha256"]
    (store / "records.jsonl").write_text("{}\n{}\n")
    assert store_identity(store)["sha256"] != before  # another store, another identity
    text = "\n".join(provenance_lines(p))
    assert "google/flan-t5-large" in text and p["checkpoint"]["sha256"] in text and '{"seed": 0}' in text
