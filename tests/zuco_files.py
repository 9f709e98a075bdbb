"""Tiny ZuCo-like files for the tests: MATLAB v5 (scipy) and v7.3 (HDF5 with the 512-byte MATLAB
header) sentence files, task-material CSVs in their real quirky formats, and a small raw tree."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from data.preprocess.steps import build_label_table, read_texts_labels, record_phases
from data.store import VARIANT_COLUMNS
from data.synthetic import mat
from data.synthetic.mat import StructArray

Sentence = tuple[str, "np.ndarray | None"]  # (content, rawData 105 x T or None for a missing one)


def eeg(n_samples: int, seed: int = 0, channels: int = 105, dtype=np.float32) -> np.ndarray:
    """Random channels x time EEG with the all-zero last channel of ZuCo."""
    data = np.random.default_rng(seed).standard_normal((channels, n_samples)).astype(dtype)
    data[-1] = 0
    return data


def _struct(sentences: Sequence[Sentence], fields: Sequence[str]) -> StructArray:
    """The ``sentenceData`` struct array of ``sentences``: ``rawData`` and ``word`` NaN when missing."""
    rows = StructArray()
    for text, raw in sentences:
        values = {"content": text, "rawData": np.nan if raw is None else raw,
                  "word": np.nan if raw is None else np.zeros((1, 1))}
        rows.append({f: values.get(f, np.zeros(1)) for f in fields})
    return rows


def write_v5(path: Path, sentences: Sequence[Sentence], fields: Sequence[str] = ("content", "rawData", "word")) -> Path:
    """A ZuCo 1.0 style ``sentenceData`` struct array (the synthetic corpus's v5 writer)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mat.write_v5(path, _struct(sentences, fields), compress=True)
    return path


def write_v73(path: Path, sentences: Sequence[Sentence], fields: Sequence[str] = ("content", "rawData", "word")) -> Path:
    """A ZuCo 2.0 style v7.3 file (the synthetic corpus's HDF5 writer): reference datasets (N, 1),
    transposed arrays, uint16 text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with mat.MatV73Writer(path, fields) as writer:
        for sentence in _struct(sentences, fields):
            writer.add(sentence)
    return path


def write_lines(path: Path, lines: Sequence[str], newline: str = "\r\n", bom: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = newline.join(lines) + newline
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data.encode("utf-8"))
    return path


def _quote(text: str, delimiter: str) -> str:
    return f'"{text}"' if delimiter in text or '"' in text else text


# texts of the tiny corpus: (text, label); task1 labels are sentiments, others relations
TASK1 = [("A gentle film; it works.", "1"), ("Slow, silly and unintentionally hilarious.", "0"),
         ("Ultimately feels emp11111ty and unsatisfying.", "-1"), ("The film often achieves poetry.", "1")]
TASK1_CONTROL = {1}
ZUCO2_NR = [("Henry Ford was born on a farm.", ""), ("He founded the Ford Motor Company.", "CONTROL"),
            ("Ford married Clara Bryant.", ""), ("He died in 1947.", "")]
ZUCO2_QUESTIONS = {(1, 2): ("Ford founded the...", "Ford Motor Company")}


def write_materials(zuco1: Path, zuco2: Path) -> None:
    """Task-material CSVs for the tiny corpus, with the quirks of the real files."""
    lines = ["sentence_id;sentence;control;sentiment_label", "# -1 = negative, 0 = neutral, 1 = positive"]
    for i, (text, label) in enumerate(TASK1):
        control = "CONTROL" if i in TASK1_CONTROL else ""
        lines.append(f"{i};{_quote(text, ';')};{label}" if ";" in text else f"{i};{text};{control};{label}")
    write_lines(zuco1 / "sentiment_labels_task1.csv", lines)
    nr = [f"1;{j + 1};{text};{control}" for j, (text, control) in enumerate(ZUCO2_NR)]
    write_lines(zuco2 / "nr_1.csv", nr)
    questions = ["paragraph_id;sentence_id;control_question;correct_answer"] + [
        f"{p};{s};{q};{a}" for (p, s), (q, a) in ZUCO2_QUESTIONS.items()]
    write_lines(zuco2 / "nr_1_control_questions.csv", questions, newline="\r", bom=True)


def dummy_variants(labels: pd.DataFrame) -> pd.DataFrame:
    """Stand-in text variants: the input text with a variant number."""
    return pd.DataFrame({c: [f"{t} (variant {k})" for t in labels["input text"]]
                         for k, c in enumerate(VARIANT_COLUMNS)})


def write_corpus(raw: Path, zuco1_subjects: Sequence[str] = ("ZAB", "ZDM"),
                 zuco2_subjects: Sequence[str] = ("YAC",), lengths: Sequence[int] = (600, 900, 1500, 2600),
                 seed: int = 0) -> Path:
    """A small raw tree: ZuCo1 SR (v5) and ZuCo2 NR (v7.3) files plus their task materials."""
    write_materials(raw / "ZuCo1" / "task_materials", raw / "ZuCo2" / "task_materials")
    for s, subject in enumerate(zuco1_subjects):
        sentences = [(text, eeg(lengths[i % len(lengths)], seed + 10 * s + i)) for i, (text, _) in enumerate(TASK1)]
        write_v5(raw / "ZuCo1" / "task1- SR" / "Matlab files" / f"results{subject}_SR.mat", sentences)
    for s, subject in enumerate(zuco2_subjects):
        sentences = [(text, eeg(lengths[i % len(lengths)], seed + 100 + 10 * s + i, dtype=np.float64))
                     for i, (text, _) in enumerate(ZUCO2_NR)]
        write_v73(raw / "ZuCo2" / "task1 - NR" / "Matlab files" / f"results{subject}_NR.mat", sentences)
    return raw


def corpus_labels(raw: Path) -> pd.DataFrame:
    """The complete label table of ``write_corpus``'s tree (texts, labels, uids, dummy variants)."""
    rows = read_texts_labels(raw / "ZuCo1" / "task_materials", raw / "ZuCo2" / "task_materials")
    return build_label_table(rows, dummy_variants)


def phases_of(records: pd.DataFrame, labels: pd.DataFrame) -> pd.Series:
    """``record_phases`` of a table of matched records (``dataset``, ``task``, ``text uid`` in
    record order) with the label table ``labels``, as a Series on the records' index."""
    keys = list(records[["dataset", "task", "text uid"]].itertuples(index=False, name=None))
    return pd.Series(record_phases(keys, labels["text uid"].tolist()), index=records.index, dtype=object)
