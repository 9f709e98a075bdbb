"""Pickled tables a user names are read by the restricted unpickler: real pandas tables load, a
pickle that would call anything else is refused in one line before it runs."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data.preprocess import import_table
from data.preprocess.steps import load_label_table
from infra.unpickle import UnsafePickleError, admitted, load_table_pickle


class Payload:
    """Pickles to ``os.system(command)``."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def evil_table(tmp_path: Path) -> tuple[Path, Path]:
    marker, path = tmp_path / "ran", tmp_path / "evil.df"
    path.write_bytes(pickle.dumps(pd.DataFrame({"eeg": [Payload(f"touch {marker}")]})))
    return path, marker


def test_the_published_label_table_loads(shared_dir):
    path = shared_dir / "zuco" / "zuco_label_8variants.df"
    table = load_table_pickle(path)
    assert table.equals(pd.read_pickle(path)) and len(table) == 1888  # trusted project data


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_tables_of_every_protocol_load_unchanged(tmp_path, protocol):
    """The original EEG table's kinds of columns: arrays per row, strings, ints, categories."""
    table = pd.DataFrame({"eeg": [np.ones((4, 3), np.float32), np.zeros((4, 3), np.float32)],
                          "mask": [np.ones(4), np.zeros(4)], "subject": ["ZAB", "YAC"],
                          "label": [1, 2], "phase": pd.Categorical(["train", "test"]),
                          "when": pd.to_datetime(["2020-01-01", "2021-02-03"])})
    (tmp_path / "t.df").write_bytes(pickle.dumps(table, protocol=protocol))
    loaded = load_table_pickle(tmp_path / "t.df")
    assert loaded.drop(columns=["eeg", "mask"]).equals(table.drop(columns=["eeg", "mask"]))
    assert all(np.array_equal(a, b) for a, b in zip(loaded["eeg"], table["eeg"]))


def test_a_pickle_calling_os_system_is_refused_before_it_runs(tmp_path):
    path, marker = evil_table(tmp_path)
    with pytest.raises(UnsafePickleError, match=r"evil.df asks to call posix.system") as caught:
        load_table_pickle(path)
    assert "\n" not in str(caught.value) and not marker.exists()
    with pytest.raises(UnsafePickleError):
        load_label_table(path, warn=lambda line: None)
    assert not marker.exists()


def test_the_table_importer_refuses_it_in_one_line(tmp_path, capsys):
    path, marker = evil_table(tmp_path)
    assert import_table.main([str(path), "--out", str(tmp_path / "store")]) == 2
    err = capsys.readouterr().out.strip().splitlines()[-1]
    assert err.startswith("error: ") and "posix.system" in err and not marker.exists()
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("module, name", [("builtins", "eval"), ("builtins", "getattr"),
                                          ("subprocess", "Popen"), ("pandas", "read_pickle"),
                                          ("pandas", "eval"), ("numpy", "load"), ("numpy", "memmap"),
                                          ("pandas.io.pytables", "HDFStore"), ("numpy", "frombuffer.x")])
def test_functions_and_file_readers_are_not_admitted(module, name):
    assert not admitted(module, name)


def test_a_damaged_pickle_is_a_one_line_value_error(tmp_path):
    path = tmp_path / "cut.df"
    path.write_bytes(pickle.dumps(pd.DataFrame({"a": range(100)}))[:50])
    with pytest.raises(ValueError, match="not a readable table pickle") as caught:
        load_table_pickle(path)
    assert "\n" not in str(caught.value)
