"""The ``sentenceData`` entries of a synthetic subject file (ZuCo1 and ZuCo2 field layouts)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from data.synthetic.eeg import (
    BANDS,
    SubjectProfile,
    WordReading,
    band_means,
    fixate,
    read_sentence,
    word_bands,
    word_measures,
)
from data.synthetic.mat import Cell, StructArray
from data.synthetic.text import Sentence

MEAN_FIELDS = tuple(f"mean_{b}" for b in BANDS)
NAN_ROW_RATE = 0.01  # sentences with one rejected (all-NaN) channel


def sentence_fields(dataset: str, suffix: str) -> list[str]:
    """Field order of ``sentenceData`` for a dataset and task suffix (SR/NR/TSR)."""
    answer = [f"answer_{m}" for m in MEAN_FIELDS] if (dataset, suffix) == ("ZuCo1", "SR") else []
    return ["content", "rawData", *MEAN_FIELDS, *answer, "omissionRate", "word"]


def _eye_track(wr: WordReading, index: int) -> Cell:
    """Per fixation a 4 x t array: gaze x, gaze y, pupil size, time (ms)."""
    out = Cell()
    for a, b in wr.fixations:
        t = np.arange(a, b, dtype=np.float32)
        out.append(np.stack([np.full_like(t, 120.0 + 60.0 * index), np.full_like(t, 400.0),
                             np.full_like(t, wr.pupil), 2.0 * t]))
    return out


def word_band_fields(dataset: str, wr: WordReading, data: np.ndarray,
                     measures: bool | Sequence[str] = True) -> dict[str, np.ndarray | None]:
    """The per-band word fields of a dataset's files: every measure ZuCo holds (``True``: ZuCo1
    FFD TRT GD; ZuCo2 FFD GD GPT TRT with their ``_diff`` fields), or only ``measures`` (e.g.
    ``("GD",)``, what the BrainTranslator baseline reads: a corpus 8 fields per word larger, not 24 or 64)."""
    if measures is True:
        metrics = ("FFD", "TRT", "GD") if dataset == "ZuCo1" else ("FFD", "GD", "GPT", "TRT")
        return word_bands(wr, data, metrics, diff=dataset == "ZuCo2")
    return word_bands(wr, data, tuple(measures))


def _word(dataset: str, suffix: str, wr: WordReading, index: int, data: np.ndarray,
          word_features: bool | Sequence[str]) -> dict[str, Any]:
    fixated = bool(wr.fixations)
    m = word_measures(wr)
    w: dict[str, Any] = {
        "content": wr.content,
        "nFixations": float(len(wr.fixations)) if fixated else None,
        "fixPositions": np.array([wr.positions], float) if fixated else None,
    }
    order = ("FFD", "TRT", "GD", "GPT", "SFD") if dataset == "ZuCo1" else ("FFD", "GD", "GPT", "TRT", "SFD")
    for key in order:
        if key == "SFD" and (dataset, suffix) == ("ZuCo2", "TSR"):
            continue  # ZuCo2 files do not all have SFD
        w[key] = m[key]
    if dataset == "ZuCo1":
        w["meanPupilSize"] = wr.pupil if fixated else None
    w["rawEEG"] = Cell(data[:, a:b] for a, b in wr.fixations) if fixated else None
    w["rawET"] = _eye_track(wr, index) if fixated else None
    if word_features:
        w.update(word_band_fields(dataset, wr, data, word_features))
    return w


def missing_sentence(dataset: str, suffix: str, sentence: Sentence) -> dict[str, Any]:
    """A sentence not recorded: its slot stays, data fields are NaN."""
    fields = sentence_fields(dataset, suffix)
    return {f: (sentence.mat_text if f == "content" else float("nan")) for f in fields}


def recorded_sentence(dataset: str, suffix: str, sentence: Sentence, profile: SubjectProfile,
                      rng: np.random.Generator, signal_to_noise: float,
                      word_features: bool | Sequence[str] = True) -> dict[str, Any]:
    """Simulate one reading of ``sentence`` and lay it out as a ``sentenceData`` entry."""
    words = sentence.words
    reading = read_sentence(words, profile, rng, signal_to_noise)
    data = reading.data
    if rng.random() < NAN_ROW_RATE:
        data[int(rng.integers(0, data.shape[0] - 1))] = np.nan
    readings = fixate(words, reading, rng)
    out: dict[str, Any] = {"content": sentence.mat_text, "rawData": data}
    means = band_means(np.nan_to_num(data))
    out.update(means)
    if (dataset, suffix) == ("ZuCo1", "SR"):
        out.update({f"answer_{k}": v * np.float32(0.9) for k, v in means.items()})
    out["omissionRate"] = float(np.mean([not wr.fixations for wr in readings]))
    out["word"] = StructArray(_word(dataset, suffix, wr, i, data, word_features)
                              for i, wr in enumerate(readings))
    return {f: out[f] for f in sentence_fields(dataset, suffix)}
