"""RankWatch over a real rendezvous store, ranks as objects in this process (their end recorded,
not the process ended): a failure posted on one rank ends the others with it; a rank that falls
silent, or the store going away, ends the rest; a finished run ends nobody."""
from __future__ import annotations

import threading
import time

import pytest
import torch.distributed as dist

from infra.rank_watch import RankWatch, describe

INTERVAL, SILENT = 0.1, 1.2


class Ended:
    """Records the line a watch would end its process with."""

    def __init__(self):
        self.lines: list[str] = []
        self.event = threading.Event()

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        self.event.set()


@pytest.fixture
def store():
    server = dist.TCPStore("127.0.0.1", 0, is_master=True, wait_for_workers=False)
    yield server
    del server


def watches(store, world: int) -> list[tuple[RankWatch, Ended]]:
    out = []
    for rank in range(world):
        ended = Ended()
        watch = RankWatch(interval=INTERVAL, silent_after=SILENT, end=ended)
        assert watch.start(rank, world, ("127.0.0.1", store.port))
        out.append((watch, ended))
    return out


def test_a_posted_failure_ends_every_other_rank_with_its_line(store):
    (w0, e0), (w1, e1), (w2, e2) = watches(store, 3)
    time.sleep(3 * INTERVAL)
    w1.fail(RuntimeError("CUDA out of memory.\nTried to allocate 2 GiB"))
    assert w1.cause == "rank 1 failed: RuntimeError: CUDA out of memory. Tried to allocate 2 GiB"
    assert not w1.failed_elsewhere
    assert e0.event.wait(5) and e2.event.wait(5)
    assert e0.lines == ["rank 0 stopped: rank 1 failed: RuntimeError: CUDA out of memory. Tried to allocate 2 GiB"]
    assert e2.lines == ["rank 2 stopped: rank 1 failed: RuntimeError: CUDA out of memory. Tried to allocate 2 GiB"]
    assert e1.lines == []


def test_a_rank_failing_after_another_reports_the_first_failure(store):
    (w0, e0), (w1, e1) = watches(store, 2)
    store.set(w0.failed_key, "rank 1 failed: RuntimeError: boom")
    w0.fail(RuntimeError("Connection closed by peer"))  # what a collective raises next
    assert w0.failed_elsewhere and w0.cause == "rank 1 failed: RuntimeError: boom"
    w1.finish()


def test_a_silent_rank_ends_the_others(store):
    (w0, e0), (w1, e1) = watches(store, 2)
    time.sleep(3 * INTERVAL)
    w1._halt()  # as if killed: no heartbeat, nothing posted
    start = time.monotonic()
    assert e0.event.wait(SILENT + 5)
    assert SILENT - 3 * INTERVAL <= time.monotonic() - start
    assert e0.lines == [f"rank 0 stopped: rank 1 stopped responding for {SILENT:.0f} s (killed, frozen, or its node is gone)"]


def test_a_rank_failing_because_a_peer_died_names_the_dead_peer(store):
    (w0, e0), (w1, e1) = watches(store, 2)
    time.sleep(3 * INTERVAL)
    w1._halt()
    w0.fail(RuntimeError("Connection closed by peer"))
    assert w0.failed_elsewhere and w0.cause == "rank 1 stopped responding (killed, or its node is gone)"


def test_the_store_going_away_ends_the_ranks():
    server = dist.TCPStore("127.0.0.1", 0, is_master=True, wait_for_workers=False)
    (w0, e0), (w1, e1) = watches(server, 2)
    time.sleep(3 * INTERVAL)
    port = server.port
    w0._halt()
    del server  # the process holding it is gone
    assert e1.event.wait(SILENT + 5)
    assert e1.lines == [f"rank 1 stopped: the rendezvous store 127.0.0.1:{port} is gone (rank 0 or its launcher stopped)"]


def test_a_finished_run_ends_nobody(store):
    pairs = watches(store, 3)
    time.sleep(3 * INTERVAL)
    pairs[0][0].finish()  # the others finish a little later, as ranks do
    time.sleep(SILENT + 5 * INTERVAL)
    for watch, ended in pairs[1:]:
        watch.finish()
    assert all(ended.lines == [] for _, ended in pairs)


def test_describe_is_one_line():
    assert describe(ValueError("a\n  b")) == "ValueError: a b"


def test_a_restarted_attempt_under_torchrun_does_not_read_the_last_ones_failure(store, monkeypatch):
    """torchrun's agent keeps its store across restarts: the keys are per attempt."""
    (w0, _), (w1, _) = watches(store, 2)
    w1.fail(RuntimeError("boom"))
    w0._halt()  # the agent ends the attempt's processes
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    (v0, e0), (v1, e1) = watches(store, 2)
    time.sleep(5 * INTERVAL)
    v0.finish(), v1.finish()
    assert e0.lines == e1.lines == [] and v0.failed_key != w0.failed_key
