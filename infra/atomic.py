"""Atomic file writing: a reader sees the old file or the complete new one, never a partial one.

The data goes to a temporary file in the target's directory, is flushed and fsync'ed, and then
``os.replace``-d over the target (atomic on POSIX within one file system); the directory is
fsync'ed so that the rename itself survives a power loss. ``AtomicCheckpointIO`` (Lightning's
checkpoint IO, in ``infra.checkpoint_io``) does the same for checkpoints. ``atomic_dir`` does it
for a whole result directory (written into a hidden sibling, renamed when complete).

A full disk or an unwritable place is a ``WriteError`` whose one-line message names the path,
the free space there and the space needed.
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Collection, Iterator

from infra.errors import GLIMError

DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EACCES, errno.EPERM,
                         errno.EROFS})
"""Errors of a full disk (or quota) or of a directory one may not write: a user's problem, told
in one line (``WriteError``), not a traceback."""


class WriteError(GLIMError, RuntimeError):
    """A file or directory could not be written: the disk is full or the place is not writable.
    The message is one line naming the path, the free space there and what was needed."""


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def free_bytes(path: str | Path) -> int | None:
    """Free space on the file system holding ``path`` (its nearest existing parent)."""
    path = Path(path).absolute()
    for place in (path, *path.parents):
        if place.exists():
            try:
                return shutil.disk_usage(place).free
            except OSError:
                return None
    return None


def write_error(error: OSError, path: str | Path, needed: int | None = None) -> WriteError:
    """The one-line ``WriteError`` for ``error`` (one of ``DISK_ERRNOS``) met writing ``path``;
    ``needed``: the bytes the write needed, if known."""
    free = free_bytes(path)
    where = f"{_size(free)} free there" if free is not None else "free space unknown"
    need = f", about {_size(needed)} needed" if needed else ""
    if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return WriteError(f"cannot write {path}: no space left on the device ({where}{need}); "
                          "free some space or choose another directory, then run the same command again")
    return WriteError(f"cannot write {path}: {os.strerror(error.errno or 0).lower()} ({where}{need}); "
                      "choose a writable directory, then run the same command again")


def is_disk_error(error: BaseException) -> bool:
    """Whether ``error`` is a full disk or an unwritable place (see ``DISK_ERRNOS``)."""
    return isinstance(error, OSError) and error.errno in DISK_ERRNOS


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_NEW_FILE_MODE = 0o666 & ~_umask()  # what open() would give a new file (mkstemp gives 0o600)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not supported on this platform / file system
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb", encoding: str | None = None,
                needed: int | None = None) -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; on a clean exit it replaces ``path``.

    If the block raises (or the process dies), ``path`` is untouched and the temporary file is
    removed (after a kill it is left as a hidden ``.<name>.*.tmp`` that nothing reads, see
    ``remove_stale_temp_files``). A full disk or an unwritable directory is a ``WriteError``
    (``needed``: the size of the file, if the caller knows it, for the message).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode 'w' or 'wb', not {mode!r}")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        if is_disk_error(e):
            raise write_error(e, path, needed) from None
        raise
    written = 0
    try:
        with os.fdopen(fd, mode, encoding=encoding if mode == "w" else None) as f:
            yield f
            f.flush()
            written = f.tell()
            os.fsync(f.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else _NEW_FILE_MODE)
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            written = written or os.path.getsize(tmp)
            os.unlink(tmp)
        if is_disk_error(e):
            raise write_error(e, path, needed or written or None) from None
        raise
    _fsync_dir(path.parent)


def remove_stale_temp_files(directory: str | Path) -> list[Path]:
    """Delete the temporary files a killed writer left in ``directory``; returns them."""
    stale = [p for p in Path(directory).glob(".*.tmp") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def _partial_dirs(path: Path) -> list[Path]:
    return [p for p in path.parent.glob(f".{path.name}.*.partial") if p.is_dir()]


@contextlib.contextmanager
def atomic_dir(path: str | Path, replaces: Collection[str] = ()) -> Iterator[Path]:
    """Yield a new hidden sibling directory of ``path`` to write a result into; on a clean exit
    it becomes ``path`` as a whole (one rename), so ``path`` never holds half a result. If
    ``path`` exists, its entries other than ``replaces`` (the result's own names) are moved
    into the new directory first, then the old directory is removed. If the block raises (a
    full disk is a ``WriteError``) the sibling is removed and ``path`` is untouched; one left by
    a killed writer is removed on the next call."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in _partial_dirs(path):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial"))
        os.chmod(tmp, 0o777 & ~_umask())
    except OSError as e:
        if is_disk_error(e):
            raise write_error(e, path) from None
        raise
    try:
        yield tmp
        if path.is_dir():
            for entry in path.iterdir():
                if entry.name not in replaces and not (tmp / entry.name).exists():
                    os.rename(entry, tmp / entry.name)
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException as e:
        needed = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file()) if tmp.is_dir() else 0
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, WriteError):  # named by the final path, not the hidden sibling
            raise WriteError(str(e).replace(str(tmp), str(path))) from None
        if is_disk_error(e):
            named = Path(str(e.filename).replace(str(tmp), str(path))) if e.filename else path
            raise write_error(e, named, needed or None) from None
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb", needed=len(data)) as f:
        f.write(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_open(path, "w", encoding=encoding, needed=len(text.encode(encoding))) as f:
        f.write(text)
    return Path(path)

