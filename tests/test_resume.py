"""A SIGKILLed train.py continues from last.ckpt to the very weights of an uninterrupted run (CPU,
deterministic); the same seed gives the same weights and metrics; the resume options refuse, in
one line and without writing anything, what would mix or overwrite runs."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from data.synthetic.random_store import write_random_store
import train
from infra.resume import RUN_KEY, ResumableBatches, RngState, RunDirError, resume_path
from model.text_model import build_tiny_t5
from tests.commands import train_in_process
from tests.factories import TINY_DATA, TINY_GLIM
from tests.paths import ROOT  # noqa: E402

EPOCHS, BATCHES = 3, 5
COMMON = ("--deterministic", "true", "--max_epochs", str(EPOCHS), "--limit_train_batches", str(BATCHES),
          "--limit_val_batches", "1", "--progress", "false")


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("resume")
    store = write_random_store(tmp / "store", n_sentences=12, n_subjects=2)
    t5 = build_tiny_t5(tmp / "tiny-t5", d_model=64)
    config = {"model": {**TINY_GLIM, "text_model_id": str(t5)}, "data": {"data_dir": str(store), **TINY_DATA},
              "accelerator": "cpu", "devices": 1, "precision": "32-true", "ckpt_every": 1,
              "logger": "csv"}
    (tmp / "tiny.yaml").write_text(yaml.safe_dump(config))
    return tmp


def command(setup: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, str(ROOT / "train.py"), "--config", str(setup / "tiny.yaml"),
            "--out_dir", str(out), *COMMON, *extra]


def run(setup: Path, out: Path, *extra: str) -> None:
    """train.py in this process (saves the start-up of a new one)."""
    assert train_in_process(*command(setup, out, *extra)[2:]) == 0


def start(setup: Path, out: Path, *extra: str, new_session: bool = False, env: dict[str, str] | None = None,
          log: Path | None = None) -> subprocess.Popen:
    """train.py in a new process, ``env`` added to the environment, its output appended to
    ``log`` (default: ``<out>.log``)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), **(env or {})}
    with open(log or out.with_name(out.name + ".log"), "a") as f:
        return subprocess.Popen(command(setup, out, *extra), stdout=f, stderr=f, env=env,
                                start_new_session=new_session)


def kill_at_new_checkpoint(proc: subprocess.Popen, last: Path, at_least: int = 0) -> int:
    """SIGKILL ``proc`` as soon as a new ``last`` (a new inode: it is replaced atomically) holding
    step ``at_least`` or later appears; the global step it holds."""
    old = last.stat().st_ino if last.exists() else None
    while proc.poll() is None:
        if last.exists() and last.stat().st_ino != old:
            old = last.stat().st_ino
            try:
                if torch.load(last, weights_only=True)["global_step"] >= at_least:
                    break
            except (OSError, RuntimeError):  # replaced while being read
                continue
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    return torch.load(last, weights_only=True)["global_step"]


def assert_same_training_state(a: Path, b: Path) -> None:
    ca, cb = (torch.load(p, weights_only=True) for p in (a, b))
    assert ca["global_step"] == cb["global_step"] and ca["state_dict"].keys() == cb["state_dict"].keys()
    for k in ca["state_dict"]:
        assert torch.equal(ca["state_dict"][k], cb["state_dict"][k]), k
    sa, sb = ca["optimizer_states"][0]["state"], cb["optimizer_states"][0]["state"]
    assert all(torch.equal(sa[i][m], sb[i][m]) for i in sa for m in sa[i])


@pytest.fixture(scope="module")
def reference(setup) -> Path:
    """An uninterrupted run."""
    out = setup / "reference"
    run(setup, out)
    return out


def assert_same_log(reference: Path, out: Path) -> None:
    """One curve: the resumed run continued version_0, row for row the uninterrupted run's."""
    assert [p.name for p in (out / "logs").iterdir()] == ["version_0"]
    whole, resumed = (read_log(d / "logs/version_0/metrics.csv") for d in (reference, out))
    pd.testing.assert_frame_equal(resumed, whole)


@pytest.mark.slow
def test_run_killed_at_an_epoch_end_and_mid_epoch_ends_like_an_uninterrupted_run(setup, reference, capsys):
    """Same seed, same data, same config: identical weights, optimizer state and log, however
    often the run is SIGKILLed and resumed, here with 2 loader workers (the reference has 0).
    The first kill comes right after epoch 0's last.ckpt, before the full validation the
    uninterrupted run does next in its process (the resumed process never does it)."""
    out, last = setup / "killed", setup / "killed" / "last.ckpt"
    workers = ("--data.num_workers", "2")
    assert kill_at_new_checkpoint(start(setup, out, *workers), last) == BATCHES  # the end of epoch 0
    steps = ("--ckpt_every_n_steps", "2", *workers)  # the first save after step BATCHES is BATCHES + 1
    step = kill_at_new_checkpoint(start(setup, out, "--resume", *steps), last)
    assert step > BATCHES and step % BATCHES  # in the middle of epoch 1
    capsys.readouterr()
    run(setup, out, *steps)  # --resume auto (the default) continues from last.ckpt
    assert f"resuming from {last} (epoch 0, step {BATCHES})" in (setup / "killed.log").read_text()
    this_run = f"{round((EPOCHS * BATCHES - step) / BATCHES, 1):g}"  # the steps it trained, in epochs
    assert f"done: trained {this_run} epochs in this run, {EPOCHS} in all, in " in capsys.readouterr().out
    assert_same_training_state(reference / "last.ckpt", last)
    assert_same_log(reference, out)
    assert not list(out.glob(".*.tmp"))


