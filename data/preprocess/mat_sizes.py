"""The sizes a ``.mat`` file declares, checked against what the file really holds before a reader
allocates from them.

- MATLAB v5/v7 (scipy): ``check_v5`` walks the data elements of the file, inflating compressed
  variables as a stream (a fixed-size window, nothing kept): every element must fit in the
  element around it and, at the top, in the file or in the inflated stream; a cell or struct array
  must have room for its declared number of elements (scipy allocates an object array of that
  many before reading them), any other array a byte of data per element (scipy allocates
  character arrays from their dimensions); nesting is at most ``MAX_DEPTH`` deep (scipy recurses in C). The
  file is inflated twice (here and by scipy), the price of reading untrusted files.
- MATLAB v7.3 (HDF5): ``h5_read`` reads a dataset only if the bytes it declares are stored in
  the file (times ``MAX_INFLATION`` for a compressed one).
"""
from __future__ import annotations

import math
import mmap
import os
import struct
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

MAX_DEPTH = 32
"""Deepest nesting of cell / struct arrays accepted (ZuCo files nest 4 deep)."""
MAX_INFLATION = 1100
"""Largest ratio of inflated to stored bytes a compressed dataset can reach (deflate: 1032)."""
SMALL_BYTES = 1 << 20
"""Bytes any dataset may declare without storage (MATLAB's empty markers, fill values)."""
_WINDOW = 1 << 20

MI_INT8, MI_INT32, MI_UINT32, MI_MATRIX, MI_COMPRESSED = 1, 5, 6, 14, 15
CELL, STRUCT, OBJECT = 1, 2, 3
CONTAINERS = (CELL, STRUCT, OBJECT)
UNSIZED = (5, 16, 17)
"""Array classes whose dimensions are not the count of their stored values (sparse, function
handle, opaque)."""


class DeclaredSizeError(ValueError):
    """A file declares more data than it holds (or nests deeper than ``MAX_DEPTH``)."""


class _Plain:
    """A region of a memory-mapped file."""

    def __init__(self, data: memoryview, start: int, size: int):
        self.data, self.start, self.pos, self.size = data, start, 0, size

    def read(self, n: int) -> bytes:
        if n > self.size - self.pos:
            raise DeclaredSizeError(f"{n} bytes declared at offset {self.pos}, the file ends first")
        at = self.start + self.pos
        self.pos += n
        return bytes(self.data[at:at + n])

    def skip(self, n: int) -> None:
        if n > self.size - self.pos:
            raise DeclaredSizeError(f"{n} bytes declared at offset {self.pos}, the file ends first")
        self.pos += n


class _Inflated:
    """The inflated stream of a compressed element: read and skipped through a fixed window."""

    def __init__(self, f: BinaryIO, start: int, size: int):
        self.f, self.left, self.pos = f, size, 0
        self.z = zlib.decompressobj()
        self.tail, self.window, self.at = b"", b"", 0
        f.seek(start)

    def _more(self) -> bool:
        """Inflate the next window; False at the end of the compressed data."""
        while True:
            if not self.tail:
                if self.left <= 0 or self.z.eof:
                    return False
                self.tail = self.f.read(min(_WINDOW, self.left))
                self.left = self.left - len(self.tail) if self.tail else 0
            try:
                self.window, self.at = self.z.decompress(self.tail, _WINDOW), 0
            except zlib.error as e:
                raise DeclaredSizeError(f"compressed data damaged after {self.pos} bytes ({e})") from None
            self.tail = self.z.unconsumed_tail
            if self.window:
                return True

    def _take(self, n: int, keep: bool) -> list[bytes]:
        parts, wanted = [], n
        while n:
            if self.at == len(self.window) and not self._more():
                raise DeclaredSizeError(f"{wanted} bytes declared at inflated offset {self.pos}, "
                                        "the compressed data ends first")
            step = min(n, len(self.window) - self.at)
            if keep:
                parts.append(self.window[self.at:self.at + step])
            self.at, n = self.at + step, n - step
        self.pos += wanted
        return parts

    def read(self, n: int) -> bytes:
        return b"".join(self._take(n, keep=True))

    def skip(self, n: int) -> None:
        self._take(n, keep=False)


