"""Progress that shows on a terminal and in a log file: ``progress`` (one rich bar on a terminal,
a plain line every N steps otherwise) and ``progress_bar`` (the one rich bar). Knows nothing of
what is being done; the per-epoch lines of training are ``infra.epoch_log``."""
from __future__ import annotations

import math
import sys
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
    plain line every ``every`` steps (default: a tenth of ``total``), after a step that ends
    ``seconds`` or more after the last line (None: never), and at the end, e.g.
    ``pretraining: 120/400 (30%)  loss 1.234  elapsed 12s  ETA 28s``. Nothing when not ``enabled``."""
    stream = sys.stdout if stream is None else stream
    start, done, shown = time.monotonic(), 0, {}
    last = start
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
    every = every or max(total // 10, 1)

    def line(fields: dict) -> None:
        nonlocal last
        last = time.monotonic()
        elapsed = last - start
        eta = elapsed / done * (total - done) if done else float("nan")
        parts = [f"{description}: {done}/{total} ({100 * done / max(total, 1):.0f}%)", fields_text(fields),
                 f"elapsed {duration(elapsed)}", f"ETA {duration(eta)}"]
        print("  ".join(p for p in parts if p), file=stream, flush=True)

    def advance_lines(n: int = 1, **fields) -> None:
        nonlocal done
        before, done = done, done + n
        shown.clear()
        shown.update(fields)
        late = seconds is not None and time.monotonic() - last >= seconds
        if (done // every > before // every or late) and done < total:
            line(fields)

    yield advance_lines
    line(shown)