@pytest.mark.slow
def test_run_killed_early_and_late_ends_like_an_uninterrupted_run(setup, reference):
    """The kills moved: in the middle of epoch 0 (step 2, before epoch 0's full validation) and
    in the middle of the last epoch (step 12); resumed in a new process, then in this one."""
    out, last = setup / "killed-early-late", setup / "killed-early-late" / "last.ckpt"
    steps = ("--ckpt_every_n_steps", "2")
    assert kill_at_new_checkpoint(start(setup, out, *steps), last) == 2
    step = kill_at_new_checkpoint(start(setup, out, *steps), last, at_least=2 * BATCHES + 1)
    assert 2 * BATCHES < step < EPOCHS * BATCHES
    run(setup, out, *steps)
    assert_same_training_state(reference / "last.ckpt", last)
    assert_same_log(reference, out)


@pytest.mark.slow
def test_sigint_mid_epoch_writes_a_checkpoint_and_the_rerun_continues_the_same_log(setup, reference):
    """Ctrl-C (1 loader worker): the step finishes, last.ckpt is written at its end, one line
    says so, exit status 130; the same command continues to the uninterrupted run's end."""
    out, last = setup / "ctrl-c", setup / "ctrl-c" / "last.ckpt"
    proc = start(setup, out, "--data.num_workers", "1")
    while proc.poll() is None and not (out / "glim-zuco-epoch=0-step=5.ckpt").exists():
        time.sleep(0.02)
    time.sleep(0.5)  # into epoch 1
    os.kill(proc.pid, signal.SIGINT)
    assert proc.wait() == 130
    log = (setup / "ctrl-c.log").read_text()
    step = torch.load(last, weights_only=True)["global_step"]
    assert f"interrupted: stopped by SIGINT after step {step}" in log and "Traceback" not in log
    assert BATCHES < step < EPOCHS * BATCHES
    run(setup, out, "--data.num_workers", "1")
    assert_same_training_state(reference / "last.ckpt", last)
    assert_same_log(reference, out)


@pytest.mark.slow
def test_text_states_do_not_depend_on_the_batch_that_cached_them(setup):
    """Texts of different lengths: the losses of a batch are bit-identical whether its text
    states were computed in this batch, one text at a time, or in a batch of other texts (what
    happens after a restart, when the in-memory text cache is empty)."""
    import yaml as _yaml

    from data.dataset import GLIMDataset, collate
    from data.store import open_store
    from model.glim import GLIM

    cfg = _yaml.safe_load((setup / "tiny.yaml").read_text())
    torch.manual_seed(0)
    model = GLIM(**cfg["model"]).eval()
    ds = GLIMDataset(open_store(cfg["data"]["data_dir"]), "train")
    texts = list(dict.fromkeys(ds[i]["model_input_text"] for i in range(len(ds))))
    assert len({len(t) for t in texts}) > 3  # texts of different lengths
    batch = collate([ds[i] for i in range(4)])
    with torch.no_grad():
        model.use_text_cache(False)
        plain = model(batch)
        for fill in ([[t] for t in texts], [texts[::-1]], [texts[k:k + 3] for k in range(0, len(texts), 3)]):
            model.use_text_cache(True)
            for group in fill:
                model.text_states(group)
            cached = model(batch)
            for k in ("loss", "loss_clip", "loss_lm"):
                assert torch.equal(cached[k], plain[k]), k


def test_continued_log_on_a_rank_other_than_0_writes_nothing(tmp_path, monkeypatch):
    """Ranks > 0 get a dummy experiment: the continued log neither fails there (it used to stop a
    resumed DDP run before its first barrier) nor touches rank 0's metrics.csv."""
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    from infra.resume import ContinuedCSVLogger

    path = tmp_path / "logs/version_0/metrics.csv"
    path.parent.mkdir(parents=True)
    path.write_text("epoch,step,train/loss\n0,0,1.5\n0,1,1.25\n")
    before = path.read_bytes()
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    logger = ContinuedCSVLogger(tmp_path, "logs", 0, first_step=2, log_state={"rows": 2, "row": None})
    logger.experiment.log_metrics({"train/loss": 1.0}, 2)
    logger.log_metrics({"train/loss": 1.0}, 2)
    logger.save()
    assert path.read_bytes() == before
    monkeypatch.setattr(rank_zero_only, "rank", 0)
    logger.log_metrics({"train/loss": 1.0}, 2)
    logger.save()
    assert read_log(path)["step"].tolist() == ["0", "1", "2"]  # rank 0 keeps the rows and continues


