"""The processed GLIM dataset ("store"): what preprocessing writes and the data module reads.

A store is a directory holding

- ``eeg.npy``      float32 ``(N, 1280, 128)``: sentence EEG at 128 Hz, time x channel, zero padded
                   (104 real channels, time steps beyond ``eeg_len`` are zero). Read by memory map.
- ``records.jsonl`` one JSON object per row of ``eeg.npy`` (same order), see ``RECORD_COLUMNS``.
- ``store.json``   ``{"format": "glim-store", "version": 1, "n_records": N, "eeg_shape": [1280, 128],
                   "sampling_rate": 128, "checksums": {...}, "split": {...}, ...}`` written last: a
                   directory without it is not a store. ``checksums`` (see ``data.checksums``):
                   size and sha256 of ``records.jsonl``, size, header sha256 and the sha256 of
                   every 64 EEG rows of ``eeg.npy``; ``split`` names the split protocol.

A store may also hold the word-level EEG features of its records (``words.npy``,
``word_offsets.npy``, ``store.json["word_features"]``; see ``data.word_store``): the input of the
BrainTranslator baseline, checked with the rest, ignored by GLIM; ``Store.words`` is None without them.

The mask of docs/protocol.md §eeg is not stored: it is ``arange(1280) < eeg_len``. Nothing in a store is a pickle.
``open_store`` checks sizes and the records checksum on open (``verify="metadata"``, no EEG read)
and every EEG chunk with ``verify="eeg"`` (``python -m data.verify STORE`` does that alone).

``StoreWriter`` writes a store incrementally (constant memory, one record at a time) into a
temporary sibling directory and renames it into place on ``close()``: an interrupted run never
leaves a half store where a store is expected.
"""
from __future__ import annotations

import json
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from data.checksums import (
    CHUNK_ROWS,
    ChunkHasher,
    bad_eeg_rows,
    eeg_entry,
    file_entry,
    metadata_problems,
)
from infra.errors import GLIMError
from data.npy_rows import npy_header
from data.word_store import (
    INFO_KEY as WORD_INFO_KEY,
    WordFeatureError,
    WordFeatures,
    WordFeatureWriter,
    open_word_features,
    word_problems,
)
from infra.json_safe import json_safe

STORE_FORMAT = "glim-store"
STORE_VERSION = 1
EEG_LEN = 1280
EEG_CHANNELS = 128
SAMPLING_RATE = 128

VARIANT_COLUMNS: tuple[str, ...] = (
    "lexical simplification (v0)",
    "lexical simplification (v1)",
    "semantic clarity (v0)",
    "semantic clarity (v1)",
    "syntax simplification (v0)",
    "syntax simplification (v1)",
    "naive rewritten",
    "naive simplified",
)
LABEL_COLUMNS: tuple[str, ...] = (
    "raw text", "dataset", "task", "control", "raw label", "input text", "text uid",
    "sentiment label", "relation label", *VARIANT_COLUMNS,
)
"""The columns of the label table (docs/protocol.md §labels), in the published order."""

RECORD_COLUMNS: tuple[str, ...] = ("eeg_len", "subject", "phase", *LABEL_COLUMNS)
"""The columns of ``records.jsonl``: the EEG length, subject code, phase (train/val/test) and the
label-table row the record was matched to."""

PHASES = ("train", "val", "test")
VERIFY_LEVELS = ("none", "metadata", "eeg")
NO_CHECKSUMS = ("{path} has no checksums (written by an earlier GLIM) and cannot be verified; "
                "rebuild it with `python -m data.prepare ... --overwrite`")
_NPY_HEADER_LEN = 128  # fixed-size npy v1.0 header, rewritten in place once N is known


class StoreError(GLIMError, ValueError):
    """A store is missing, incomplete, of another version or inconsistent."""


class UnverifiedStoreWarning(UserWarning):
    """A store written before stores carried checksums: it is read unverified."""


def _npy_header(n: int, shape: tuple[int, int]) -> bytes:
    try:
        return npy_header((n, *shape), _NPY_HEADER_LEN)
    except ValueError:
        raise StoreError(f"too many records for the npy header: {n}") from None


