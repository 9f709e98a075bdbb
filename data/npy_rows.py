"""``.npy`` files of float32 rows appended one batch at a time, their count known only at the end:
a fixed-size header is written first and rewritten in place on ``close``, and every chunk of rows
is hashed on the way (``data.checksums``), so no row is read back to checksum the file."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from data.checksums import ChunkHasher, eeg_entry

HEADER_BYTES = 128
"""Size of the fixed npy v1.0 header."""


def npy_header(shape: tuple[int, ...], length: int = HEADER_BYTES) -> bytes:
    """A little-endian float32, C-order npy v1.0 header for ``shape``, padded to ``length`` bytes;
    ``ValueError`` when the shape does not fit."""
    body = repr({"descr": "<f4", "fortran_order": False, "shape": tuple(shape)}).encode("latin1")
    pad = length - 10 - len(body) - 1
    if pad < 0:
        raise ValueError(f"shape {shape} does not fit an npy header of {length} bytes")
    header = body + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


class NpyRowWriter:
    """Append float32 rows of shape ``row_shape`` to ``path``; ``close`` fixes the header and
    returns the file's checksum entry (``data.checksums.eeg_entry``: chunks of ``chunk_rows``)."""

    def __init__(self, path: str | Path, row_shape: tuple[int, ...], chunk_rows: int):
        self.path = Path(path)
        self.row_shape = tuple(row_shape)
        self.chunk_rows = chunk_rows
        self.n = 0
        self._file = open(self.path, "wb")
        self._file.write(npy_header((0, *self.row_shape)))
        self._chunks = ChunkHasher(chunk_rows)

    def append(self, rows: np.ndarray) -> None:
        """Append ``rows`` (k, *row_shape), converted to little-endian float32."""
        rows = np.ascontiguousarray(rows, dtype="<f4")
        if rows.shape[1:] != self.row_shape:
            raise ValueError(f"rows of shape {rows.shape[1:]} appended to {self.path.name} of rows {self.row_shape}")
        for row in rows:
            data = row.tobytes()
            self._file.write(data)
            self._chunks.add(data)
        self.n += len(rows)

    def close(self) -> dict[str, Any]:
        """Write the final header, flush to disk, and return the checksum entry."""
        self._file.seek(0)
        self._file.write(npy_header((self.n, *self.row_shape)))
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return eeg_entry(self.path, HEADER_BYTES, self._chunks.finish(), self.chunk_rows)

    def abort(self) -> None:
        try:
            self._file.close()
        except OSError:  # a full disk fails the final flush too
            pass
