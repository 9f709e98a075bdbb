"""Store checksums: `python -m data.verify` names damaged rows, open_store checks the metadata."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from data import verify
from data.checksums import CHUNK_ROWS
from data.store import StoreError, StoreWriter, UnverifiedStoreWarning, open_store

SHAPE = (16, 8)  # small rows: the checksums do not depend on the row size


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    with StoreWriter(tmp_path / "s", shape=SHAPE) as writer:
        for i in range(2 * CHUNK_ROWS + 5):  # three chunks, the last one short
            writer.append(rng.standard_normal((int(rng.integers(1, 17)), 8)),
                          {"subject": "ZAB", "phase": "train", "dataset": "ZuCo1", "task": "task1",
                           "input text": f"s{i}", "text uid": i})
    return tmp_path / "s"


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_intact_store_verifies(store: Path, capsys) -> None:
    assert verify.main([str(store)]) == 0
    assert "intact (133 records, 3 EEG chunks checked)" in capsys.readouterr().out
    open_store(store, verify="eeg")


def test_flipped_eeg_byte_is_found_and_its_rows_named(store: Path, capsys) -> None:
    row_bytes = SHAPE[0] * SHAPE[1] * 4
    _flip(store / "eeg.npy", 128 + 70 * row_bytes + 5)  # row 70: second chunk
    assert verify.main([str(store)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"{store / 'eeg.npy'} rows 64-127: checksum mismatch (damaged bytes)"]
    open_store(store)  # the cheap check reads no EEG
    with pytest.raises(StoreError, match="rows 64-127"):
        open_store(store, verify="eeg")


def test_changed_records_fail_the_cheap_check(store: Path) -> None:
    text = (store / "records.jsonl").read_text()
    (store / "records.jsonl").write_text(text.replace('"s7"', '"s8"', 1))
    with pytest.raises(StoreError, match="records.jsonl: checksum mismatch"):
        open_store(store)
    assert verify.main([str(store)]) == 1


def test_truncated_eeg_fails_on_sizes(store: Path, capsys) -> None:
    (store / "eeg.npy").write_bytes((store / "eeg.npy").read_bytes()[:-1])
    assert verify.main([str(store)]) == 1
    assert "eeg.npy: 68223 bytes, store.json says 68224" in capsys.readouterr().err


def test_store_without_checksums_is_said_clearly(store: Path, capsys) -> None:
    meta = json.loads((store / "store.json").read_text())
    del meta["checksums"]
    (store / "store.json").write_text(json.dumps(meta))
    assert verify.main([str(store)]) == 2
    assert "has no checksums (written by an earlier GLIM)" in capsys.readouterr().err
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        open_store(store)
    assert any(issubclass(w.category, UnverifiedStoreWarning) for w in caught)
    with pytest.raises(StoreError, match="--overwrite"):
        open_store(store, verify="eeg")