class StoreWriter:
    """Append ``(eeg, record)`` pairs; ``close()`` publishes the store atomically.

    ``eeg`` is float32-convertible ``(T, C)`` with ``T <= 1280`` and ``C <= 128`` (time x channel,
    not yet padded) or already padded ``(1280, 128)`` with ``record['eeg_len']`` set.

    ``word_features`` (the ``store.json["word_features"]`` entry: measure, bands, ...; vectors of
    width ``word_dim``) makes it a store with word features: ``append`` then takes each record's
    word vectors too (``data.word_store``); ``drop_word_features`` leaves them out after all.
    """

    def __init__(self, path: str | Path, shape: tuple[int, int] = (EEG_LEN, EEG_CHANNELS),
                 info: Mapping[str, Any] | None = None, word_features: Mapping[str, Any] | None = None,
                 word_dim: int = 840):
        self.path = Path(path)
        self.shape = tuple(shape)
        self.info = dict(info or {})
        self.tmp = self.path.with_name(self.path.name + ".partial")
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir(parents=True)
        self._eeg = open(self.tmp / "eeg.npy", "wb")
        self._eeg.write(_npy_header(0, self.shape))
        self._records = open(self.tmp / "records.jsonl", "w", encoding="utf-8")
        self.n = 0
        self._row = np.zeros(self.shape, dtype="<f4")
        self._chunks = ChunkHasher(CHUNK_ROWS)
        self.words = (WordFeatureWriter(self.tmp, word_dim, word_features)
                      if word_features is not None else None)

    def append(self, eeg: np.ndarray, record: Mapping[str, Any], words: np.ndarray | None = None) -> None:
        """Append one record: its EEG, its ``records.jsonl`` fields and, in a store with word
        features, its word vectors (w, word_dim) (None: no word)."""
        if words is not None and self.words is None:
            raise StoreError("word vectors appended to a store without word features")
        eeg = np.asarray(eeg, dtype=np.float32)
        t, c = eeg.shape
        if t > self.shape[0] or c > self.shape[1]:
            raise StoreError(f"EEG of shape {eeg.shape} exceeds the store shape {self.shape}")
        record = {k: json_safe(v) for k, v in record.items()}
        if "eeg_len" not in record or eeg.shape != self.shape:
            record["eeg_len"] = int(t)
        self._row[...] = 0
        self._row[:t, :c] = eeg
        row = self._row.tobytes()
        self._eeg.write(row)
        self._chunks.add(row)
        self._records.write(json.dumps(record, ensure_ascii=False) + "\n")
        if self.words is not None:
            self.words.append(words)
        self.n += 1

    def drop_word_features(self) -> None:
        """Publish this store without word features (e.g. when no file held any)."""
        if self.words is not None:
            self.words.abort()
            self.words = None
            for name in os.listdir(self.tmp):
                if name not in ("eeg.npy", "records.jsonl"):
                    os.remove(self.tmp / name)

    def set_column(self, column: str, values: Sequence[Any]) -> None:
        """Set ``column`` of every record appended so far (one value each, in store order): for
        a value known only once all records are in. Rewrites the unpublished records file."""
        if len(values) != self.n:
            raise StoreError(f"{len(values)} values of {column!r} for {self.n} records")
        self._records.close()
        path = self.tmp / "records.jsonl"
        rewritten = path.with_name(path.name + ".new")
        with open(path, encoding="utf-8") as old, open(rewritten, "w", encoding="utf-8") as new:
            for line, value in zip(old, values):
                record = json.loads(line)
                record[column] = json_safe(value)
                new.write(json.dumps(record, ensure_ascii=False) + "\n")
        os.replace(rewritten, path)
        self._records = open(path, "a", encoding="utf-8")

    def close(self) -> Path:
        """Finish the files, write ``store.json`` and move the store into place."""
        self._eeg.seek(0)
        self._eeg.write(_npy_header(self.n, self.shape))
        for f in (self._eeg, self._records):
            f.flush()
            os.fsync(f.fileno())
            f.close()
        checksums = {"records.jsonl": file_entry(self.tmp / "records.jsonl"),
                     "eeg.npy": eeg_entry(self.tmp / "eeg.npy", _NPY_HEADER_LEN, self._chunks.finish(),
                                          CHUNK_ROWS)}
        meta = {"format": STORE_FORMAT, "version": STORE_VERSION, "n_records": self.n,
                "eeg_shape": list(self.shape), "sampling_rate": SAMPLING_RATE, **self.info,
                "checksums": checksums}
        if self.words is not None:
            meta[WORD_INFO_KEY], word_checksums = self.words.close(self.n)
            checksums.update(word_checksums)
        (self.tmp / "store.json").write_text(json.dumps(meta, indent=1))
        old = self.path.with_name(self.path.name + ".old")
        if self.path.exists():
            os.replace(self.path, old)
        os.replace(self.tmp, self.path)
        if old.exists():
            shutil.rmtree(old)
        return self.path

    def abort(self) -> None:
        """Drop the unpublished store (also after a failed write, e.g. a full disk)."""
        for f in (self._eeg, self._records):
            try:
                f.close()
            except OSError:  # a full disk fails the final flush too
                pass
        if self.words is not None:
            self.words.abort()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "StoreWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
            return
        try:
            self.close()
        except BaseException:  # e.g. a full disk while finishing: nothing half-written stays
            self.abort()
            raise


