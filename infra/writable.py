"""Up-front check that an output directory can be created and written, before any work is done."""
from __future__ import annotations

import os
from pathlib import Path

from infra.atomic import WriteError


def check_writable(directory: str | Path, option: str = "--out") -> None:
    """Raise ``WriteError`` (one line) unless ``directory`` is, or can be created as, a writable
    directory: its nearest existing ancestor must be a directory this user may write into."""
    path = Path(directory).absolute()
    for place in (path, *path.parents):
        if place.exists():
            break
    if not place.is_dir():
        raise WriteError(f"{option} {directory}: {place} exists and is not a directory")
    if not os.access(place, os.W_OK | os.X_OK):
        raise WriteError(f"{option} {directory}: {place} is not writable; choose a writable directory")
