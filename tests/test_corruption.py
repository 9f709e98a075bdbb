"""Damaged files fail cleanly: flipped bytes, truncation and overwritten blocks in ``.mat`` files
(a skip with a logged reason), stores (``StoreError``), checkpoints (``CheckpointError``), all with
one-line messages; pickled code never runs; an interrupted or killed save never leaves a truncated
file where a good one was; train.py turns bad input into one ``error:`` line and writes nothing."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from data.synthetic.random_store import write_random_store
import train
from data.dataset import GLIMDataset, collate
from data.preprocess.prepare import process_file
from data.preprocess.readers import RawFile
from data.preprocess.steps import DropRecord, preprocess_eeg
from data.store import StoreError, open_store
from infra.atomic import atomic_open, atomic_write_text, remove_stale_temp_files
from infra.checkpoint_io import AtomicCheckpointIO, CheckpointError, check_resumable
from model.checkpoint import glim_from_checkpoint
from model.text_model import build_tiny_t5
from tests.factories import TINY_DATA, TINY_GLIM, write_tiny_checkpoint
from tests.paths import ROOT  # noqa: E402
from tests.zuco_files import eeg, write_v5, write_v73


def corrupt(data: bytes, rng: np.random.Generator, trial: int, header: int | None = None) -> bytes:
    """Flip bits (within the first ``header`` bytes if given), truncate, or overwrite a block."""
    out = bytearray(data)
    mode = trial % 3
    if mode == 0:
        for _ in range(int(rng.integers(1, 4))):
            out[int(rng.integers(header or len(out)))] ^= 1 << int(rng.integers(8))
    elif mode == 1:
        out = out[: int(rng.integers(len(out)))]
    else:
        start = int(rng.integers(len(out)))
        out[start:start + 16] = rng.bytes(16)
    return bytes(out)


def assert_one_line(error: BaseException, names: Path) -> None:
    message = str(error)
    assert "\n" not in message and str(names) in message, message


# ------------------------------------------------------------------------------------ .mat files
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # resampling a damaged value overflows
@pytest.mark.parametrize("kind", ["v5", "v73"])
def test_damaged_mat_files_are_skipped_with_a_logged_reason(tmp_path, kind):
    sentences = [("Hello world.", eeg(300, 1)), ("Missing one.", None), ("Third one.", eeg(400, 2))]
    write = write_v5 if kind == "v5" else write_v73
    good = write(tmp_path / "good.mat", sentences).read_bytes()
    path = tmp_path / ("resultsZAB_SR.mat" if kind == "v5" else "resultsYAC_NR.mat")
    raw = RawFile(path, "ZuCo1", "SR", "ZAB") if kind == "v5" else RawFile(path, "ZuCo2", "NR", "YAC")
    rng, skipped = np.random.default_rng(0), 0
    for trial in range(45):
        path.write_bytes(corrupt(good, rng, trial))
        result = process_file(raw, path.name, tmp_path / "spill.bin")
        assert all(d.reason and d.reason != "failed while reading" for d in result.drops), result.drops
        assert all("\n" not in d.line() for d in result.drops)
        skipped += any(d.index is None for d in result.drops)
    assert skipped >= 15  # every truncation at least


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_eeg_that_overflows_when_resampled_is_dropped():
    raw = eeg(400, 3).astype(np.float32)
    raw[5, 7] = 3e38  # one flipped exponent bit away from a normal sample
    with pytest.raises(DropRecord):
        preprocess_eeg(raw)


# ------------------------------------------------------------------------------------ stores
@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    return write_random_store(tmp_path_factory.mktemp("store") / "zuco", n_sentences=6, n_subjects=1)


def load_everything(path: Path) -> None:
    store = open_store(path)
    for phase in ("train", "val", "test"):
        ds = GLIMDataset(store, phase)
        if len(ds):
            collate([ds[i] for i in range(len(ds))])


@pytest.mark.parametrize("name, header", [("eeg.npy", 128), ("records.jsonl", None), ("store.json", None)])
def test_damaged_store_files_raise_a_one_line_store_error(tmp_path, store_dir, name, header):
    rng, failed = np.random.default_rng(1), 0
    for trial in range(36):
        copy = tmp_path / f"s{trial}"
        shutil.copytree(store_dir, copy)
        (copy / name).write_bytes(corrupt((copy / name).read_bytes(), rng, trial, header))
        try:
            load_everything(copy)
        except StoreError as error:
            assert_one_line(error, copy)
            failed += 1
        shutil.rmtree(copy)
    assert failed >= 12


@pytest.mark.parametrize("damage, message", [
    (lambda s: (s / "store.json").write_text("[]"), "not a JSON object"),
    (lambda s: (s / "store.json").write_bytes(b"\xff\xfe{"), "is corrupt"),
    (lambda s: (s / "records.jsonl").unlink(), "records.jsonl cannot be read"),
    (lambda s: (s / "records.jsonl").write_text((s / "records.jsonl").read_text().replace(
        '"eeg_len": ', '"eeg_len": 9', 1)), "eeg_len .* is not an integer in \\[0, 1280\\]"),
    (lambda s: np.save(s / "eeg.npy", np.zeros((12, 1280, 128), np.float16)), "holds float16"),
])
def test_inconsistent_stores_are_named(tmp_path, store_dir, damage, message):
    copy = tmp_path / "s"
    shutil.copytree(store_dir, copy)
    damage(copy)
    with pytest.raises(StoreError, match=message) as caught:
        load_everything(copy)
    assert_one_line(caught.value, copy)


# ------------------------------------------------------------------------------------ checkpoints
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "glim.ckpt")


def test_damaged_checkpoints_raise_a_one_line_error_or_load_unchanged(tmp_path, checkpoint):
    good = checkpoint.read_bytes()
    original = torch.load(checkpoint, weights_only=True)["state_dict"]
    rng, failed = np.random.default_rng(2), 0
    for trial in range(45):
        path = tmp_path / f"c{trial}.ckpt"
        path.write_bytes(corrupt(good, rng, trial))
        try:
            state = glim_from_checkpoint(path, attach_text=False).state_dict()
        except CheckpointError as error:
            assert_one_line(error, path)
            failed += 1
        else:  # the damage hit bytes no reader uses (zip padding, timestamps)
            assert all(torch.equal(state[k], original[k]) for k in original)
    assert failed >= 40  # checksums catch damage inside the tensors too


class Payload:
    """Pickles to a call that would create ``marker`` when unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickled_code_is_never_run(tmp_path, checkpoint):
    marker, path = tmp_path / "ran", tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"x": Payload(marker)}}, path)
    with pytest.raises(CheckpointError, match="cannot be read"):
        glim_from_checkpoint(path, attach_text=False)
    with pytest.raises(Exception):  # Lightning's resume path, through our checkpoint IO
        AtomicCheckpointIO().load_checkpoint(path)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="holds weights only"):
        check_resumable(checkpoint, {})


