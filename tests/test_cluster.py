"""Training beyond one process, end to end with tests/test_resume.py's tiny run (CPU, gloo,
deterministic, 2 epochs of 5 global batches, last.ckpt every 2 steps): two nodes of one process
each over the loopback address, killed together and resumed; SLURM's warning signal before the
time limit (SIGUSR1) with a stand-in ``scontrol`` that records the requeue; a rank that raises
and a rank killed alone. Every run that completes ends with the weights, optimizer state and
log of the uninterrupted 2-node run, whichever launch (2 nodes x 1, 1 node x 2) it used."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from tests.fault_plugin import FAULT_ENV, WRITES_ENV, install
from tests.paths import ROOT
from tests.ports import free_port
from tests.test_resume import BATCHES, assert_same_log, assert_same_training_state, setup, start  # noqa: F401

pytestmark = pytest.mark.slow

DDP = ("--strategy", "ddp", "--max_epochs", "2", "--full_val", "false", "--ckpt_every_n_steps", "2")
TWO_NODES = ("--devices", "1", "--num_nodes", "2", *DDP)
ONE_NODE = ("--devices", "2", *DDP)
STOP_BOUND = 30.0
"""Seconds within which the other rank ends after one fails (RankWatch polls every 2 s; it waits
4 s to tell a dead peer from a failure of its own; the rest is slack for a busy CI machine)."""
DEADLINE = 600.0
"""No run of these tests may take longer: a hang fails the test instead of blocking CI."""


@pytest.fixture(scope="module")
def plugin(setup) -> Path:
    """The fault plugin's metadata (tests/fault_plugin.py), on every run's PYTHONPATH."""
    return install(setup / "plugin")


LAUNCHED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def no_process_left():
    """A test that fails between a launch and its end leaves no run behind."""
    yield
    for p in LAUNCHED:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    LAUNCHED.clear()


def launch(setup: Path, plugin: Path, out: Path, envs: list[dict[str, str]], *extra: str) -> list[subprocess.Popen]:
    """One train.py per entry of ``envs`` (a node, or a SLURM task), each in its own session,
    with one CPU thread (so 1-node and 2-node runs multiply alike) and rank >0's writes recorded
    in ``<out>.writes``; process i logs to ``<out>-<i>.log``."""
    base = {"PYTHONPATH": f"{ROOT}{os.pathsep}{plugin}", "OMP_NUM_THREADS": "1",
            WRITES_ENV: f"{out}:{out.with_name(out.name + '.writes')}"}
    procs = [start(setup, out, *extra, new_session=True, env={**base, **env},
                   log=out.with_name(f"{out.name}-{i}.log")) for i, env in enumerate(envs)]
    LAUNCHED.extend(procs)
    return procs


def two_nodes(**extra: str) -> list[dict[str, str]]:
    """Lightning's own environment for node 0 and node 1 of a 2-node run on this machine."""
    port = str(free_port())
    return [{"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "NODE_RANK": str(r), **extra} for r in (0, 1)]


def finish(procs: list[subprocess.Popen]) -> list[tuple[int, float]]:
    """Wait for every process (at most ``DEADLINE``): (exit status, when it ended)."""
    ended: dict[int, tuple[int, float]] = {}
    deadline = time.monotonic() + DEADLINE
    while len(ended) < len(procs):
        for i, p in enumerate(procs):
            if i not in ended and p.poll() is not None:
                ended[i] = (p.returncode, time.monotonic())
        if time.monotonic() > deadline:
            for p in procs:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGKILL)
            pytest.fail(f"still running after {DEADLINE:.0f} s")
        time.sleep(0.05)
    return [ended[i] for i in range(len(procs))]


def logs(out: Path, n: int = 2) -> list[str]:
    return [out.with_name(f"{out.name}-{i}.log").read_text() for i in range(n)]


def step_of(path: Path) -> int:
    return torch.load(path, weights_only=True)["global_step"]


def wait_for_step(procs: list[subprocess.Popen], last: Path, above: int) -> None:
    """Until ``last`` holds a step above ``above`` (or a process ended)."""
    while all(p.poll() is None for p in procs):
        try:
            if last.exists() and step_of(last) > above:
                return
        except (OSError, RuntimeError):  # replaced while being read
            pass
        time.sleep(0.05)


def assert_written_by_rank_0_only(out: Path) -> None:
    records = out.with_name(out.name + ".writes")
    assert not records.exists() or not records.read_text(), records.read_text()


@pytest.fixture(scope="module")
def two_node_run(setup, plugin) -> Path:
    """The uninterrupted reference: 2 nodes x 1 process."""
    out = setup / "nodes-whole"
    assert [code for code, _ in finish(launch(setup, plugin, out, two_nodes(), *TWO_NODES))] == [0, 0], logs(out)
    assert_written_by_rank_0_only(out)
    return out


def test_two_nodes_killed_together_mid_epoch_resume_to_the_uninterrupted_run(setup, plugin, two_node_run):
    """Both nodes SIGKILLed in the middle of epoch 1, then the same command on both: every file
    of the run directory written by rank 0 alone, and the end equals the uninterrupted run's."""
    out, last = setup / "nodes-killed", setup / "nodes-killed" / "last.ckpt"
    procs = launch(setup, plugin, out, two_nodes(), *TWO_NODES)
    wait_for_step(procs, last, above=BATCHES)
    for p in procs:
        os.killpg(p.pid, signal.SIGKILL)  # the node's process and its loader workers
    finish(procs)
    step = step_of(last)
    assert BATCHES < step < 2 * BATCHES
    assert [code for code, _ in finish(launch(setup, plugin, out, two_nodes(), *TWO_NODES))] == [0, 0], logs(out)
    node0, node1 = logs(out)  # printed once, by global rank 0
    assert f"resuming from {last} (epoch 1, step {step})" in node0 and "resuming from" not in node1
    assert_written_by_rank_0_only(out)
    assert_same_training_state(two_node_run / "last.ckpt", last)
    assert_same_log(two_node_run, out)


def slurm_tasks(scontrol_dir: Path, **extra: str) -> list[dict[str, str]]:
    """SLURM's environment for the 2 tasks of a 1-node job (what srun gives each), with a
    stand-in scontrol first on PATH."""
    job = {"SLURM_JOB_ID": "4242", "SLURM_JOB_NAME": "glim", "SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "2",
           "SLURM_NNODES": "1", "SLURM_NODEID": "0", "SLURM_NODELIST": "localhost", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(free_port()), "PATH": f"{scontrol_dir}{os.pathsep}{os.environ['PATH']}"}
    return [{**job, "SLURM_PROCID": str(r), "SLURM_LOCALID": str(r), **extra} for r in (0, 1)]


def test_slurm_time_limit_signal_checkpoints_at_a_step_boundary_requeues_and_the_job_continues(
        setup, plugin, two_node_run):
    """``--signal=USR1@90``: SLURM sends SIGUSR1 to every task; the step finishes, last.ckpt is
    written at its end, rank 0 calls ``scontrol requeue 4242`` once, both tasks end (130) with
    one line; the requeued job (same command) continues to the uninterrupted run's end."""
    calls, bin_dir = setup / "scontrol.calls", setup / "slurm-bin"
    bin_dir.mkdir()
    (bin_dir / "scontrol").write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    (bin_dir / "scontrol").chmod(0o755)
    out, last = setup / "slurm", setup / "slurm" / "last.ckpt"
    procs = launch(setup, plugin, out, slurm_tasks(bin_dir), *ONE_NODE)
    wait_for_step(procs, last, above=BATCHES)
    for p in procs:
        os.kill(p.pid, signal.SIGUSR1)
    assert [code for code, _ in finish(procs)] == [130, 130], logs(out)
    step = step_of(last)
    assert BATCHES < step < 2 * BATCHES
    task0, task1 = logs(out)
    assert (f"interrupted: stopped by SIGUSR1 after step {step}: a resumable checkpoint is written; SLURM job 4242 "
            "requeued: it continues from there when it starts again") in task0
    assert f"interrupted: stopped by SIGUSR1 after step {step}" in task1 and "Traceback" not in task0 + task1
    assert calls.read_text() == "requeue 4242\n"
    assert not list(setup.rglob("hpc_ckpt_*.ckpt")) and not list(ROOT.glob("hpc_ckpt_*.ckpt"))

    requeued = launch(setup, plugin, out, slurm_tasks(bin_dir, SLURM_RESTART_COUNT="1"), *ONE_NODE)
    assert [code for code, _ in finish(requeued)] == [0, 0], logs(out)
    assert f"resuming from {last} (epoch 1, step {step})" in logs(out)[0]
    assert calls.read_text() == "requeue 4242\n"
    assert_same_training_state(two_node_run / "last.ckpt", last)
    assert_same_log(two_node_run, out)


def test_a_failing_rank_ends_every_rank_and_a_rerun_resumes(setup, plugin, two_node_run):
    """2 nodes, no launcher to stop the survivor: rank 1 raises before step 3, then (rerun)
    rank 1 alone is SIGKILLed before step 7. Each time rank 0 ends within ``STOP_BOUND``
    seconds of rank 1, with one line naming rank 1 and what happened, and last.ckpt loads; a
    rerun (1 node x 2, Lightning's launcher) continues to the uninterrupted run's end."""
    out, last = setup / "failing", setup / "failing" / "last.ckpt"
    (code0, t0), (code1, t1) = finish(launch(setup, plugin, out, two_nodes(**{FAULT_ENV: "raise:1:3"}), *TWO_NODES))
    node0, node1 = logs(out)
    assert (code0, code1) == (1, 1) and t0 - t1 < STOP_BOUND, (node0, node1)
    assert node1.rstrip().endswith("error: rank 1 failed: RuntimeError: injected fault on rank 1 before step 3")
    assert node0.rstrip().endswith("error: rank 0 stopped: rank 1 failed: RuntimeError: injected fault on rank 1 "
                                   "before step 3") and "Traceback" not in node0
    assert step_of(last) == 2

    for log in (out.with_name(f"{out.name}-{i}.log") for i in (0, 1)):
        log.unlink()
    (code0, t0), (code1, t1) = finish(launch(setup, plugin, out, two_nodes(**{FAULT_ENV: "kill:1:7"}), *TWO_NODES))
    node0, node1 = logs(out)
    assert (code0, code1) == (1, -signal.SIGKILL) and t0 - t1 < STOP_BOUND, node0
    assert f"resuming from {last} (epoch 0, step 2)" in node0
    assert node0.rstrip().endswith("error: rank 0 stopped: rank 1 stopped responding (killed, or its node is gone)")
    assert step_of(last) == 6

    rerun = launch(setup, plugin, out, [{}], *ONE_NODE)
    assert finish(rerun)[0][0] == 0, logs(out, 1)
    assert f"resuming from {last} (epoch 1, step 6)" in logs(out, 1)[0]
    assert_same_training_state(two_node_run / "last.ckpt", last)
    assert_same_log(two_node_run, out)
