"""Progress that shows on a terminal and in a log file: ``progress`` (one rich bar on a terminal,
a plain line every N steps otherwise) and ``progress_bar`` (the one rich bar). Knows nothing of
what is being done; the per-epoch lines of training are ``infra.epoch_log``."""
from __future__ import annotations

import math
import sys
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def is_terminal(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default stdout) is an interactive terminal, not a file or a pipe."""
    stream = sys.stdout if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)())


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m``; ``?`` for an unknown duration."""
    if not math.isfinite(seconds):
        return "?"
    s = int(round(max(seconds, 0.0)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def fields_text(fields: dict[str, float | str]) -> str:
    """``name value`` pairs, floats with 4 significant digits."""
    return "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items())


def progress_bar(console: Console | None = None, transient: bool = True, disable: bool = False) -> Progress:
    """The project's one rich progress bar: description, bar, done/total, elapsed, remaining."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=console, transient=transient, disable=disable)


Advance = Callable[..., None]
"""``advance(n=1, **fields)``: n more steps done; ``fields`` (e.g. ``loss=0.3``) are shown."""


@contextmanager
def progress(description: str, total: int, enabled: bool = True, every: int | None = None,
             stream: TextIO | None = None, seconds: float | None = 10.0) -> Iterator[Advance]:
    """Progress of ``total`` steps. On a terminal a rich bar; otherwise (a log file, a pipe) one
    plain line every ``every`` steps (default: a tenth of ``total``), whenever ``seconds`` have
    passed since the last line (None: never; a slow step too gets its line, from a background
    thread) and at the end, e.g.
    ``pretraining: 120/400 (30%)  loss 1.234  elapsed 12s  ETA 28s``. Nothing when not ``enabled``."""
    stream = sys.stdout if stream is None else stream
    if not enabled:
        yield lambda n=1, **fields: None
        return
    if is_terminal(stream):
        with progress_bar(Console(file=stream)) as bar:
            task = bar.add_task(description, total=total)

            def advance_bar(n: int = 1, **fields) -> None:
                label = f"{description} ({fields_text(fields)})" if fields else description
                bar.update(task, advance=n, description=label)

            yield advance_bar
        return
    lines = _PlainLines(description, total, stream, every or max(total // 10, 1))
    stop = threading.Event()
    beat = threading.Thread(target=lines.heartbeat, args=(seconds, stop), daemon=True) if seconds else None
    if beat:
        beat.start()
    try:
        yield lines.advance
    finally:
        stop.set()
        if beat:
            beat.join()
    lines.line()


class _PlainLines:
    """The plain lines of ``progress``: steps counted by ``advance``, a line on every ``every``-th
    step and, from ``heartbeat``'s thread, after ``seconds`` without one."""

    def __init__(self, description: str, total: int, stream: TextIO, every: int):
        self.description, self.total, self.stream, self.every = description, total, stream, every
        self.done, self.fields = 0, {}
        self.start = self.last = time.monotonic()
        self.lock = threading.Lock()

    def line(self) -> None:
        with self.lock:
            self.last = time.monotonic()
            elapsed, done = self.last - self.start, self.done
            eta = elapsed / done * (self.total - done) if done else float("nan")
            parts = [f"{self.description}: {done}/{self.total} ({100 * done / max(self.total, 1):.0f}%)",
                     fields_text(self.fields), f"elapsed {duration(elapsed)}", f"ETA {duration(eta)}"]
            print("  ".join(p for p in parts if p), file=self.stream, flush=True)

    def advance(self, n: int = 1, **fields) -> None:
        with self.lock:
            before, self.done = self.done, self.done + n
            self.fields = dict(fields)
            due = self.done // self.every > before // self.every and self.done < self.total
        if due:
            self.line()

    def heartbeat(self, seconds: float, stop: threading.Event) -> None:
        """Until ``stop``: a line whenever ``seconds`` have passed since the last one."""
        while not stop.wait(max(self.last + seconds - time.monotonic(), 0.0)):
            if time.monotonic() - self.last >= seconds:
                self.line()
