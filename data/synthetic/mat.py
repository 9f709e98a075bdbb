"""Write MATLAB files the way ZuCo ships them: v5 through scipy, v7.3 as HDF5 through h5py.

Values are given in a small neutral form: ``str``, ``float``, ``None`` (an empty matrix ``[]``),
numpy arrays in MATLAB orientation (rows x columns), ``Cell`` (a column cell array) and
``StructArray`` (a 1 x N struct array, a list of dicts sharing their keys).
Headers carry a fixed creation date, so a file depends on its content only.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import h5py
import numpy as np
import scipy.io as sio

_CREATED = "Created on: Mon Jan  5 12:00:00 2015"
V5_HEADER = f"MATLAB 5.0 MAT-file, Platform: GLNXA64, {_CREATED}".ljust(116).encode("ascii")
V73_HEADER = (f"MATLAB 7.3 MAT-file, Platform: GLNXA64, {_CREATED} HDF5 schema 1.00 ."
              .ljust(116).encode("ascii") + b"\x00" * 8 + b"\x00\x02IM").ljust(512, b"\x00")


class Cell(list):
    """A MATLAB column cell array."""


class StructArray(list):
    """A MATLAB 1 x N struct array: a list of dicts with the same keys in the same order."""


# --- v5 (scipy) ----------------------------------------------------------------------------------
def _to_v5(value: Any) -> Any:
    if value is None:
        return np.zeros((0, 0))
    if isinstance(value, StructArray):
        fields = list(value[0]) if value else []
        arr = np.empty((1, len(value)), dtype=[(f, object) for f in fields])
        for j, item in enumerate(value):
            for f in fields:
                arr[0, j][f] = _to_v5(item[f])
        return arr
    if isinstance(value, Cell):
        arr = np.empty((len(value), 1), dtype=object)
        for i, item in enumerate(value):
            arr[i, 0] = _to_v5(item)
        return arr
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return float(value)
    return value


def write_v5(path: str | Path, sentences: StructArray, compress: bool = False) -> None:
    """A MATLAB v5 file holding ``sentenceData`` (scipy's writer, fixed header text)."""
    sio.savemat(str(path), {"sentenceData": _to_v5(sentences)}, do_compression=compress,
                oned_as="column")
    with open(path, "r+b") as f:
        f.write(V5_HEADER)


# --- v7.3 (HDF5) ---------------------------------------------------------------------------------
def _ref_names():
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    n = 1
    while True:
        k, name = n, ""
        while k:
            k, r = divmod(k, len(letters))
            name = letters[r] + name
        yield name
        n += 1


def _fields_attr(fields: Sequence[str]) -> tuple[np.ndarray, Any]:
    data = np.empty(len(fields), dtype=object)
    for i, name in enumerate(fields):
        data[i] = np.array(list(name), dtype="S1")
    return data, h5py.vlen_dtype(np.dtype("S1"))


class MatV73Writer:
    """Stream a ``sentenceData`` struct array into a MATLAB v7.3 (HDF5) file, sentence by sentence.

    Every field value is an object in ``#refs#``; ``sentenceData/<field>`` is an (N, 1) dataset of
    object references, written on ``close``. Arrays are stored transposed as MATLAB does.
    """

    def __init__(self, path: str | Path, fields: Sequence[str], compress: bool = False):
        self.path = Path(path)
        self.fields = list(fields)
        self.compress = compress
        self.file = h5py.File(self.path, "w", userblock_size=512, libver="earliest")
        self.refs = self._group(self.file, "#refs#")
        self.names = _ref_names()
        self.columns: dict[str, list] = {f: [] for f in self.fields}

    @staticmethod
    def _group(parent: h5py.Group, name: str) -> h5py.Group:
        gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
        gcpl.set_obj_track_times(False)
        return h5py.Group(h5py.h5g.create(parent.id, name.encode(), gcpl=gcpl))

    def _dataset(self, parent: h5py.Group, name: str, data: np.ndarray, cls: str,
                 **attrs: Any) -> h5py.Dataset:
        big = self.compress and data.size >= 4096
        ds = parent.create_dataset(name, data=data, track_times=False,
                                   **(dict(compression="gzip", compression_opts=4, shuffle=True)
                                      if big else {}))
        ds.attrs["MATLAB_class"] = np.bytes_(cls)
        for key, val in attrs.items():
            ds.attrs[key] = val
        return ds

    def _empty(self, parent: h5py.Group, name: str, cls: str = "double") -> h5py.Dataset:
        return self._dataset(parent, name, np.zeros(2, np.uint64), cls, MATLAB_empty=np.uint8(1))

    def _struct(self, parent: h5py.Group, name: str, items: StructArray) -> h5py.Group:
        fields = list(items[0])
        group = self._group(parent, name)
        group.attrs["MATLAB_class"] = np.bytes_("struct")
        data, dtype = _fields_attr(fields)
        group.attrs.create("MATLAB_fields", data, dtype=dtype)
        for f in fields:
            refs = [self.put(item[f]) for item in items]
            group.create_dataset(f, data=np.array(refs, dtype=h5py.ref_dtype).reshape(-1, 1),
                                 track_times=False)
        return group

    def put(self, value: Any) -> h5py.Reference:
        """Store one value in ``#refs#`` and return its reference."""
        name = next(self.names)
        if value is None:
            obj = self._empty(self.refs, name)
        elif isinstance(value, str):
            if not value:
                obj = self._empty(self.refs, name, "char")
            else:
                codes = np.array([ord(c) for c in value], np.uint16).reshape(-1, 1)
                obj = self._dataset(self.refs, name, codes, "char", MATLAB_int_decode=np.int32(2))
        elif isinstance(value, StructArray):
            obj = self._struct(self.refs, name, value)
        elif isinstance(value, Cell):
            refs = [self.put(v) for v in value]
            obj = self._dataset(self.refs, name, np.array(refs, dtype=h5py.ref_dtype).reshape(1, -1),
                                "cell")
        else:
            arr = np.asarray(value, dtype=np.float64 if np.ndim(value) == 0 else None)
            arr = arr.reshape(1, 1) if arr.ndim == 0 else arr
            cls = "single" if arr.dtype == np.float32 else "double"
            obj = self._dataset(self.refs, name, np.ascontiguousarray(arr.T), cls)
        return obj.ref

    def add(self, sentence: dict[str, Any]) -> None:
        for f in self.fields:
            self.columns[f].append(self.put(sentence[f]))

    def close(self) -> None:
        group = self._group(self.file, "sentenceData")
        group.attrs["MATLAB_class"] = np.bytes_("struct")
        data, dtype = _fields_attr(self.fields)
        group.attrs.create("MATLAB_fields", data, dtype=dtype)
        for f in self.fields:
            group.create_dataset(f, data=np.array(self.columns[f], dtype=h5py.ref_dtype).reshape(-1, 1),
                                 track_times=False)
        self.file.close()
        with open(self.path, "r+b") as fh:
            fh.write(V73_HEADER)

    def __enter__(self) -> "MatV73Writer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.file.close()
