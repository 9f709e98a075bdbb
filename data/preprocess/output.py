"""Where ``data.prepare`` writes: the refusal to replace a store without ``--overwrite``, the
cleanup of what a killed run left (``.<out>.spill-*``, ``<out>.partial``, ``<out>.old``) and the
one-line message of a full disk or an unwritable directory."""
from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
ACCESS_ERRORS = (errno.EACCES, errno.EPERM, errno.EROFS)


def spill_prefix(out_dir: Path) -> str:
    """Name prefix of the temporary EEG spill folder beside the store."""
    return f".{out_dir.name}.spill-"


def existing_output(out_dir: Path) -> str | None:
    """What ``out_dir`` already holds that a run would replace (None if nothing)."""
    if out_dir.is_file():
        return "a file"
    if out_dir.is_dir() and any(out_dir.iterdir()):
        return "a store" if (out_dir / "store.json").is_file() else "a non-empty directory"
    return None


def clean_leftovers(out_dir: Path) -> list[Path]:
    """Remove what a killed run left beside ``out_dir``; returns it. A store caught between the two
    renames of its replacement (only ``<out>.old`` there) is put back first."""
    old = out_dir.with_name(out_dir.name + ".old")
    if old.is_dir() and not out_dir.exists() and (old / "store.json").is_file():
        os.replace(old, out_dir)
    parent = out_dir.parent if out_dir.parent.is_dir() else None
    found = [p for p in parent.glob(spill_prefix(out_dir) + "*")] if parent else []
    found += [p for p in (out_dir.with_name(out_dir.name + ".partial"), old) if p.exists()]
    for path in found:
        shutil.rmtree(path, ignore_errors=True)
    return found


def write_error(error: OSError, where: Path, needed_bytes: int | None) -> str | None:
    """The one-line message of a full disk or an unwritable path, or None for other errors."""
    path = Path(error.filename) if getattr(error, "filename", None) else where
    if error.errno in ACCESS_ERRORS:
        return f"cannot write to {path}: {error.strerror}; choose another --out or fix its permissions"
    if error.errno not in DISK_ERRORS:
        return None
    probe = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    free = shutil.disk_usage(probe).free
    need = f"; the store needs about {gib(needed_bytes)}" if needed_bytes else ""
    return f"no space left on the device of {path} ({gib(free)} free{need}); free space or choose another --out"


def gib(n: int) -> str:
    """A size in GiB (MiB below 1 GiB)."""
    return f"{n / 2 ** 30:.1f} GiB" if n >= 2 ** 30 else f"{n / 2 ** 20:.1f} MiB"
