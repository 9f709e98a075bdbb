"""Stopping on a signal in a tiny Lightning fit: SIGINT/SIGTERM/SIGUSR1 let the step finish, the
save comes at its boundary, SIGUSR1 requeues once; Lightning's own SIGTERM exit (status 0) and
SLURM requeue (a save from inside the handler) stay out; the handlers are restored afterwards. And
the SLURM job id and ``scontrol requeue`` as a stand-in on PATH records it."""
from __future__ import annotations

import os
import signal

import lightning as L
import pytest
import torch
from lightning.fabric.plugins.environments import SLURMEnvironment
from torch.utils.data import DataLoader, TensorDataset

from infra.signals import RunInterrupted, StopOnSignal
from infra.slurm import requeue_slurm_job, slurm_job_id

SLURM_TASK = {"SLURM_JOB_ID": "4242", "SLURM_JOB_NAME": "glim", "SLURM_NTASKS": "1", "SLURM_NTASKS_PER_NODE": "1",
              "SLURM_NNODES": "1", "SLURM_NODEID": "0", "SLURM_PROCID": "0", "SLURM_LOCALID": "0"}


class SignalAtStep(L.LightningModule):
    """A linear model that sends ``signum`` to its own process in the middle of step ``at``."""

    def __init__(self, signum: int, at: int):
        super().__init__()
        self.layer, self.signum, self.at = torch.nn.Linear(2, 1), signum, at

    def training_step(self, batch, batch_idx):
        loss = self.layer(batch[0]).pow(2).mean()
        if self.global_step == self.at:
            os.kill(os.getpid(), self.signum)  # the handler runs now, before the step ends
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def fit_until_signal(tmp_path, signum: int, plugins=()) -> tuple[StopOnSignal, list[int], list[str]]:
    saves, requeues = [], []
    stop = StopOnSignal(lambda trainer: saves.append(trainer.global_step),
                        requeue=lambda: requeues.append("requeue") or "job requeued")
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[stop],
                        default_root_dir=tmp_path, plugins=list(plugins))
    loader = DataLoader(TensorDataset(torch.randn(16, 2)), batch_size=2)
    with pytest.raises(RunInterrupted) as stopped:
        trainer.fit(SignalAtStep(signum, at=3), loader)
    assert trainer.global_step == 4  # step 3 finished, step 4 never started
    assert str(stopped.value) == stop.message()
    return stop, saves, requeues


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_stop_at_the_step_boundary_without_requeue(tmp_path, signum):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)}
    stop, saves, requeues = fit_until_signal(tmp_path, signum)
    assert saves == [4] and requeues == []
    assert stop.message() == (f"stopped by {signal.Signals(signum).name} after step 4: a resumable checkpoint is "
                              "written; run the same command again to continue")
    assert {s: signal.getsignal(s) for s in before} == before


def test_sigusr1_under_slurm_saves_at_the_boundary_then_requeues_once(tmp_path, monkeypatch):
    """Lightning's SLURM environment with its auto-requeue off (as train.py sets it): no
    hpc_ckpt written from inside the handler, GLIM's save and requeue instead."""
    for k, v in SLURM_TASK.items():
        monkeypatch.setenv(k, v)
    stop, saves, requeues = fit_until_signal(tmp_path, signal.SIGUSR1, [SLURMEnvironment(auto_requeue=False)])
    assert saves == [4] and requeues == ["requeue"]
    assert stop.message().endswith("a resumable checkpoint is written; job requeued")
    assert not list(tmp_path.rglob("hpc_ckpt_*.ckpt"))


def test_slurm_job_id_of_a_job_an_array_task_and_an_interactive_shell(monkeypatch):
    for k in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_JOB_NAME"):
        monkeypatch.delenv(k, raising=False)
    assert slurm_job_id() is None
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    assert slurm_job_id() == "4242"
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "4200")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "7")
    assert slurm_job_id() == "4200_7"
    monkeypatch.setenv("SLURM_JOB_NAME", "interactive")
    assert slurm_job_id() is None


def test_requeue_calls_scontrol_and_says_what_happened(tmp_path, monkeypatch):
    calls = tmp_path / "calls"
    scontrol = tmp_path / "bin" / "scontrol"
    scontrol.parent.mkdir()
    scontrol.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n[ "$2" != 13 ] || {{ echo "Job is not requeueable" >&2; exit 1; }}\n')
    scontrol.chmod(0o755)
    monkeypatch.setenv("PATH", f"{scontrol.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("SLURM_JOB_NAME", raising=False)
    monkeypatch.delenv("SLURM_ARRAY_JOB_ID", raising=False)
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    assert requeue_slurm_job() == "SLURM job 4242 requeued: it continues from there when it starts again"
    monkeypatch.setenv("SLURM_JOB_ID", "13")
    assert requeue_slurm_job() == ("requeueing SLURM job 13 failed (scontrol: Job is not requeueable): "
                                   "submit the job again to continue")
    assert calls.read_text() == "requeue 4242\nrequeue 13\n"
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert requeue_slurm_job().startswith("requeueing SLURM job 13 failed (FileNotFoundError")
    monkeypatch.delenv("SLURM_JOB_ID")
    assert requeue_slurm_job() == "not a SLURM batch job, nothing requeued: run the same command again to continue"