class _Walker:
    def __init__(self, order: str):
        self.pair = struct.Struct(order + "II")
        self.order = order

    def tag(self, src: Any, end: int) -> tuple[int, int, bytes | None]:
        """(type, bytes, data of a small element or None) of the next element, inside ``end``."""
        if end - src.pos < 8:
            raise DeclaredSizeError(f"an element at offset {src.pos} has no room for its tag")
        raw = src.read(8)
        mdtype, count = self.pair.unpack(raw)
        if mdtype >> 16:  # small data element: size and type in one word, data in the next 4 bytes
            mdtype, count = mdtype & 0xFFFF, mdtype >> 16
            if count > 4:
                raise DeclaredSizeError(f"small element of {count} bytes at offset {src.pos - 8}")
            return mdtype, count, raw[4:4 + count]
        if count > end - src.pos:
            raise DeclaredSizeError(f"an element at offset {src.pos - 8} declares {count} bytes, "
                                    f"{end - src.pos} are left around it")
        return mdtype, count, None

    def element(self, src: Any, end: int, depth: int) -> int:
        """Check the next element (recursively for an array); its declared bytes."""
        mdtype, count, small = self.tag(src, end)
        if small is not None:
            return count
        if mdtype == MI_MATRIX:
            self.matrix(src, src.pos + count, depth + 1)
        else:
            src.skip(count)
        if count % 8:
            src.skip(min(-count % 8, end - src.pos))  # padding to 8 bytes
        return count

    def values(self, src: Any, end: int, code: str) -> tuple[int, ...]:
        """The 32-bit integers of the next element (array flags, dimensions, a length)."""
        _, count, small = self.tag(src, end)
        data = small if small is not None else src.read(count)
        if small is None and count % 8:
            src.skip(min(-count % 8, end - src.pos))
        return struct.unpack_from(f"{self.order}{len(data) // 4}{code}", data)

    def matrix(self, src: Any, end: int, depth: int) -> None:
        """An ``miMATRIX`` whose content ends at ``end``: its header, then its elements."""
        if depth > MAX_DEPTH:
            raise DeclaredSizeError(f"arrays nested more than {MAX_DEPTH} deep")
        if src.pos == end:  # an empty matrix
            return
        flags = self.values(src, end, "I")
        dims = self.values(src, end, "i")
        if not flags or min(dims, default=0) < 0:
            raise DeclaredSizeError(f"an array header at offset {src.pos} is damaged")
        self.element(src, end, depth)  # name
        n, kind = math.prod(dims), flags[0] & 0xFF
        if kind == STRUCT or kind == OBJECT:
            if kind == OBJECT:
                self.element(src, end, depth)  # class name
            name_len = (self.values(src, end, "i") or (0,))[0]
            n *= self.element(src, end, depth) // name_len if name_len > 0 else 0  # field names
        if kind in CONTAINERS and n * 8 > end - src.pos:
            raise DeclaredSizeError(f"an array at offset {src.pos} declares {n} elements, "
                                    f"{end - src.pos} bytes are left for them")
        at, first = src.pos, None
        while end - src.pos >= 8:
            count = self.element(src, end, depth)
            first = count if first is None else first
        if n > (first or 0) and kind not in CONTAINERS and kind not in UNSIZED:
            raise DeclaredSizeError(f"an array at offset {at} declares {n} elements, its data holds "
                                    f"{first or 0} bytes")  # a byte per element at least
        src.skip(end - src.pos)


def check_v5(path: str | Path) -> None:
    """``DeclaredSizeError`` if the MATLAB v5 file ``path`` declares more than it holds (module doc)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        header = f.read(128)
        if len(header) < 128 or header[126:128] not in (b"IM", b"MI") or 0 in header[:4]:
            raise DeclaredSizeError("not a MATLAB 5 file (no 128-byte MAT-file header)")
        walker = _Walker("<" if header[126:128] == b"IM" else ">")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped, memoryview(mapped) as data:
            top = _Plain(data, 128, size - 128)
            while top.size - top.pos >= 8:
                mdtype, count, small = walker.tag(top, top.size)
                if small is None and mdtype == MI_COMPRESSED:
                    walker.element(_Inflated(f, 128 + top.pos, count), 1 << 62, 0)
                elif small is None and mdtype == MI_MATRIX:
                    walker.matrix(_Plain(data, 128 + top.pos, count), count, 1)
                top.skip(0 if small is not None else count)


def h5_read(dataset: Any) -> np.ndarray:
    """``dataset[()]`` of an h5py dataset, after checking that the file stores the bytes it
    declares (``DeclaredSizeError`` names the dataset otherwise)."""
    declared = math.prod(dataset.shape or ()) * dataset.dtype.itemsize
    stored = dataset.id.get_storage_size()
    room = stored * (MAX_INFLATION if dataset.chunks is not None else 1)
    if declared > max(room, SMALL_BYTES):
        raise DeclaredSizeError(f"dataset {dataset.name} declares shape {dataset.shape} ({declared} "
                                f"bytes), the file stores {stored} bytes of it")
    return dataset[()]

