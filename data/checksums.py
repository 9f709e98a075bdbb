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
from typing import Any

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


def checked_entries(checksums: dict[str, Any], n_rows: int | None = None) -> tuple[dict, dict]:
    """The ``records.jsonl`` and ``eeg.npy`` entries, their fields checked (types and bounds, and
    the number of chunk digests for ``n_rows`` rows) before any of them sizes a read;
    ``ValueError`` names the first bad field."""
    records, eeg = checksums.get("records.jsonl"), checksums.get("eeg.npy")
    if not isinstance(records, dict) or not isinstance(eeg, dict):
        raise ValueError("an entry of records.jsonl or eeg.npy is missing")
    _count(records, "bytes")
    if not isinstance(records.get("sha256"), str) or not isinstance(eeg.get("sha256"), str):
        raise ValueError("a sha256 is not a string")
    if _count(eeg, "header_bytes") > _count(eeg, "bytes"):
        raise ValueError("eeg.npy header_bytes exceed its bytes")
    if not isinstance(eeg.get("header_sha256"), str):
        raise ValueError("header_sha256 is not a string")
    rows, chunks = _count(eeg, "chunk_rows", 1), _digests(eeg, "chunks_sha256")
    if n_rows is not None and len(chunks) != -(-n_rows // rows):
        raise ValueError(f"{len(chunks)} chunk digests for {n_rows} rows in chunks of {rows}")
    return records, eeg


def metadata_problems(path: Path, checksums: dict[str, Any]) -> list[str]:
    """What the cheap check finds wrong: file sizes, the records checksum, the EEG header and the
    consistency of the EEG entry (no EEG row is read). Empty when all is well; ``ValueError``
    for malformed entries (``checked_entries``)."""
    checked_entries(checksums)
    problems = []
    for name in ("records.jsonl", "eeg.npy"):
        entry, file = checksums.get(name, {}), path / name
        size = file.stat().st_size if file.is_file() else None
        if size != entry.get("bytes"):
            problems.append(f"{file}: {size} bytes, store.json says {entry.get('bytes')}")
    if problems:
        return problems
    if sha256_file(path / "records.jsonl") != checksums["records.jsonl"]["sha256"]:
        problems.append(f"{path / 'records.jsonl'}: checksum mismatch (the file was changed)")
    eeg = checksums["eeg.npy"]
    with open(path / "eeg.npy", "rb") as f:
        header = hashlib.sha256(f.read(eeg["header_bytes"])).hexdigest()
    if header != eeg["header_sha256"]:
        problems.append(f"{path / 'eeg.npy'}: header checksum mismatch")
    if combined(eeg["header_sha256"], eeg["chunks_sha256"]) != eeg["sha256"]:
        problems.append(f"{path / 'store.json'}: the EEG checksums are inconsistent")
    return problems


def bad_eeg_rows(path: Path, checksums: dict[str, Any], n_rows: int) -> list[tuple[int, int]]:
    """Row ranges ``(first, last)`` of ``eeg.npy`` whose chunk checksum does not match (each row
    read once, one chunk in memory at a time); ``ValueError`` for malformed entries."""
    _, eeg = checked_entries(checksums, n_rows)
    rows, chunks = eeg["chunk_rows"], eeg["chunks_sha256"]
    row_bytes = (eeg["bytes"] - eeg["header_bytes"]) // max(n_rows, 1)
    bad = []
    with open(path / "eeg.npy", "rb") as f:
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
