"""The tables the restricted unpickler admits: the published label table and the original's EEG
table, in every pickle protocol and in the spellings of pandas 2 / numpy 1 and pandas 3 / numpy 2,
load equal to ``pandas.read_pickle``; the admitted list is exactly what they need.
(Hostile pickles: tests/infra/test_hostile_pickles.py.)"""
from __future__ import annotations

import _codecs
import collections
import copyreg
import io
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from data.preprocess import import_table
from data.preprocess.steps import load_label_table
from data.store import LABEL_COLUMNS
from infra.unpickle import ADMITTED, BUILTINS, NUMPY, PANDAS_2, PANDAS_3, TableUnpickler, load_table_pickle, spelling


def original_eeg_table(n: int = 3, seed: int = 0) -> pd.DataFrame:
    """A table in the format of the original's STEP3/STEP4 notebooks: per row an ``eeg`` (1280, 128)
    float32 and a ``mask`` (1280,) int8 array in object columns, text columns of Python str, an
    int label id, a bool, a label column with NaN, numpy scalars and the integer row index
    that ``pd.concat`` of the matched groups leaves."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 1281, n)
    eeg = [np.pad(rng.standard_normal((k, 104)).astype(np.float32), ((0, 1280 - k), (0, 24))) for k in lengths]
    text = lambda values: pd.Series(values, dtype=object)  # noqa: E731  (pandas 2 kept str as object)
    table = pd.DataFrame({
        "eeg": text(eeg), "mask": text([(np.arange(1280) < k).astype(np.int8) for k in lengths]),
        "text": text([f"Sentence {i}." for i in range(n)]), "dataset": text(["ZuCo1"] * n),
        "task": text(["task1"] * n), "subject": text(["ZAB", "ZDM", "YAC"] * (n // 3) + ["ZAB"] * (n % 3)),
        "label id": np.arange(n), "control": np.arange(n) % 2 == 0, "text uid": np.arange(n, dtype=np.int64),
        "sentiment label": text([np.nan, "positive", None] * (n // 3) + [np.nan] * (n % 3)),
        "raw label": text([np.float64(1.0), np.int64(-1), "AWARD"] * (n // 3) + ["x"] * (n % 3)),
        "phase": text(["train", "val", "test"] * (n // 3) + ["train"] * (n % 3))})
    table.index = pd.Index(rng.permutation(10 * n)[:n])
    return table


def assert_same_table(loaded: pd.DataFrame, expected: pd.DataFrame) -> None:
    arrays = ["eeg", "mask"]
    pd.testing.assert_frame_equal(loaded.drop(columns=arrays), expected.drop(columns=arrays))
    for column in arrays:
        for a, b in zip(loaded[column], expected[column]):
            assert a.dtype == b.dtype and np.array_equal(a, b)


def globals_of(data: bytes) -> set[tuple[str, str]]:
    """The globals an unrestricted unpickler looks up while reading ``data`` (Python 3 names)."""
    seen = set()

    class Recorder(pickle.Unpickler):
        def find_class(self, module, name):
            seen.add(spelling(module, name))
            return super().find_class(module, name)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        Recorder(io.BytesIO(data)).load()
    return seen


def test_the_published_label_table_loads_equal_to_read_pickle(shared_dir):
    path = shared_dir / "zuco" / "zuco_label_8variants.df"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy 1's names are mapped, not looked up with a warning
        table = load_table_pickle(path)
    expected = pd.read_pickle(path)  # trusted project data
    pd.testing.assert_frame_equal(table, expected)
    assert table.shape == (1888, 17)
    assert globals_of(path.read_bytes()) <= PANDAS_2 | NUMPY | BUILTINS  # pandas 2 / numpy 1 spellings


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_the_original_eeg_table_loads_equal_to_read_pickle_in_every_protocol(tmp_path, protocol):
    table = original_eeg_table()
    path = tmp_path / "zuco_eeg_label_8variants.df"
    path.write_bytes(pickle.dumps(table, protocol=protocol))
    assert_same_table(load_table_pickle(path), pd.read_pickle(path))
    assert_same_table(load_table_pickle(path), table)


def pandas2_numpy1(data: bytes) -> bytes:
    """A protocol-2 pickle of this pandas 3 / numpy 2 respelled as pandas 2 / numpy 1 write it."""
    for new, old in [(b"numpy._core.", b"numpy.core."), (b"cpandas\nDataFrame\n", b"cpandas.core.frame\nDataFrame\n"),
                     (b"cpandas\nIndex\n", b"cpandas.core.indexes.base\nIndex\n")]:
        assert new in data
        data = data.replace(new, old)
    return data


def test_the_pandas_2_numpy_1_spellings_load(tmp_path):
    table = original_eeg_table()
    path = tmp_path / "old.df"
    path.write_bytes(pandas2_numpy1(pickle.dumps(table, protocol=2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_same_table(load_table_pickle(path), table)


def test_the_admitted_list_is_exactly_what_the_tables_need(tmp_path, shared_dir):
    """Every admitted global is needed by one of the tables in some protocol and spelling, but the
    builtin containers (admitted as plain values); and each names the object it should."""
    published = shared_dir / "zuco" / "zuco_label_8variants.df"
    needed = globals_of(published.read_bytes()) | globals_of(pickle.dumps(pd.read_pickle(published)))
    table = original_eeg_table()
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        needed |= globals_of(pickle.dumps(table, protocol=protocol))
    needed |= globals_of(pandas2_numpy1(pickle.dumps(table, protocol=2)))
    containers = {("builtins", n) for n in ("list", "dict", "tuple", "set", "frozenset")}
    assert needed | containers == ADMITTED
    from pandas._libs.arrays import __pyx_unpickle_NDArrayBacked
    from pandas._libs.internals import _unpickle_block
    from pandas.core.indexes.base import _new_Index
    from pandas.core.internals.managers import BlockManager
    core = np._core
    expected = {pd.DataFrame, BlockManager, _unpickle_block, _new_Index, pd.Index, pd.RangeIndex, pd.StringDtype,
                pd.arrays.StringArray, __pyx_unpickle_NDArrayBacked, np.ndarray, np.dtype, core.multiarray._reconstruct,
                core.numeric._frombuffer, core.multiarray.scalar, slice, object, list, dict, tuple, set, frozenset,
                copyreg._reconstructor, _codecs.encode}
    unpickler = TableUnpickler(io.BytesIO(), "t")
    assert {unpickler.find_class(m, n) for m, n in ADMITTED} == expected
    assert not PANDAS_3 & PANDAS_2 and collections.Counter(m for m, _ in ADMITTED)["pandas"] == 4


def test_a_label_table_re_saved_with_this_pandas_loads(tmp_path, shared_dir):
    published = pd.read_pickle(shared_dir / "zuco" / "zuco_label_8variants.df")
    labels = pd.DataFrame(published.to_dict("list"))  # text columns as this pandas infers them
    labels.to_pickle(tmp_path / "labels.df")
    assert load_label_table(tmp_path / "labels.df", warn=lambda line: None).equals(labels)


def test_the_table_importer_reads_an_original_table(tmp_path, capsys):
    table = original_eeg_table(6)
    for column in LABEL_COLUMNS:
        if column not in table.columns:
            table[column] = table["text"] if column.endswith("text") else None
    table.to_pickle(tmp_path / "zuco_eeg_label_8variants.df")
    assert import_table.main([str(tmp_path / "zuco_eeg_label_8variants.df"), "--out", str(tmp_path / "store")]) == 0
    assert "train 2, val 2, test 2, dropped 0" in capsys.readouterr().out

