"""The notebooks' samples.csv cache is keyed on the checkpoint, the store and the text model."""
from __future__ import annotations

import json

import pandas as pd
import pytest

import evaluation.classification as classification
from evaluation.classification import test_predictions as predictions
from evaluation.samples_cache import KEY_FILE, stored_key
from infra.provenance import file_sha256
from tests.eval_factories import eval_store, random_checkpoint


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cache")
    store = eval_store(tmp / "store", n_sentences=12)
    return store, random_checkpoint(tmp / "a", seed=0), random_checkpoint(tmp / "b", seed=1)


@pytest.mark.slow
def test_a_second_checkpoint_does_not_reuse_the_first_ones_samples(inputs, tmp_path, capsys, monkeypatch):
    store, first, second = inputs
    out = tmp_path / "out"
    a = predictions(str(first), str(store), out=str(out), batch_size=6)
    assert (out / KEY_FILE).is_file() and capsys.readouterr().out == ""

    def no_load(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    with monkeypatch.context() as m:  # same checkpoint, store and text model: read back, nothing loaded
        m.setattr(classification, "evaluation_model", no_load)
        again = predictions(str(first), str(store), out=str(out), batch_size=6)
    pd.testing.assert_frame_equal(again, pd.read_csv(out / "samples.csv"))

    b = predictions(str(second), str(store), out=str(out), batch_size=6)
    said = capsys.readouterr().out.strip().splitlines()
    assert len(said) == 1 and "another checkpoint" in said[0] and "recomputing" in said[0]
    assert not a.filter(like="zero_shot").equals(b.filter(like="zero_shot"))  # b's own predictions
    assert stored_key(out)["checkpoint_sha256"] == file_sha256(second)


def test_key_of_a_test_py_result_and_of_a_replaced_csv(tmp_path):
    (tmp_path / "samples.csv").write_text("a\n1\n")
    assert stored_key(tmp_path) is None
    (tmp_path / "metrics.json").write_text(json.dumps({
        "config": {"text_model": None},
        "provenance": {"checkpoint": {"sha256": "c" * 64}, "store": {"sha256": "s" * 64}}}))
    assert stored_key(tmp_path) == {"checkpoint_sha256": "c" * 64, "store_sha256": "s" * 64, "text_model": None}
    (tmp_path / KEY_FILE).write_text(json.dumps({"checkpoint_sha256": "x", "store_sha256": "y", "text_model": None,
                                                 "samples_sha256": "not this csv"}))
    assert stored_key(tmp_path)["checkpoint_sha256"] == "c" * 64  # the key file describes another samples.csv
