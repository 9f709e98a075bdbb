"""Hostile ``.mat`` files: sizes a MATLAB v5 or v7.3 file declares beyond what it holds (huge arrays,
cells and structs, elements longer than the file, deep nesting that crashes scipy) give one
"unreadable" record with a one-line reason, a listed problem in ``data.prepare``, and nothing is
allocated from the declared size (``tracemalloc`` peak bounded). Generated structures and damage:
records or reasons, never an exception. (Random bytes and flips: tests/test_properties.py.)"""
from __future__ import annotations

import struct
import tracemalloc
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data.preprocess.prepare import is_problem, process_file
from data.preprocess.readers import RawFile, read_sentences
from data.synthetic.mat import V73_HEADER
from tests.zuco_files import eeg, write_v73

PEAK_BYTES = 48 << 20
"""Most memory reading a small hostile file may take (the declared sizes are gigabytes)."""
HEADER = b"MATLAB 5.0 MAT-file, Platform: GLNXA64, hostile".ljust(116) + bytes(8) + struct.pack("<H", 0x0100) + b"IM"
DOUBLE, CELL, STRUCT, CHAR = 6, 1, 2, 4


def element(mdtype: int, data: bytes, count: int | None = None, pad: bool = True) -> bytes:
    """A v5 data element whose tag declares ``count`` bytes (the real size unless given)."""
    tag = struct.pack("<II", mdtype, len(data) if count is None else count)
    return tag + data + bytes(-len(data) % 8 if pad else 0)


def matrix(cls: int, dims: list[int], body: bytes = b"", name: bytes = b"", count: int | None = None) -> bytes:
    header = (element(6, struct.pack("<II", cls, 0)) + element(5, struct.pack(f"<{len(dims)}i", *dims))
              + element(1, name))
    return element(14, header + body, count)


def compressed(data: bytes) -> bytes:
    return element(15, zlib.compress(data), pad=False)


def fields(*names: str) -> bytes:
    width = 8
    return element(5, struct.pack("<i", width)) + element(1, b"".join(n.encode().ljust(width, b"\0") for n in names))


def sentence_data(body: bytes, cls: int = STRUCT, dims: tuple[int, int] = (1, 1), count: int | None = None) -> bytes:
    return matrix(cls, list(dims), body, b"sentenceData", count)


def nested_cells(depth: int) -> bytes:
    inner = matrix(DOUBLE, [1, 1], element(9, bytes(8)))
    for _ in range(depth):
        inner = matrix(CELL, [1, 1], inner)
    return inner


HOSTILE_V5 = {  # name: (file bytes, what the reason says)
    "variable longer than the file": (HEADER + sentence_data(element(9, bytes(8)), DOUBLE, count=2**32 - 8),
                                      "declares"),
    "inflated variable longer than its data": (HEADER + compressed(sentence_data(b"", DOUBLE, count=2**32 - 8)),
                                               "ends first"),
    "data element of 4 GB": (HEADER + compressed(sentence_data(element(9, bytes(8), count=2**32 - 16), DOUBLE)),
                             "declares"),
    "cell of 25 million": (HEADER + compressed(sentence_data(b"", CELL, (5000, 5000))), "25000000 elements"),
    "cell of 10^12": (HEADER + compressed(sentence_data(b"", CELL, (10**6, 10**6))), "elements"),
    "struct of 25 million": (HEADER + compressed(sentence_data(fields("content"), STRUCT, (5000, 5000))), "elements"),
    "char of 10^10": (HEADER + compressed(sentence_data(element(16, b""), CHAR, (10**5, 10**5))), "elements"),
    "double of 10^10": (HEADER + sentence_data(element(9, b""), DOUBLE, (10**5, 10**5)), "elements"),
    "cells 5000 deep (scipy overflows its C stack)": (HEADER + compressed(sentence_data(nested_cells(5000), CELL)),
                                                      "nested"),
    "v4 file with a 10^10 matrix": (struct.pack("<5i", 0, 10**5, 10**5, 0, 2) + b"x\0", "not a MATLAB 5"),
}


def peak_while(function, *args):
    tracemalloc.start()
    try:
        result = function(*args)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("case", HOSTILE_V5)
def test_v5_sizes_beyond_the_file_are_refused_before_anything_is_allocated(tmp_path, case):
    data, says = HOSTILE_V5[case]
    path = tmp_path / "resultsZAB_SR.mat"
    path.write_bytes(data)
    records, peak = peak_while(lambda: list(read_sentences(path)))
    assert peak < PEAK_BYTES, peak
    [record] = records
    assert record.index is None and record.reason == "unreadable file" and says in record.detail, record
    drops = process_file(RawFile(path, "ZuCo1", "SR", "ZAB"), path.name, tmp_path / "spill.bin").drops
    assert len(drops) == 1 and is_problem(drops[0]) and "\n" not in drops[0].line()  # listed by data.prepare