# ------------------------------------------------------------------------------------ atomic writes
def test_a_write_failing_midway_leaves_the_old_file(tmp_path, monkeypatch):
    path = atomic_write_text(tmp_path / "metrics.json", "old")
    with pytest.raises(RuntimeError):
        with atomic_open(path, "wb") as f:
            f.write(b"new, half written")
            raise RuntimeError("disk full")
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("I/O error")))
    with pytest.raises(OSError):
        atomic_write_text(path, "new")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


class Unpicklable:
    def __reduce__(self):
        raise RuntimeError("killed while saving")


def test_checkpoint_save_failing_midway_keeps_the_good_checkpoint(tmp_path):
    io, path = AtomicCheckpointIO(), tmp_path / "last.ckpt"
    io.save_checkpoint({"w": torch.arange(10.0)}, path)
    bad = {"w": torch.zeros(10), "later": Unpicklable()}
    with pytest.raises(RuntimeError, match="killed while saving"):
        io.save_checkpoint(bad, path)
    assert torch.equal(io.load_checkpoint(path)["w"], torch.arange(10.0))
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
    plain = tmp_path / "plain.ckpt"  # what a direct torch.save does to the good file
    shutil.copy(path, plain)
    with pytest.raises(RuntimeError):
        torch.save(bad, plain)
    with pytest.raises(Exception):
        torch.load(plain, weights_only=True)


SAVER = """
import sys, torch
from infra.checkpoint_io import AtomicCheckpointIO
io = AtomicCheckpointIO()
for k in range(10 ** 6):
    io.save_checkpoint({"k": k, "w": torch.full((2_000_000,), float(k))}, sys.argv[1])
    print(k, flush=True)
"""


@pytest.mark.slow
def test_sigkill_while_saving_leaves_a_complete_checkpoint(tmp_path):
    path = tmp_path / "last.ckpt"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE, env=env,
                            text=True)
    proc.stdout.readline()  # the first save is complete, the next ones run back to back
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    ckpt = torch.load(path, weights_only=True)
    assert bool((ckpt["w"] == ckpt["k"]).all()) and ckpt["k"] >= 0
    remove_stale_temp_files(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


# ------------------------------------------------------------------------------------ train.py
@pytest.fixture(scope="module")
def config(tmp_path_factory, store_dir) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    t5 = build_tiny_t5(tmp / "tiny-t5", d_model=64)
    cfg = {"model": {**TINY_GLIM, "text_model_id": str(t5)}, "data": {"data_dir": str(store_dir), **TINY_DATA},
           "accelerator": "cpu", "devices": 1, "precision": "32-true", "progress": False}
    (tmp / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    return tmp / "tiny.yaml"


def test_train_bad_input_is_one_error_line_and_writes_nothing(tmp_path, config, store_dir, capsys):
    (tmp_path / "empty").mkdir()
    old = tmp_path / "old"
    shutil.copytree(store_dir, old)
    (old / "store.json").write_text((old / "store.json").read_text().replace('"version": 1', '"version": 0'))
    bad_type = tmp_path / "bad.yaml"
    bad_type.write_text(config.read_text().replace("hidden_dim: 32", "hidden_dim: wide"))
    cases = [(["--data.data_dir", str(tmp_path / "empty")], 1, "no store.json"),
             (["--data.data_dir", str(old)], 1, "version 0"),
             (["--text-model", str(tmp_path / "nowhere")], 1, "has no config.json"),
             (["--model.embed_dim", "32"], 1, "d_model 64"),
             (["--config", str(bad_type)], 2, "model.hidden_dim"),
             (["--model.hidden_dimm", "3"], 2, "hidden_dimm")]
    out = tmp_path / "run"
    for extra, status, message in cases:
        assert train.main(["--config", str(config), "--out_dir", str(out), *extra]) == status
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith("error: ") and message in err, err
        assert not out.exists()