def read_log(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.mark.slow
def test_seed_and_resolved_config_are_saved_beside_and_inside_checkpoints(reference):
    info = torch.load(reference / "last.ckpt", weights_only=True)[RUN_KEY]
    assert info["seed"] == 42 and info["config"]["model"]["hidden_dim"] == 32
    saved = yaml.safe_load((reference / "config.yaml").read_text())
    assert saved["seed"] == 42 and saved["resume"] == "auto" and not saved["overwrite"]
    assert json.loads((reference / "run.json").read_text())["config"] == info["config"]


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_refusals_are_one_line_and_write_nothing(setup, reference, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(reference, out)
    before = snapshot(out)
    base = ["--config", str(setup / "tiny.yaml"), "--out_dir", str(out)]
    cases = [(["--resume", "never"], "already holds checkpoints"),
             (["--resume", "--overwrite"], "pass only one of them"),
             (["--model.hidden_dim", "16"], "trained with model.hidden_dim=32"),
             (["--resume", str(out / "nothing.ckpt")], "nothing to resume")]
    for extra, message in cases:
        assert train.main(base + extra) == 1
        err = capsys.readouterr().err.strip()
        assert message in err and err.startswith("error: ") and "\n" not in err, err
    (out / "last.ckpt").write_bytes(before["last.ckpt"][: len(before["last.ckpt"]) // 2])
    assert train.main(base) == 1
    err = capsys.readouterr().err.strip()
    assert "cannot be read" in err and "--resume " + str(out / "glim-zuco-epoch=2") in err, err
    assert snapshot(out) == {**before, "last.ckpt": before["last.ckpt"][: len(before["last.ckpt"]) // 2]}


def test_resume_path_decisions(tmp_path):
    assert resume_path(tmp_path / "new", "auto", False) is None
    assert resume_path(tmp_path / "new", "never", False) is None
    with pytest.raises(RunDirError, match="nothing to resume"):
        resume_path(tmp_path / "new", "last", False)
    (tmp_path / "old.ckpt").write_bytes(b"x")
    with pytest.raises(RunDirError, match="already holds checkpoints .*--resume <checkpoint>"):
        resume_path(tmp_path, "auto", False)
    assert resume_path(tmp_path, "auto", True) is None
    assert resume_path(tmp_path, str(tmp_path / "old.ckpt"), False) == tmp_path / "old.ckpt"
    (tmp_path / "last.ckpt").write_bytes(b"x")
    assert resume_path(tmp_path, "auto", False) == resume_path(tmp_path, "last", False) == tmp_path / "last.ckpt"
    with pytest.raises(RunDirError, match="already holds checkpoints .*--resume to continue"):
        resume_path(tmp_path, "never", False)
    with pytest.raises(RunDirError, match="is a file"):
        resume_path(tmp_path / "old.ckpt", "auto", False)


class Batches(torch.utils.data.Sampler):
    def __init__(self):
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __iter__(self):
        return iter([[self.epoch, i] for i in range(5)])

    def __len__(self):
        return 5


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_resumable_batches_skip_in_the_resumed_epoch_only_whatever_the_workers(workers):
    """The loader with workers asks for two iterators when it starts: the one it consumes skips."""
    batches = ResumableBatches(Batches(), skip=3, epoch=2)
    batches.set_epoch(2)
    loader = torch.utils.data.DataLoader(range(10), batch_sampler=batches, num_workers=workers,
                                         collate_fn=list)
    assert len(batches) == 5 and list(loader) == [[2, 3], [2, 4]]
    assert list(loader) == [[2, 3], [2, 4]]  # the same epoch again: the same batches
    from lightning.fabric.utilities.data import _set_sampler_epoch
    _set_sampler_epoch(loader, 3)  # what Lightning does before each epoch
    assert batches.sampler.epoch == 3 and list(loader) == [[3, i] for i in range(5)]


def test_rng_states_round_trip_through_a_weights_only_checkpoint(tmp_path):
    import random

    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    torch.save({"rng": RngState().state_dict()}, tmp_path / "rng.ckpt")
    expected = torch.rand(3), np.random.rand(3), random.random()
    torch.manual_seed(2), np.random.seed(2), random.seed(2)
    RngState().load_state_dict(torch.load(tmp_path / "rng.ckpt", weights_only=True)["rng"])
    got = torch.rand(3), np.random.rand(3), random.random()
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1]) and got[2] == expected[2]
