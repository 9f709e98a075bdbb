"""Ending every rank of a distributed run soon after one of them fails.

Left alone, a rank whose peer is gone waits in its next collective: with gloo the closed
connection ends the wait at once, with NCCL only the process group's timeout does (Lightning's
default: 30 minutes), and a launcher that stops the other ranks when one ends badly (torchrun,
``srun --kill-on-bad-exit=1``, Lightning's own for the ranks it started) is not always there.

``RankWatch`` runs a thread on every rank that talks to the run's rendezvous store
(``MASTER_ADDR:MASTER_PORT``, held by rank 0 or by torchrun's agent) every ``interval`` seconds:

- a rank that raises posts its error there before it ends (the first error posted is the cause);
  every other rank reads it within ``interval`` seconds and ends, that error in its one line;
- every rank counts heartbeats there; a rank whose count stands still for ``silent_after``
  seconds (killed, frozen, its node lost) ends the others, and so does the store being
  unreachable for ``silent_after / 6`` seconds (the process holding it is gone);
- a rank that finishes (or stops on a signal, as all ranks do together) says so, and the watch
  ends quietly everywhere.

A rank ended by the watch prints ``error: rank R stopped: <cause>`` and exits with status 1 at
once, wherever it is (blocked in a collective included); checkpoints are written atomically, so
the last complete one stays loadable."""
from __future__ import annotations

import os
import socket
import sys
import threading
import time
from datetime import timedelta
from typing import Any, Callable

import lightning as L
import torch.distributed as dist
from lightning.pytorch.callbacks import Callback

from infra.cli import one_line
from infra.errors import GLIMError

def store_prefix() -> str:
    """The watch's keys in the store, per attempt: torchrun's agent keeps its store across the
    restarts of a job (``--max-restarts``), and a new attempt must not read the last one's."""
    return f"rank_watch/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}/"


class RankFailed(GLIMError, RuntimeError):
    """This rank stopped because another one failed (the message says which and why)."""


def end_process(line: str) -> None:
    """Print ``line`` as an ``error:`` and end the process now (status 1)."""
    print(f"error: {line}", file=sys.stderr, flush=True)
    os._exit(1)


def describe(error: BaseException, limit: int = 300) -> str:
    """``Type: message`` on one line."""
    return one_line(f"{type(error).__name__}: {error}", limit)