@dataclass
class Store:
    """An opened store: ``eeg`` is a read-only memory map, ``records`` a DataFrame, ``words`` the
    word-level features of the records (None in a store without them)."""

    path: Path
    eeg: np.ndarray  # (N, 1280, 128) float32, memory-mapped
    records: pd.DataFrame
    info: dict
    words: WordFeatures | None = None

    def __len__(self) -> int:
        return len(self.records)


def _read_records(path: Path) -> pd.DataFrame:
    try:
        if not path.stat().st_size:
            return pd.DataFrame(columns=RECORD_COLUMNS)
        return pd.read_json(path, lines=True, dtype=False, encoding="utf-8")
    except (OSError, ValueError) as e:  # missing, bad JSON, bad UTF-8
        raise StoreError(f"{path} cannot be read ({type(e).__name__}: {str(e)[:120]}); "
                         "rebuild the store") from e


def _check_integers(records: pd.DataFrame, column: str, low: int, high: int | None,
                    path: Path) -> None:
    values = records[column]
    ok = values.map(lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                    and low <= v and (high is None or v <= high))
    if not ok.all():
        row = int(np.flatnonzero(~ok.to_numpy())[0])
        raise StoreError(f"{path / 'records.jsonl'} row {row}: {column} {values.iloc[row]!r} is not "
                         f"an integer in [{low}, {high if high is not None else 'inf'}]; rebuild the store")


def _check_strings(records: pd.DataFrame, columns: Sequence[str], path: Path) -> None:
    for column in columns:
        ok = records[column].map(lambda v: isinstance(v, str))
        if not ok.all():
            row = int(np.flatnonzero(~ok.to_numpy())[0])
            raise StoreError(f"{path / 'records.jsonl'} row {row}: {column} {str(records[column].iloc[row])[:60]!r} "
                             "is not a string; rebuild the store")


class RowReader:
    """Rows of ``eeg.npy`` read with ``os.preadv`` into fresh buffers (no memory map), so a
    long-running reader's resident memory does not grow with the rows it has seen; the file
    stays memory-mappable for anyone who prefers ``numpy.load(mmap_mode="r")``."""

    def __init__(self, path: str | Path):
        fmt = np.lib.format
        with open(path, "rb") as f:
            version = fmt.read_magic(f)
            read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            self.shape, _, dtype = read_header(f)
            self.offset = f.tell()
        self.dtype = np.dtype(dtype)
        self.row_bytes = int(np.prod(self.shape[1:])) * self.dtype.itemsize
        self.path = Path(path)
        self._fd: int | None = None

    def __getstate__(self) -> dict:  # each process opens its own descriptor
        return {**self.__dict__, "_fd": None}

    def __len__(self) -> int:
        return int(self.shape[0])

    def __getitem__(self, i: int) -> np.ndarray:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        row = np.empty(self.shape[1:], self.dtype)  # (l, c)
        got = os.preadv(self._fd, [row], self.offset + int(i) * self.row_bytes)
        if got != self.row_bytes:
            raise StoreError(f"{self.path} is truncated: row {i} is incomplete; rebuild the store")
        return row

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)


