"""ZuCo-like ``.mat`` files with word-level band values, in both formats, with the faults the real
files hold: a missing sentence (``word`` NaN), a one-word sentence (a bare struct under scipy's
squeeze), words never fixated (empty values), a rejected channel (NaN), malformed values, more
than 56 fixated words, a file without ``word`` field, word structs without the measure's fields."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from data.preprocess.word_features import BANDS, MEASURES
from data.synthetic import mat
from data.synthetic.mat import StructArray

Word = dict  # word struct fields -> values (None = an empty matrix)


def band_values(seed: int, measure: str) -> list[np.ndarray]:
    """The 8 band arrays (105 x 1, float32) of one fixated word under ``measure``."""
    rng = np.random.default_rng([seed, MEASURES.index(measure)])
    return [(rng.standard_normal((105, 1)) * (b + 1) + b).astype(np.float32) for b in range(len(BANDS))]


def fixated(content: str, seed: int, measures: Sequence[str] = MEASURES) -> Word:
    word: Word = {"content": content, "nFixations": 1.0}
    for measure in measures:
        word.update({f"{measure}_{b}": v for b, v in zip(BANDS, band_values(seed, measure))})
    return word


def never_fixated(content: str, measures: Sequence[str] = MEASURES) -> Word:
    return {"content": content, "nFixations": None,
            **{f"{m}_{b}": None for m in measures for b in BANDS}}


def expected_vector(seed: int, measure: str = "GD") -> np.ndarray:
    """What the reader must make of ``fixated(.., seed)``: bands concatenated, normalised (ddof 1)."""
    values = np.concatenate([v.astype(np.float64).ravel() for v in band_values(seed, measure)])
    return ((values - values.mean()) / values.std(ddof=1)).astype(np.float32)


def sentence(text: str, words: list[Word] | None) -> dict:
    """A sentence entry; ``words`` None = a missing sentence (rawData and word NaN)."""
    if words is None:
        return {"content": text, "rawData": np.nan, "word": np.nan}
    raw = np.random.default_rng(len(text)).standard_normal((105, 300)).astype(np.float32)
    raw[-1] = 0
    return {"content": text, "rawData": raw, "word": StructArray(words)}


def faulty_sentences() -> list[dict]:
    """Sentence 0: 3 words, the middle one never fixated; 1: missing; 2: one word; 3: 60 words;
    4: a word with a NaN channel, one with 100 values, one with constant values, one fixated."""
    nan_word = fixated("nan", 40)
    nan_word["GD_a1"] = nan_word["GD_a1"].copy()
    nan_word["GD_a1"][7] = np.nan
    short = fixated("short", 41)
    short["GD_b2"] = short["GD_b2"][:100]
    flat = fixated("flat", 42)
    flat.update({f"GD_{b}": np.ones((105, 1), np.float32) for b in BANDS})
    return [
        sentence("The film was good.", [fixated("The", 1), never_fixated("film"), fixated("good.", 3)]),
        sentence("A missing sentence.", None),
        sentence("Alone.", [fixated("Alone.", 5)]),
        sentence("Long " * 60, [fixated(f"w{k}", 100 + k) for k in range(60)]),
        sentence("Faults here.", [nan_word, short, flat, fixated("fine", 43)]),
    ]


def write_words_file(path: Path, sentences: list[dict], v73: bool) -> Path:
    """``sentences`` as ZuCo 1.0 (v5, scipy) or ZuCo 2.0 (v7.3, HDF5) ``sentenceData``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = list(sentences[0])
    if v73:
        with mat.MatV73Writer(path, fields) as writer:
            for entry in sentences:
                writer.add(entry)
    else:
        mat.write_v5(path, StructArray(sentences))
    return path