class RankWatch(Callback):
    """The watch (see the module's docstring) for the ranks of one Lightning fit. Exceptions of
    the types ``together`` are raised by all ranks at the same step (a stop on a signal): they
    end the watch like a finished run. ``cause`` holds the first failure of the run and
    ``failed_elsewhere`` whether another rank had it."""

    def __init__(self, interval: float = 2.0, silent_after: float = 60.0,
                 together: tuple[type[BaseException], ...] = (), end: Callable[[str], None] = end_process):
        self.interval, self.silent_after, self.together, self.end = interval, silent_after, together, end
        self.cause: str | None = None
        self.failed_elsewhere = False
        self.rank, self.peers = 0, []
        self.failed_key = self.finished_key = ""
        self._store: Any = None
        self._address: tuple[str, int] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- Lightning hooks -------------------------------------------------------------------------
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if trainer.world_size > 1 and self._thread is None:
            self.start(trainer.global_rank, trainer.world_size)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self.finish()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, self.together) or not isinstance(exception, Exception):
            self.finish()
        else:
            self.fail(exception)

    # -- the watch ---------------------------------------------------------------------------------
    def start(self, rank: int, world_size: int, address: tuple[str, int] | None = None) -> bool:
        """Connect to the store (default: ``MASTER_ADDR:MASTER_PORT``) and start watching;
        False (and a note) when the store cannot be reached."""
        if address is None:
            if "MASTER_ADDR" not in os.environ or "MASTER_PORT" not in os.environ:
                return False
            address = (os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]))
        try:
            self._store = dist.TCPStore(address[0], address[1], is_master=False, wait_for_workers=False,
                                        timeout=timedelta(seconds=max(10.0, 5 * self.interval)))
        except (RuntimeError, OSError) as e:
            print(f"note: no watch over the other ranks (store {address[0]}:{address[1]}: {describe(e, 120)})",
                  file=sys.stderr)
            return False
        self.rank, self.peers, self._address = rank, [r for r in range(world_size) if r != rank], address
        prefix = store_prefix()
        self.failed_key, self.finished_key, self._beat = prefix + "failed", prefix + "finished", prefix + "beat/"
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="rank-watch", daemon=True)
        self._thread.start()
        return True

    def finish(self) -> None:
        """This rank ended as planned: say so (the others stop watching too) and stop."""
        if self._store is not None and not self._stop.is_set():
            self._call(lambda s: s.add(self.finished_key, 1))
        self._halt()

    def fail(self, error: BaseException) -> None:
        """This rank failed with ``error``: post it unless another rank's failure came first (or
        a peer is silent: its death is what made this rank fail), and stop watching."""
        if self._store is None or self._stop.is_set():
            return
        self._halt()
        own = f"rank {self.rank} failed: {describe(error)}"
        posted = self._call(lambda s: s.check([self.failed_key]))
        silent = self._silent_peers(wait=2 * self.interval) if posted is False else []
        mine = f"rank {silent[0]} stopped responding (killed, or its node is gone)" if silent else own
        first = self._call(lambda s: s.compare_set(self.failed_key, "", mine))
        if first is None:  # the store is gone: rank 0 or the launcher holding it is
            first = self._store_gone()
        self.cause = first.decode() if isinstance(first, bytes) else first
        self.failed_elsewhere = self.cause != own

    def _store_gone(self) -> str:
        host, port = self._address
        return f"the rendezvous store {host}:{port} is gone (rank 0 or its launcher stopped)"

    def _halt(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5 * self.interval)

    def _call(self, op: Callable[[Any], Any]) -> Any:
        """``op(store)``, or None when the store does not answer."""
        try:
            with self._lock:
                return op(self._store)
        except (RuntimeError, OSError):
            return None

    def _reachable(self) -> bool:
        try:
            socket.create_connection(self._address, timeout=self.interval).close()
            return True
        except OSError:
            return False

    def _beats(self) -> dict[int, int] | None:
        """Count this rank's heartbeat; the peers' counts (None: the store does not answer)."""
        def op(store):
            store.add(self._beat + str(self.rank), 1)
            return {r: store.add(self._beat + str(r), 0) for r in self.peers}
        return self._call(op)

    def _silent_peers(self, wait: float) -> list[int]:
        """Peers whose heartbeat count does not move in ``wait`` seconds."""
        before = self._call(lambda s: {r: s.add(self._beat + str(r), 0) for r in self.peers})
        time.sleep(wait)
        after = self._call(lambda s: {r: s.add(self._beat + str(r), 0) for r in self.peers})
        if before is None or after is None:
            return []
        return [r for r in self.peers if after[r] == before[r]]

    def _watch(self) -> None:
        seen = {r: (-1, time.monotonic()) for r in self.peers}  # last count, when it moved
        lost_since: float | None = None
        while not self._stop.wait(self.interval):
            now = time.monotonic()
            if lost_since is not None:  # probe the port: a refused store op logs a warning each time
                if self._reachable():
                    lost_since = None
                elif now - lost_since >= self.silent_after / 6:
                    return self._end_here(self._store_gone())
                continue
            counts = self._beats()
            state = self._call(lambda s: (s.add(self.finished_key, 0),
                                           s.check([self.failed_key]) and s.get(self.failed_key)))
            if counts is None or state is None:
                lost_since = now
                continue
            finished, failed = state
            if finished:
                return
            if failed:
                return self._end_here(failed.decode())
            for r, n in counts.items():
                if n != seen[r][0]:
                    seen[r] = (n, now)
                elif now - seen[r][1] >= self.silent_after:
                    return self._end_here(f"rank {r} stopped responding for {self.silent_after:.0f} s "
                                          "(killed, frozen, or its node is gone)")

    def _end_here(self, cause: str) -> None:
        if self._stop.is_set():
            return  # this rank finished or failed meanwhile: its main thread reports
        self.cause, self.failed_elsewhere = cause, True
        self.end(f"rank {self.rank} stopped: {cause}")