def verify_store(path: str | Path, info: dict, level: str = "eeg") -> None:
    """Check a store against its checksums: ``metadata`` (sizes, ``records.jsonl``, the EEG
    header; no EEG row read) or ``eeg`` (that and every EEG chunk). ``StoreError`` names the damaged
    file or rows; a store without checksums is an error at level ``eeg`` and a warning otherwise."""
    if level not in VERIFY_LEVELS:
        raise StoreError(f"store verification {level!r}: expected one of {', '.join(VERIFY_LEVELS)}")
    if level == "none":
        return
    path, checksums = Path(path), info.get("checksums")
    if not isinstance(checksums, dict):
        if level == "eeg":
            raise StoreError(NO_CHECKSUMS.format(path=path))
        warnings.warn(NO_CHECKSUMS.format(path=path), UnverifiedStoreWarning, stacklevel=3)
        return
    try:
        problems = metadata_problems(path, checksums)
        if not problems and level == "eeg":
            problems = [f"{path / 'eeg.npy'} rows {first}-{last}: checksum mismatch (damaged bytes)"
                        for first, last in bad_eeg_rows(path, checksums, int(info["n_records"]))]
        problems += word_problems(path, info, level)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:  # a damaged store.json
        raise StoreError(f"{path / 'store.json'} is corrupt (checksums: {type(e).__name__} {e}); "
                         "run `python -m data.prepare` again") from e
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise StoreError(f"{problems[0]}{more}; rebuild the store")


def open_store(path: str | Path, verify: str = "metadata") -> Store:
    """Open a store for reading, checked against its checksums at level ``verify`` (see
    ``verify_store``); a clear ``StoreError`` names what is wrong."""
    path = Path(path)
    if not path.is_dir():
        raise StoreError(f"processed data directory not found: {path} "
                         "(run `python -m data.prepare` to make it, see README)")
    meta_file = path / "store.json"
    if not meta_file.is_file():
        raise StoreError(f"{path} is not a GLIM store (no store.json): it is empty or was not "
                         "finished; run `python -m data.prepare` again")
    try:
        info = json.loads(meta_file.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as e:  # bad JSON, bad UTF-8, nesting beyond any store.json
        raise StoreError(f"{meta_file} is corrupt ({e}); run `python -m data.prepare` again") from e
    if not isinstance(info, dict):
        raise StoreError(f"{meta_file} is corrupt (not a JSON object); run `python -m data.prepare` again")
    if info.get("format") != STORE_FORMAT or info.get("version") != STORE_VERSION:
        raise StoreError(f"{path} holds a store of format {info.get('format')!r} version "
                         f"{info.get('version')!r}; this GLIM reads {STORE_FORMAT!r} version "
                         f"{STORE_VERSION}: run `python -m data.prepare` again")
    try:
        eeg = np.load(path / "eeg.npy", mmap_mode="r")
    except Exception as e:  # missing, truncated, damaged header (even tokenize errors)
        raise StoreError(f"{path / 'eeg.npy'} cannot be read ({type(e).__name__}: {e}); "
                         "rebuild the store") from e
    records = _read_records(path / "records.jsonl")
    n = info.get("n_records")
    if eeg.ndim != 3 or eeg.shape[0] != n or len(records) != n:
        raise StoreError(f"{path} is inconsistent: store.json says {n} records, eeg.npy has shape "
                         f"{eeg.shape}, records.jsonl has {len(records)} rows; rebuild the store")
    if eeg.dtype != np.float32 or list(eeg.shape[1:]) != info.get("eeg_shape"):
        raise StoreError(f"{path / 'eeg.npy'} holds {eeg.dtype} {eeg.shape[1:]}, store.json says "
                         f"float32 {info.get('eeg_shape')}; rebuild the store")
    missing = [c for c in ("eeg_len", "subject", "phase", "dataset", "task", "input text",
                           "text uid") if c not in records.columns]
    if missing:
        raise StoreError(f"{path / 'records.jsonl'} lacks the columns {missing}")
    _check_integers(records, "eeg_len", 0, eeg.shape[1], path)
    _check_integers(records, "text uid", 0, None, path)
    _check_strings(records, ("subject", "phase", "dataset", "task", "input text"), path)
    verify_store(path, info, verify)
    try:
        words = open_word_features(path, info)
    except WordFeatureError as e:
        raise StoreError(f"{e}; rebuild the store") from e
    return Store(path=path, eeg=eeg, records=records, info=info, words=words)
