"""aggregate.py refuses duplicates and runs that differ in more than the seed."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.across_runs import checkpoint_epoch, main


def write_run(root: Path, name: str, bleu: float, seed: int = 42, lr: float = 1e-4, sha: str | None = None,
              store: str = "s" * 64, ckpt: str = "glim-zuco-epoch=199-step=49600.ckpt") -> str:
    d = root / name
    d.mkdir()
    training = {"seed": seed, "config": {"seed": seed, "lr": lr, "model": {"text_model_id": "t5"},
                                         "data": {"sampler_seed": 0, "seed": 42, "num_workers": 4}, "out_dir": name}}
    result = {"metrics": {"Bleu1": bleu}, "condition": "eeg", "config": {"ckpt": f"{name}/{ckpt}", "seed": 0,
                                                                          "num_beams": 2, "out": name},
              "training_run": training,
              "provenance": {"store": {"sha256": store}, "checkpoint": {"sha256": sha or name * 8}}}
    (d / "metrics.json").write_text(json.dumps(result))
    return str(d)


def test_seeds_only_are_aggregated_and_recorded(tmp_path, capsys):
    runs = [write_run(tmp_path, f"seed{s}", 0.2 + s / 10, seed=s) for s in range(3)]
    assert main([*runs, "--out", str(tmp_path / "agg")]) == 0
    agg = json.loads((tmp_path / "agg" / "aggregate.json").read_text())
    assert agg["metrics"]["Bleu1"]["mean"] == pytest.approx(0.3)
    assert agg["differences"] == {}
    assert [agg["seeds"][r]["training.seed"] for r in runs] == [0, 1, 2]


def test_runs_differing_in_config_data_or_epoch_are_refused(tmp_path, capsys):
    a = write_run(tmp_path, "a", 0.2, seed=1)
    for name, kwargs in (("lr", {"lr": 5e-5}), ("data", {"store": "t" * 64}),
                         ("epoch", {"ckpt": "glim-zuco-epoch=99-step=100.ckpt"})):
        b = write_run(tmp_path, name, 0.3, seed=2, **kwargs)
        assert main([a, b, "--out", str(tmp_path / f"agg-{name}")]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: the runs differ in more than the seed") and "--allow-different" in err
        assert {"lr": "training.lr", "data": "data", "epoch": "checkpoint epoch"}[name] in err
        assert not (tmp_path / f"agg-{name}").exists()
    assert main([a, str(tmp_path / "lr"), "--out", str(tmp_path / "agg"), "--allow-different"]) == 0
    agg = json.loads((tmp_path / "agg" / "aggregate.json").read_text())
    assert list(agg["differences"]) == ["training.lr"]
    assert "differ in more than the seed" in (tmp_path / "agg" / "aggregate.md").read_text()


def test_duplicates_are_refused(tmp_path, capsys):
    a = write_run(tmp_path, "a", 0.2, seed=1)
    assert main([a, str(tmp_path / "." / "a"), "--out", str(tmp_path / "agg")]) == 1
    assert "given twice" in capsys.readouterr().err
    b = write_run(tmp_path, "b", 0.3, seed=2, sha="a" * 8)
    assert main([a, b, "--out", str(tmp_path / "agg")]) == 1
    assert "the same checkpoint" in capsys.readouterr().err


def test_checkpoint_epoch_from_record_or_name():
    assert checkpoint_epoch(None, "x/glim-zuco-epoch=199-step=49600.ckpt") == 199
    assert checkpoint_epoch(3, "last.ckpt") == 3 and checkpoint_epoch(None, "last.ckpt") is None
