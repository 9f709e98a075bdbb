"""Checksums of a store (``store.json["checksums"]``), written by ``StoreWriter`` and checked by
``open_store`` and ``python -m data.verify``.

- ``records.jsonl``: its size and sha256 (cheap: the file is read on open anyway);
- ``eeg.npy``: its size, the sha256 of its npy header and of every chunk of ``CHUNK_ROWS`` EEG
  rows, and one sha256 over those digests (the file's checksum), so that a damaged byte is found
  by reading each row once and named by its rows, and a cheap check needs no EEG at all.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Sequence

from infra.provenance import file_sha256 as sha256_file

CHUNK_ROWS = 64
"""EEG rows per checksummed chunk (64 rows of (1280, 128) float32 = 40 MiB)."""
_READ_BYTES = 1 << 24


def combined(header: str, chunks: list[str]) -> str:
    """The checksum of ``eeg.npy``: sha256 over its header digest and its chunk digests."""
    return hashlib.sha256("".join([header, *chunks]).encode("ascii")).hexdigest()


class ChunkHasher:
    """sha256 of every ``CHUNK_ROWS`` rows fed in order (``add``), the last chunk possibly short."""

    def __init__(self, chunk_rows: int = CHUNK_ROWS):
        self.chunk_rows = chunk_rows
        self.chunks: list[str] = []
        self._digest = hashlib.sha256()
        self._rows = 0

    def add(self, row: bytes) -> None:
        self._digest.update(row)
        self._rows += 1
        if self._rows == self.chunk_rows:
            self._flush()

    def _flush(self) -> None:
        self.chunks.append(self._digest.hexdigest())
        self._digest, self._rows = hashlib.sha256(), 0

    def finish(self) -> list[str]:
        """The chunk digests (the partial last chunk included)."""
        if self._rows:
            self._flush()
        return self.chunks


def eeg_entry(path: Path, header_bytes: int, chunks: list[str], chunk_rows: int) -> dict[str, Any]:
    """The ``store.json`` checksum entry of a finished ``eeg.npy``."""
    with open(path, "rb") as f:
        header = hashlib.sha256(f.read(header_bytes)).hexdigest()
    return {"bytes": path.stat().st_size, "header_bytes": header_bytes, "header_sha256": header,
            "chunk_rows": chunk_rows, "chunks_sha256": chunks, "sha256": combined(header, chunks)}


def file_entry(path: Path) -> dict[str, Any]:
    """The ``store.json`` checksum entry of a small file read whole."""
    return {"bytes": path.stat().st_size, "sha256": sha256_file(path)}


def _count(entry: dict[str, Any], key: str, low: int = 0) -> int:
    value = entry.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{key} {str(value)[:40]!r} is not an integer >= {low}")
    return value


def _digests(entry: dict[str, Any], key: str) -> list[str]:
    value = entry.get(key)
    if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
        raise ValueError(f"{key} is not a list of digests")
    return value


def _checked_whole(checksums: dict[str, Any], name: str) -> dict[str, Any]:
    entry = checksums.get(name)
    if not isinstance(entry, dict):
        raise ValueError(f"the entry of {name} is missing")
    _count(entry, "bytes")
    if not isinstance(entry.get("sha256"), str):
        raise ValueError(f"the sha256 of {name} is not a string")
    return entry


def _checked_chunked(checksums: dict[str, Any], name: str, n_rows: int | None = None) -> dict[str, Any]:
    entry = _checked_whole(checksums, name)
    if _count(entry, "header_bytes") > entry["bytes"]:
        raise ValueError(f"{name} header_bytes exceed its bytes")
    if not isinstance(entry.get("header_sha256"), str):
        raise ValueError(f"the header_sha256 of {name} is not a string")
    rows, chunks = _count(entry, "chunk_rows", 1), _digests(entry, "chunks_sha256")
    if n_rows is not None and len(chunks) != -(-n_rows // rows):
        raise ValueError(f"{len(chunks)} chunk digests of {name} for {n_rows} rows in chunks of {rows}")
    return entry


def metadata_problems(path: Path, checksums: dict[str, Any]) -> list[str]:
    """What the cheap check finds wrong: file sizes, the records checksum, the EEG header and the
    consistency of the EEG entry (no EEG row is read). Empty when all is well; ``ValueError``
    for malformed entries."""
    return file_problems(path, checksums, whole=("records.jsonl",), chunked=("eeg.npy",))


def file_problems(path: Path, checksums: dict[str, Any], whole: Sequence[str],
                  chunked: Sequence[str]) -> list[str]:
    """The cheap check of some files of the store at ``path``: the sizes of all, the sha256 of the
    ``whole`` files (read whole) and, of the ``chunked`` ones (``eeg_entry``), the header checksum
    and the consistency of the entry (no row read). Empty when all is well; ``ValueError`` for a
    malformed entry (types and bounds are checked before any of them sizes a read)."""
    for name in whole:
        _checked_whole(checksums, name)
    for name in chunked:
        _checked_chunked(checksums, name)
    problems = []
    for name in (*whole, *chunked):
        entry, file = checksums.get(name, {}), path / name
        size = file.stat().st_size if file.is_file() else None
        if size != entry.get("bytes"):
            problems.append(f"{file}: {size} bytes, store.json says {entry.get('bytes')}")
    if problems:
        return problems
    for name in whole:
        if sha256_file(path / name) != checksums[name]["sha256"]:
            problems.append(f"{path / name}: checksum mismatch (the file was changed)")
    for name in chunked:
        entry = checksums[name]
        with open(path / name, "rb") as f:
            header = hashlib.sha256(f.read(entry["header_bytes"])).hexdigest()
        if header != entry["header_sha256"]:
            problems.append(f"{path / name}: header checksum mismatch")
        if combined(entry["header_sha256"], entry["chunks_sha256"]) != entry["sha256"]:
            what = "EEG" if name == "eeg.npy" else name
            problems.append(f"{path / 'store.json'}: the {what} checksums are inconsistent")
    return problems


def bad_eeg_rows(path: Path, checksums: dict[str, Any], n_rows: int,
                 name: str = "eeg.npy") -> list[tuple[int, int]]:
    """Row ranges ``(first, last)`` of ``eeg.npy`` (or of another chunked file ``name`` of
    ``n_rows`` rows) whose chunk checksum does not match (each row read once, one chunk in memory
    at a time); ``ValueError`` for a malformed entry."""
    eeg = _checked_chunked(checksums, name, n_rows)
    rows, chunks = eeg["chunk_rows"], eeg["chunks_sha256"]
    row_bytes = (eeg["bytes"] - eeg["header_bytes"]) // max(n_rows, 1)
    bad = []
    with open(path / name, "rb") as f:
        f.seek(eeg["header_bytes"])
        for i, expected in enumerate(chunks):
            count = min(rows, n_rows - i * rows)
            digest = hashlib.sha256()
            left = count * row_bytes
            while left:
                block = f.read(min(left, _READ_BYTES))
                if not block:
                    break
                digest.update(block)
                left -= len(block)
            if left or digest.hexdigest() != expected:
                bad.append((i * rows, i * rows + count - 1))
    return bad
