"""Plain progress lines for log files: the step helper and the per-epoch callback."""
from __future__ import annotations

import io
import time
from types import SimpleNamespace

import torch

from infra.epoch_log import EpochLog
from infra.progress import duration, progress


def test_plain_lines_every_n_steps_and_at_the_end():
    log = io.StringIO()  # not a terminal
    with progress("pretraining", 10, every=4, stream=log) as advance:
        for i in range(10):
            advance(1, loss=float(10 - i))
    lines = log.getvalue().splitlines()
    assert [line.split("  ")[0] for line in lines] == ["pretraining: 4/10 (40%)", "pretraining: 8/10 (80%)",
                                                        "pretraining: 10/10 (100%)"]
    assert "loss 7" in lines[0] and "ETA" in lines[0] and "loss 1" in lines[-1]


def test_disabled_progress_prints_nothing():
    log = io.StringIO()
    with progress("x", 5, enabled=False, stream=log) as advance:
        advance(5)
    assert log.getvalue() == ""


def test_durations():
    assert [duration(s) for s in (5, 65, 7260, float("nan"))] == ["5s", "1m05s", "2h01m", "?"]


def fake_trainer(epoch: int, metrics: dict, max_epochs: int = 4, global_step: int = 0, batches: int = 2,
                 global_zero: bool = True):
    return SimpleNamespace(current_epoch=epoch, max_epochs=max_epochs, is_global_zero=global_zero,
                           global_step=global_step, num_training_batches=batches,
                           callback_metrics={k: torch.tensor(v) for k, v in metrics.items()})


def test_epoch_line_means_step_metrics_and_keeps_validation_values(tmp_path):
    log = io.StringIO()
    (tmp_path / "last.ckpt").write_bytes(b"")
    cb = EpochLog(tmp_path, monitor="val/loss", stream=log)
    trainer = fake_trainer(0, {})
    cb.on_train_start(trainer, None)
    for epoch, (steps, val) in enumerate((((4.0, 2.0), 3.0), ((1.0, 1.0), 5.0))):
        cb.on_train_epoch_start(trainer, None)
        for loss in steps:  # the previous epoch's val/loss stands during the train steps
            trainer = fake_trainer(epoch, {"train/loss": loss, **({"val/loss": 3.0} if epoch else {})})
            cb.on_train_batch_end(trainer, None, None, None, 0)
        trainer = fake_trainer(epoch, {"train/loss": steps[-1], "val/loss": val},  # after validation
                               global_step=2 * epoch + 2)
        cb.on_train_epoch_end(trainer, None)
    cb.on_fit_end(trainer, None)
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("epoch 0 (1 of 4)  train/loss 3  val/loss 3  ") and "ETA" in lines[0]
    assert lines[1].startswith("epoch 1 (2 of 4)  train/loss 1  val/loss 5  ")
    assert lines[2].startswith("done: trained 2 epochs in ")
    assert lines[3].startswith("last (epoch 1): train/loss 1  val/loss 5")  # numbered from 0, as the files
    assert lines[4].startswith("best val/loss (epoch 0): train/loss 3  val/loss 3")
    assert lines[5] == f"checkpoints: {tmp_path / 'last.ckpt'}"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_step_lines_at_least_every_30_seconds_within_an_epoch():
    log, clock = io.StringIO(), Clock()
    cb = EpochLog(stream=log, clock=clock, step_fields=("train/loss",))
    trainer = fake_trainer(0, {}, max_epochs=3, batches=100)
    cb.on_train_start(trainer, None)
    cb.on_train_epoch_start(trainer, None)
    for step in range(100):  # 2 steps a second: a line after 30 s, 60 s, 90 s, ...
        clock.now += 0.5
        trainer = fake_trainer(0, {"train/loss": 10.0 - step / 10, "train/loss_lm": 1.0}, max_epochs=3, batches=100)
        cb.on_train_batch_end(trainer, None, None, None, step)
    lines = log.getvalue().splitlines()
    assert lines[0] == "epoch 0 (1 of 3)  step 60/100  train/loss 4.1  2 steps/s  epoch ETA 20s"
    assert len(lines) == 1  # 50 s: one line
    quiet = io.StringIO()
    cb = EpochLog(stream=quiet, clock=clock)
    cb.on_train_epoch_start(trainer, None)
    clock.now += 100
    cb.on_train_batch_end(fake_trainer(0, {}, global_zero=False), None, None, None, 0)
    assert quiet.getvalue() == ""  # other ranks print nothing


def test_a_resumed_run_says_what_it_trained_in_this_run_and_in_all():
    log, clock = io.StringIO(), Clock()
    cb = EpochLog(stream=log, clock=clock)
    cb.on_train_start(fake_trainer(1, {}, max_epochs=3, global_step=14, batches=10), None)  # resumed in epoch 1
    clock.now += 64
    cb.on_fit_end(fake_trainer(3, {}, max_epochs=3, global_step=30, batches=10), None)
    assert log.getvalue().splitlines()[0] == "done: trained 1.6 epochs in this run, 3 in all, in 1m04s (40s/epoch)"
def test_plain_lines_keep_coming_while_a_slow_step_runs():
    log = io.StringIO()
    with progress("writing", 100, stream=log, seconds=0.05) as advance:
        advance(1)
        time.sleep(0.4)  # a slow second step: a line every 0.05 s all the same
        advance(1)
    lines = [line.split("  ")[0] for line in log.getvalue().splitlines()]
    assert lines.count("writing: 1/100 (1%)") >= 2 and lines[-1] == "writing: 2/100 (2%)"


def test_without_seconds_a_slow_step_gets_no_line():
    log = io.StringIO()
    with progress("writing", 100, stream=log, seconds=None) as advance:
        advance(1)
        time.sleep(0.2)
    assert [line.split("  ")[0] for line in log.getvalue().splitlines()] == ["writing: 1/100 (1%)"]
