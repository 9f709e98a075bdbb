"""Word-level EEG features beside the sentence-level EEG of a store (the input of the
BrainTranslator baseline; GLIM never reads them, and a store without them is a complete store).

- ``words.npy``        float32 ``(W, 840)``: the word vectors of every record, record after record
                       in store order (``data.preprocess.word_features``: 8 bands x 105 channels
                       of one eye-tracking measure per fixated word, normalised per word).
- ``word_offsets.npy`` int64 ``(N + 1,)``: record i's words are rows ``offsets[i]:offsets[i + 1]``
                       (none for a record without a fixated word).
- ``store.json["word_features"]``: the measure, bands, vector width, word limit, normalisation and
  counts; ``store.json["checksums"]`` holds ``words.npy`` chunked like ``eeg.npy`` and
  ``word_offsets.npy`` read whole, checked with the rest of the store.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from data.checksums import bad_eeg_rows, file_entry, file_problems
from data.npy_rows import NpyRowWriter

WORDS_FILE = "words.npy"
OFFSETS_FILE = "word_offsets.npy"
INFO_KEY = "word_features"
WORD_CHUNK_ROWS = 4096
"""Word rows per checksummed chunk (4096 x 840 float32 = 13.8 MB)."""
NO_WORD_FEATURES = ("{path} holds no word-level EEG features: rebuild it from .mat files that hold "
                    "them with `python -m data.prepare ... --word_features GD --overwrite`")
"""The error of a store without word features where they are needed (``path``: the store)."""


class WordFeatureError(ValueError):
    """The word features of a store are inconsistent or unreadable."""


class WordFeatureWriter:
    """Append the word vectors of each record, in the order the store's records are appended;
    ``close`` finishes the files and returns the ``store.json`` entries."""

    def __init__(self, directory: str | Path, dim: int, info: Mapping[str, Any]):
        self.directory = Path(directory)
        self.dim = dim
        self.info = dict(info)
        self._rows = NpyRowWriter(self.directory / WORDS_FILE, (dim,), WORD_CHUNK_ROWS)
        self._offsets = [0]

    def append(self, vectors: np.ndarray | None) -> None:
        """The word vectors (w, dim) of the next record (None or w = 0: no word)."""
        if vectors is not None and len(vectors):
            self._rows.append(vectors)
        self._offsets.append(self._rows.n)

    def close(self, n_records: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """Finish both files; returns (the ``word_features`` entry, their checksum entries)."""
        if len(self._offsets) - 1 != n_records:
            raise WordFeatureError(f"word features of {len(self._offsets) - 1} records for a store of {n_records}")
        values = self._rows.close()
        np.save(self.directory / OFFSETS_FILE, np.asarray(self._offsets, dtype=np.int64))
        with_words = int(np.count_nonzero(np.diff(self._offsets)))
        info = {**self.info, "dim": self.dim, "n_words": self._rows.n, "records_with_words": with_words}
        return info, {WORDS_FILE: values, OFFSETS_FILE: file_entry(self.directory / OFFSETS_FILE)}

    def abort(self) -> None:
        self._rows.abort()


class WordFeatures:
    """The word features of an opened store: ``values`` memory-mapped (opened again in each process
    a dataset is sent to, not copied), ``offsets`` in memory."""

    def __init__(self, path: str | Path, offsets: np.ndarray, info: Mapping[str, Any],
                 values: np.ndarray | None = None):
        self.path = Path(path)  # words.npy
        self.offsets = offsets  # (N + 1,) int64
        self.info = dict(info)
        self._values = values

    @property
    def values(self) -> np.ndarray:
        """(W, dim) float32, memory-mapped."""
        if self._values is None:
            self._values = np.load(self.path, mmap_mode="r")
        return self._values

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_values": None}

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def dim(self) -> int:
        return int(self.values.shape[1])

    def counts(self) -> np.ndarray:
        """Words of every record (store order)."""
        return np.diff(self.offsets)  # (N,)

    def __getitem__(self, record: int) -> np.ndarray:
        """The word vectors (w, dim) of record ``record`` (a copy)."""
        return np.array(self.values[self.offsets[record]:self.offsets[record + 1]])


def open_word_features(path: str | Path, info: Mapping[str, Any]) -> WordFeatures | None:
    """The word features of the store at ``path`` (``info`` = its ``store.json``), None when it
    has none; ``WordFeatureError`` names what is inconsistent."""
    entry = info.get(INFO_KEY)
    if entry is None:
        return None
    path = Path(path)
    try:
        values = np.load(path / WORDS_FILE, mmap_mode="r")
        offsets = np.load(path / OFFSETS_FILE)
    except Exception as e:  # missing, truncated, damaged header
        raise WordFeatureError(f"{path}: the word features cannot be read ({type(e).__name__}: {e})") from e
    n = info.get("n_records")
    if not isinstance(n, int) or values.ndim != 2 or values.dtype != np.float32 or offsets.shape != (n + 1,):
        raise WordFeatureError(f"{path}: {WORDS_FILE} holds {values.dtype} {values.shape} and {OFFSETS_FILE} "
                               f"{offsets.shape}, for {n} records")
    if offsets.dtype.kind != "i" or offsets[0] != 0 or offsets[-1] != len(values) or np.any(np.diff(offsets) < 0):
        raise WordFeatureError(f"{path / OFFSETS_FILE}: not the offsets of {len(values)} word rows")
    if values.shape[1] != entry.get("dim"):
        raise WordFeatureError(f"{path / WORDS_FILE}: words of width {values.shape[1]}, store.json says {entry.get('dim')}")
    return WordFeatures(path / WORDS_FILE, offsets, entry, values)


def word_problems(path: str | Path, info: Mapping[str, Any], level: str) -> list[str]:
    """What the check of ``level`` (``metadata`` or ``eeg``, see ``data.store.verify_store``) finds
    wrong with the word feature files (empty when all is well or when the store has none)."""
    entry, checksums = info.get(INFO_KEY), info.get("checksums")
    if entry is None or not isinstance(checksums, Mapping) or level == "none":
        return []
    path = Path(path)
    if WORDS_FILE not in checksums or OFFSETS_FILE not in checksums:
        return [f"{path / 'store.json'}: word features without their checksums"]
    problems = file_problems(path, dict(checksums), whole=(OFFSETS_FILE,), chunked=(WORDS_FILE,))
    if not problems and level == "eeg":
        problems = [f"{path / WORDS_FILE} rows {first}-{last}: checksum mismatch (damaged bytes)"
                    for first, last in bad_eeg_rows(path, dict(checksums), int(entry["n_words"]), WORDS_FILE)]
    return problems