def test_a_well_formed_v5_file_passes_the_size_check(tmp_path):
    from tests.zuco_files import write_v5

    path = write_v5(tmp_path / "ok.mat", [("Hello world.", eeg(300, 1)), ("Missing.", None), ("", eeg(260, 2))])
    records = list(read_sentences(path))
    assert [r.text for r in records] == ["Hello world.", "Missing.", ""] and records[0].eeg.shape == (105, 300)


# ---------------------------------------------------------------------------------------------- generated v5
def v5_arrays(depth: int = 3):
    """Arrays of every kind with honest or lying dimensions and sizes, nested in cells and structs."""
    lie = st.one_of(st.none(), st.integers(0, 2**32 - 1))
    dims = st.lists(st.one_of(st.integers(0, 3), st.integers(0, 2**31 - 1)), min_size=1, max_size=3)
    leaf = st.builds(lambda d, n, cls, lie: matrix(cls, d, element(9, bytes(8 * n), lie)), dims, st.integers(0, 4),
                     st.sampled_from([DOUBLE, CHAR, 9, 12]), lie)
    return st.recursive(leaf, lambda inner: st.one_of(
        st.builds(lambda d, kids, lie: matrix(CELL, d, b"".join(kids), count=lie), dims, st.lists(inner, max_size=3),
                  lie),
        st.builds(lambda d, kids: matrix(STRUCT, d, fields("content", "rawData") + b"".join(kids)), dims,
                  st.lists(inner, max_size=4))), max_leaves=8)


@settings(max_examples=80, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(values=st.lists(v5_arrays(), max_size=4), dims=st.sampled_from([(1, 1), (1, 2), (0, 0), (10**5, 10**5)]),
       squeeze=st.booleans(), cut=st.one_of(st.none(), st.floats(0, 1)))
def test_generated_v5_structures_give_records_or_reasons_in_bounded_memory(tmp_path, values, dims, squeeze, cut):
    var = sentence_data(fields("content", "rawData") + b"".join(values), STRUCT, dims)
    data = HEADER + (compressed(var) if squeeze else var)
    data = data if cut is None else data[: 128 + int(cut * (len(data) - 128))]
    path = tmp_path / "resultsZAB_SR.mat"
    path.write_bytes(data)
    records, peak = peak_while(lambda: list(read_sentences(path)))
    assert peak < PEAK_BYTES and records
    assert all(r.reason or r.eeg is not None for r in records)
    assert all("\n" not in f"{r.reason} {r.detail}" for r in records)


# ---------------------------------------------------------------------------------------------- v7.3
def write_hostile_v73(path: Path, damage: str) -> Path:
    """A ZuCo 2.0 file of two sentences, then one dataset replaced by a hostile one."""
    write_v73(path, [("Hello world.", eeg(300, 1)), ("Second one.", eeg(260, 2))])
    with h5py.File(path, "r+") as f:
        group = f["sentenceData"]
        if damage in ("content", "rawData"):  # the reference list itself: a huge unwritten dataset
            del group[damage]
            group.create_dataset(damage, shape=(10**6, 10**6), dtype=h5py.ref_dtype, chunks=(1, 1))
        else:
            kwargs = {"eeg": dict(shape=(10**7, 10**5), dtype="f4", chunks=(64, 64)),
                      "eeg-gzip": dict(shape=(10**7, 10**5), dtype="f4", chunks=(64, 64), compression="gzip"),
                      "eeg-3d": dict(data=np.zeros((2, 3, 4))),
                      "eeg-text": dict(data=np.array([b"ab", b"cd"]))}[damage]
            refs = group["rawData"][()]
            refs[0, 0] = f["#refs#"].create_dataset("hostile", **kwargs).ref
            group["rawData"][...] = refs
    with open(path, "r+b") as fh:
        fh.write(V73_HEADER)
    return path


@pytest.mark.parametrize("damage, says", [("content", "declares shape"), ("rawData", "declares shape"),
                                          ("eeg", "declares shape"), ("eeg-gzip", "declares shape"),
                                          ("eeg-3d", "rawData not 2-D"), ("eeg-text", "rawData not numeric")])
def test_v73_datasets_larger_than_their_storage_are_refused(tmp_path, damage, says):
    path = write_hostile_v73(tmp_path / "resultsYAC_NR.mat", damage)
    records, peak = peak_while(lambda: list(read_sentences(path)))
    assert peak < PEAK_BYTES, peak
    if damage in ("content", "rawData"):
        [record] = records
        assert record.index is None and record.reason == "unreadable file"
    else:
        assert records[1].eeg is not None and records[0].eeg is None  # the other sentence is kept
        record = records[0]
        assert record.reason in ("unreadable sentence", "rawData not 2-D", "rawData not numeric")
    assert says in f"{record.reason} {record.detail}" and "\n" not in record.detail, record
