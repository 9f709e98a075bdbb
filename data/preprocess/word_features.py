"""Word-level EEG features of ZuCo sentences (the input of the BrainTranslator baseline).

For every fixated word of a sentence: the word-level band values of one eye-tracking measure
(``GD`` gaze duration by default, ``FFD`` first fixation or ``TRT`` total reading time), fields
``<measure>_<band>`` of the word struct (e.g. ``GD_t1``), for the 8 bands ``t1 t2 a1 a2 b1 b2 g1
g2`` of 105 channels each, concatenated in that order (840 values) and normalised to zero mean
and unit standard deviation (the sample standard deviation, ``ddof=1``, as the published baseline
computes it). A sentence is the sequence of its words' vectors, in reading order.

- A word never fixated (its band values are empty arrays, or NaN scalars) is skipped.
- A word whose values are not finite, constant, or not 105 per band is skipped too (counted apart).
- Beyond ``MAX_WORDS`` (56) fixated words the rest of the sentence is cut (counted).
- A sentence without usable word data (a missing sentence: ``word`` is NaN; no ``word`` field;
  a word struct without the measure's band fields; an unreadable reference) comes back with a
  ``reason`` and no vectors.

``WordReader(measure)`` reads one sentence's ``word`` value as ``data.preprocess.readers.
read_sentences`` hands it over (scipy values of a MATLAB v5 file, h5py objects of a v7.3 file),
so that the file is read once for the sentence-level EEG and the word features together;
``read_word_features`` reads a whole file on its own.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from data.preprocess.readers import RAW_CHANNELS, read_sentences

BANDS: tuple[str, ...] = ("t1", "t2", "a1", "a2", "b1", "b2", "g1", "g2")
MEASURES: tuple[str, ...] = ("GD", "FFD", "TRT")
DEFAULT_MEASURE = "GD"
WORD_DIM = RAW_CHANNELS * len(BANDS)  # 840
MAX_WORDS = 56

# per-word outcomes counted in SentenceWords.counts
KEPT, NEVER_FIXATED, NOT_FINITE, CONSTANT, MALFORMED, BEYOND_MAX = (
    "kept", "never fixated", "non-finite values", "constant values", "malformed values",
    f"beyond {MAX_WORDS} words")
# sentence-level reasons
NO_WORD_FIELD = "no word field"
MISSING_SENTENCE = "no words (missing sentence)"
NO_BAND_FIELDS = "word struct lacks the band fields"
UNREADABLE_WORDS = "unreadable words"


def band_fields(measure: str) -> tuple[str, ...]:
    """The word-struct fields of ``measure`` in band order: ``GD_t1`` ... ``GD_g2``."""
    if measure not in MEASURES:
        raise ValueError(f"word measure {measure!r}: expected one of {', '.join(MEASURES)}")
    return tuple(f"{measure}_{band}" for band in BANDS)


def word_vector(bands: list[np.ndarray]) -> tuple[np.ndarray | None, str]:
    """The normalised (840,) float32 vector of one word from its 8 band arrays, or (None, why)."""
    sizes = [b.size for b in bands]
    if all(s == 0 for s in sizes) or all(s == 1 and not np.isfinite(b).all() for s, b in zip(sizes, bands)):
        return None, NEVER_FIXATED
    if any(s != RAW_CHANNELS for s in sizes):
        return None, MALFORMED
    values = np.concatenate([np.asarray(b, dtype=np.float64).ravel() for b in bands])  # (840,)
    if not np.isfinite(values).all():
        return None, NOT_FINITE
    std = values.std(ddof=1)
    if not std > 0:
        return None, CONSTANT
    return ((values - values.mean()) / std).astype(np.float32), KEPT


@dataclass
class SentenceWords:
    """The word features of one sentence: ``vectors`` (w, 840) float32, w <= ``max_words``;
    ``counts`` of the per-word outcomes; ``reason`` (and ``detail``) when the sentence has no
    usable word data at all."""

    vectors: np.ndarray
    counts: Counter = field(default_factory=Counter)
    reason: str | None = None
    detail: str = ""

    @classmethod
    def without(cls, reason: str, detail: str = "") -> "SentenceWords":
        return cls(np.zeros((0, WORD_DIM), np.float32), Counter(), reason, detail)


def _words_of(bands_per_word: Iterator[list[np.ndarray]], max_words: int) -> SentenceWords:
    kept: list[np.ndarray] = []
    counts: Counter = Counter()
    for bands in bands_per_word:
        vector, outcome = word_vector(bands)
        if vector is not None and len(kept) >= max_words:
            outcome = BEYOND_MAX
        elif vector is not None:
            kept.append(vector)
        counts[outcome] += 1
    vectors = np.stack(kept) if kept else np.zeros((0, WORD_DIM), np.float32)  # (w, 840)
    return SentenceWords(vectors, counts)


class WordReader:
    """Reads the word features of one sentence from its ``word`` value (see the module doc).

    Called with what ``read_sentences`` hands over: for MATLAB v5 the scipy value of the field
    (a ``mat_struct`` for a one-word sentence, an array of them, or a NaN for a missing
    sentence), for v7.3 the h5py object the sentence's reference points to (a group for a struct
    array, a 1 x 1 NaN dataset for a missing sentence); None when the file has no ``word`` field,
    an exception when the reference could not be resolved. Never raises.
    """

    def __init__(self, measure: str = DEFAULT_MEASURE, max_words: int = MAX_WORDS):
        self.measure = measure
        self.fields = band_fields(measure)
        self.max_words = max_words

    def __call__(self, value: Any) -> SentenceWords:
        import h5py  # here, not at the top: data.prepare checks its options before h5py and scipy load

        if value is None:
            return SentenceWords.without(NO_WORD_FIELD)
        if isinstance(value, BaseException):
            return SentenceWords.without(UNREADABLE_WORDS, f"{type(value).__name__}: {value}")
        try:
            if isinstance(value, (h5py.Group, h5py.Dataset)):
                return self._v73(value)
            return self._v5(value)
        except Exception as error:  # a damaged struct spoils this sentence's words only
            return SentenceWords.without(UNREADABLE_WORDS, f"{type(error).__name__}: {error}")

    # --- MATLAB v5 (scipy, squeeze_me=True, struct_as_record=False) -------------------------
    def _v5(self, value: Any) -> SentenceWords:
        from scipy.io.matlab import mat_struct

        if isinstance(value, mat_struct):
            words = [value]  # squeeze_me turns a one-word struct array into a bare struct
        else:
            array = np.asarray(value)
            if array.dtype != object:  # NaN (missing sentence), an empty matrix, or not words at all
                return _not_words(array)
            words = list(array.ravel())
        if not words:
            return SentenceWords.without(MISSING_SENTENCE, "empty word struct")
        if not all(isinstance(w, mat_struct) for w in words):
            return SentenceWords.without(UNREADABLE_WORDS, "word is not a struct array")
        absent = [f for f in self.fields if f not in getattr(words[0], "_fieldnames", ())]
        if absent:
            return SentenceWords.without(NO_BAND_FIELDS, absent[0])
        return _words_of(([np.asarray(getattr(w, f, np.zeros(0)), dtype=np.float64) for f in self.fields]
                          for w in words), self.max_words)

    # --- MATLAB v7.3 (HDF5) ------------------------------------------------------------------
    def _v73(self, value: Any) -> SentenceWords:
        import h5py

        if not isinstance(value, h5py.Group):  # a 1 x 1 NaN, an empty matrix, or not words at all
            return _not_words(_h5_values(value))
        absent = [f for f in self.fields if f not in value]
        if absent:
            return SentenceWords.without(NO_BAND_FIELDS, absent[0])
        refs = [np.asarray(value[f][()]).ravel() for f in self.fields]  # 8 x (W,)
        n_words = min(len(r) for r in refs)
        handle = value.file
        return _words_of(([_h5_values(handle[r[k]]) for r in refs] for k in range(n_words)),
                         self.max_words)


def _not_words(array: np.ndarray) -> SentenceWords:
    """A ``word`` field that is no struct array: a missing sentence (NaN or empty) or a fault."""
    if array.size == 0 or (array.dtype.kind == "f" and np.isnan(array).all()):
        return SentenceWords.without(MISSING_SENTENCE)
    return SentenceWords.without(UNREADABLE_WORDS, "word is not a struct array")


def _h5_values(dataset: Any) -> np.ndarray:
    """A numeric MATLAB array of a v7.3 file (an empty matrix is a MATLAB_empty marker)."""
    if dataset.attrs.get("MATLAB_empty", 0):
        return np.zeros(0)
    return np.asarray(dataset[()], dtype=np.float64)


NO_FIXATED_WORD = "no fixated word"
NORMALISATION = "per word: zero mean, unit sample standard deviation (ddof 1)"


@dataclass
class WordTally:
    """The word features of a preprocessing run's stored records: per-word outcomes, and the
    records without a word vector by file and reason."""

    measure: str
    words: Counter = field(default_factory=Counter)
    records: int = 0
    with_words: int = 0
    without: dict[str, Counter] = field(default_factory=dict)

    def add(self, where: str, n_words: int, counts: Counter | None, reason: str | None) -> None:
        """Count one stored record of file ``where`` (its word count, outcomes and reason)."""
        self.records += 1
        self.words.update(counts or {})
        if n_words:
            self.with_words += 1
        else:
            self.without.setdefault(where, Counter())[reason or NO_FIXATED_WORD] += 1

    def lines(self) -> list[str]:
        """One line per file with records without word vectors."""
        return [f"{where}: {sum(reasons.values())} records without word features ("
                + ", ".join(f"{reason}: {n}" for reason, n in sorted(reasons.items())) + ")"
                for where, reasons in self.without.items()]

    def rows(self) -> list[tuple[str, int]]:
        """(what, count) rows of the summary table."""
        without = Counter()
        for reasons in self.without.values():
            without.update(reasons)
        return ([("records stored", self.records), ("records with word vectors", self.with_words)]
                + [(f"records without: {r}", n) for r, n in sorted(without.items())]
                + [(f"words {outcome}", n) for outcome, n in sorted(self.words.items())])

    def as_dict(self) -> dict[str, Any]:
        return {"measure": self.measure, **{what: n for what, n in self.rows()}}


def read_word_features(path: str | Path, measure: str = DEFAULT_MEASURE,
                       max_words: int = MAX_WORDS) -> Iterator[tuple[int | None, SentenceWords]]:
    """``(sentence index, SentenceWords)`` of every sentence of a ZuCo ``.mat`` file (v5 or
    v7.3), in file order; a file that cannot be read at all yields ``(None, reason)`` once."""
    reader = WordReader(measure, max_words)
    for record in read_sentences(path, words=reader):
        if record.words is None:  # a problem of the whole file, or a sentence without text
            yield record.index, SentenceWords.without(record.reason or UNREADABLE_WORDS, record.detail)
        else:
            yield record.index, record.words
