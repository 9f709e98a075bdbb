"""Readers of the raw ZuCo files as they really are (layouts in ZUCO_FORMAT.md).

- ``find_raw_files``: the sentence-level ``.mat`` files of the raw-data tree (docs/protocol.md §inputs).
- ``read_sentences``: one ``SentenceRecord`` per sentence of a ``.mat`` file, ZuCo 1.0 (MATLAB v5/v7,
  scipy) or ZuCo 2.0 (MATLAB v7.3 = HDF5, h5py); the format is recognised from the file itself.
  A sentence without usable EEG, and a file that cannot be read at all, come out as records with
  a ``reason`` instead of raising, so one bad file never stops a run. The sizes a file declares
  are checked against what it holds before anything is allocated from them (``mat_sizes``). A
  ``words`` reader (such as ``data.preprocess.word_features.WordReader``) reads each sentence's
  ``word`` field in the same pass.
- ``read_*`` CSV readers of the task materials: CRLF / CR-only line ends, byte-order marks,
  comment lines, rows with a missing field and rows wider than their header are all handled
  without hand-correcting the files.
"""
from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from infra.errors import GLIMError
from data.preprocess.mat_sizes import check_v5, h5_read

ZUCO1, ZUCO2 = "ZuCo1", "ZuCo2"
SUBJECTS: dict[str, tuple[str, ...]] = {
    ZUCO1: ("ZAB", "ZDM", "ZDN", "ZGW", "ZJM", "ZJN", "ZJS", "ZKB", "ZKH", "ZKW", "ZMG", "ZPH"),
    ZUCO2: ("YAC", "YAG", "YAK", "YDG", "YDR", "YFR", "YFS", "YHS", "YIS", "YLS", "YMD", "YMS",
            "YRH", "YRK", "YRP", "YSD", "YSL", "YTL"),
}
EXCLUDED_SUBJECTS: dict[str, tuple[str, ...]] = {ZUCO1: (), ZUCO2: ("YMH",)}
TASK_DIRS: dict[str, dict[str, str]] = {
    ZUCO1: {"SR": "task1- SR", "NR": "task2 - NR", "TSR": "task3 - TSR"},
    ZUCO2: {"NR": "task1 - NR", "TSR": "task2 - TSR"},
}
"""Directory of each reading task under ``<raw>/<dataset>/`` (note ``task1- SR``)."""
TASK_NAMES: dict[str, dict[str, str]] = {
    ZUCO1: {"SR": "task1", "NR": "task2", "TSR": "task3"},
    ZUCO2: {"NR": "task2", "TSR": "task3"},
}
"""The task name used everywhere after reading (docs/protocol.md §inputs)."""
MATLAB_DIR = "Matlab files"
MAT_NAME = re.compile(r"^results(?P<subject>[A-Za-z0-9]+)_(?P<raw_task>SR|NR|TSR)\.mat$")
RAW_CHANNELS = 105


@dataclass(frozen=True)
class RawFile:
    """One sentence-level ``.mat`` file; ``problem`` says why it cannot be used, if it cannot."""

    path: Path
    dataset: str
    raw_task: str
    subject: str
    problem: str | None = None

    @property
    def task(self) -> str:
        return TASK_NAMES[self.dataset][self.raw_task]


@dataclass
class SentenceRecord:
    """One sentence of a ``.mat`` file.

    ``eeg`` is channels x time (105 x T on good data) or None; then ``reason`` says why
    (``detail`` adds specifics). ``index`` is the 0-based sentence index, None for a
    problem of the whole file. ``words``: what the ``words`` reader of ``read_sentences`` made
    of the sentence's ``word`` field (None without a reader).
    """

    file: Path
    index: int | None
    text: str | None
    eeg: np.ndarray | None = None
    reason: str | None = None
    detail: str = ""
    words: Any = None


def _squash(name: str) -> str:
    return re.sub(r"\s+", "", name).lower()


def task_dir(raw_dir: str | Path, dataset: str, raw_task: str) -> Path | None:
    """The ``Matlab files`` directory of a task, tolerating spacing variants of its name."""
    base = Path(raw_dir) / dataset
    wanted = _squash(TASK_DIRS[dataset][raw_task])
    if not base.is_dir():
        return None
    for child in sorted(base.iterdir()):
        if child.is_dir() and _squash(child.name) == wanted:
            mat_dir = child / MATLAB_DIR
            return mat_dir if mat_dir.is_dir() else child
    return None


def find_raw_files(raw_dir: str | Path) -> tuple[list[RawFile], list[str]]:
    """All ``.mat`` files of the raw tree in dataset, task, subject order, and the missing task dirs.

    Files with an unexpected name, an unknown or an excluded subject code come back with a
    ``problem`` so that they are reported, not silently skipped.
    """
    files: list[RawFile] = []
    missing: list[str] = []
    for dataset, tasks in TASK_DIRS.items():
        for raw_task, dir_name in tasks.items():
            directory = task_dir(raw_dir, dataset, raw_task)
            if directory is None:
                missing.append(f"{dataset}/{dir_name}/{MATLAB_DIR}")
                continue
            found = [_raw_file(path, dataset, raw_task) for path in directory.glob("*.mat")]
            order = {s: i for i, s in enumerate(SUBJECTS[dataset])}
            found.sort(key=lambda f: (order.get(f.subject, len(order)), f.path.name))
            files.extend(found)
    return files, missing


def _raw_file(path: Path, dataset: str, raw_task: str) -> RawFile:
    match = MAT_NAME.match(path.name)
    if match is None:
        return RawFile(path, dataset, raw_task, "?", "unexpected file name")
    subject = match["subject"]
    if match["raw_task"] != raw_task:
        return RawFile(path, dataset, raw_task, subject, f"{match['raw_task']} file in {raw_task} dir")
    if subject in EXCLUDED_SUBJECTS[dataset]:
        return RawFile(path, dataset, raw_task, subject, "excluded subject")
    if subject not in SUBJECTS[dataset]:
        return RawFile(path, dataset, raw_task, subject, "unknown subject code")
    return RawFile(path, dataset, raw_task, subject)


# ---------------------------------------------------------------------------------------------
# .mat files
# ---------------------------------------------------------------------------------------------

def read_sentences(path: str | Path, words: Callable[[Any], Any] | None = None) -> Iterator[SentenceRecord]:
    """Yield every sentence of a ZuCo ``.mat`` file (v5/v7 or v7.3) in file order.

    ``words``, when given, is called once per sentence with text, with the sentence's ``word``
    field (v5: the scipy value; v7.3: the h5py object its reference points to, or the exception
    raised resolving it; None when the file has no ``word`` field); its result is the record's
    ``words``. It must not raise."""
    import h5py

    path = Path(path)
    try:
        is_hdf5 = h5py.is_hdf5(path)
    except Exception as error:
        yield SentenceRecord(path, None, None, reason="unreadable file", detail=str(error))
        return
    yield from (_read_v73(path, words) if is_hdf5 else _read_v5(path, words))


def _eeg_array(value: Any, transpose: bool) -> tuple[np.ndarray | None, str | None, str]:
    """(eeg, reason, detail) of a ``rawData`` value: missing sentences are NaN scalars."""
    array = np.asarray(value)
    if array.dtype.kind not in "fiu":
        return None, "rawData not numeric", f"dtype {array.dtype}"
    if array.size == 0:
        return None, "empty EEG", ""
    if array.size == 1:
        return None, "no EEG (missing sentence)", ""
    if array.ndim != 2:
        return None, "rawData not 2-D", f"shape {array.shape}"
    return (array.T if transpose else array), None, ""


def _read_v5(path: Path, words: Callable[[Any], Any] | None = None) -> Iterator[SentenceRecord]:
    from scipy.io import loadmat
    from scipy.io.matlab import mat_struct

    try:
        check_v5(path)  # scipy allocates what a file declares: sizes checked against the file first
        mat = loadmat(path, squeeze_me=True, struct_as_record=False, variable_names=["sentenceData"])
    except Exception as error:  # scipy raises many kinds on truncated or foreign files
        yield SentenceRecord(path, None, None, reason="unreadable file",
                             detail=f"{type(error).__name__}: {error}")
        return
    data = mat.get("sentenceData")
    if data is None:
        yield SentenceRecord(path, None, None, reason="missing field", detail="sentenceData")
        return
    sentences = [data] if isinstance(data, mat_struct) else list(np.atleast_1d(data))
    fields = set(getattr(sentences[0], "_fieldnames", ())) if sentences else set()
    for field in ("content", "rawData"):
        if field not in fields:
            yield SentenceRecord(path, None, None, reason="missing field", detail=field)
            return
    for index, sentence in enumerate(sentences):
        text = _v5_text(getattr(sentence, "content", None))
        if text is None:
            yield SentenceRecord(path, index, None, reason="content not text")
            continue
        eeg, reason, detail = _eeg_array(getattr(sentence, "rawData", np.nan), transpose=False)
        yield SentenceRecord(path, index, text, eeg, reason, detail,
                             words(getattr(sentence, "word", None)) if words is not None else None)


def _v5_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    array = np.asarray(value)
    if array.size == 0:
        return ""
    if array.dtype.kind == "U":
        return "".join(array.ravel().tolist())
    return None


def _read_v73(path: Path, words: Callable[[Any], Any] | None = None) -> Iterator[SentenceRecord]:
    import h5py

    try:
        handle = h5py.File(path, "r")
    except Exception as error:
        yield SentenceRecord(path, None, None, reason="unreadable file",
                             detail=f"{type(error).__name__}: {error}")
        return
    with handle:
        try:  # a damaged symbol table fails already when looking names up
            group = handle.get("sentenceData")
            missing = ("sentenceData" if not isinstance(group, h5py.Group) else
                       next((f for f in ("content", "rawData") if f not in group), None))
            if missing is None:
                contents = np.asarray(h5_read(group["content"])).ravel()
                raws = np.asarray(h5_read(group["rawData"])).ravel()
                word_refs = (np.asarray(h5_read(group["word"])).ravel()
                             if words is not None and "word" in group else None)
        except Exception as error:
            yield SentenceRecord(path, None, None, reason="unreadable file",
                                 detail=f"{type(error).__name__}: {error}")
            return
        if missing is not None:
            yield SentenceRecord(path, None, None, reason="missing field", detail=missing)
            return
        for index in range(max(len(contents), len(raws))):
            record = _v73_sentence(handle, path, index, contents, raws)
            if words is not None and record.text is not None:
                record.words = words(_v73_word(handle, word_refs, index))
            yield record


def _v73_word(handle: Any, refs: np.ndarray | None, index: int) -> Any:
    """What sentence ``index``'s ``word`` reference points to: None without the field, the
    exception when the reference cannot be resolved."""
    if refs is None or index >= len(refs):
        return None
    try:
        return handle[refs[index]]
    except Exception as error:  # a dangling reference spoils this sentence's words only
        return error


def _v73_sentence(handle: Any, path: Path, index: int, contents: np.ndarray,
                  raws: np.ndarray) -> SentenceRecord:
    if index >= len(contents):
        return SentenceRecord(path, index, None, reason="missing field", detail="content")
    if index >= len(raws):
        return SentenceRecord(path, index, None, reason="missing field", detail="rawData")
    try:
        text = _h5_text(handle[contents[index]])
        if text is None:
            return SentenceRecord(path, index, None, reason="content not text")
        target = handle[raws[index]]
        if "MATLAB_empty" in target.attrs and target.attrs["MATLAB_empty"]:
            return SentenceRecord(path, index, text, reason="empty EEG")
        eeg, reason, detail = _eeg_array(h5_read(target), transpose=True)
        return SentenceRecord(path, index, text, eeg, reason, detail)
    except Exception as error:  # a dangling reference or a damaged chunk spoils this sentence only
        return SentenceRecord(path, index, None, reason="unreadable sentence",
                              detail=f"{type(error).__name__}: {error}")


def _h5_text(dataset: Any) -> str | None:
    """A MATLAB char array stored by v7.3: uint16 codes, or an empty marker."""
    if "MATLAB_empty" in dataset.attrs and dataset.attrs["MATLAB_empty"]:
        return ""
    codes = np.asarray(h5_read(dataset))
    if codes.dtype.kind not in "iu":
        return None
    return "".join(map(chr, codes.ravel().tolist()))


# ---------------------------------------------------------------------------------------------
# task-material CSV files
# ---------------------------------------------------------------------------------------------

def read_csv_rows(path: str | Path, delimiter: str) -> list[list[str]]:
    """Rows of a CSV file whatever its line ends and BOM; comment (``#``) and blank rows dropped."""
    raw = Path(path).read_bytes()
    text = raw.decode("utf-8-sig", errors="replace")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    rows = []
    for row in csv.reader(io.StringIO(text), delimiter=delimiter):
        if not row or all(not cell.strip() for cell in row):
            continue
        if row[0].lstrip().startswith("#"):
            continue
        rows.append(row)
    return rows


class MaterialError(GLIMError, ValueError):
    """A task-material file cannot be parsed; the message names the file."""


def _per_file(read: Callable[..., pd.DataFrame]) -> Callable[..., pd.DataFrame]:
    """Let a reader's parse errors name the file: ``MaterialError("<path>: ...")``."""
    @functools.wraps(read)
    def wrapper(path: str | Path, *args: Any, **kwargs: Any) -> pd.DataFrame:
        try:
            return read(path, *args, **kwargs)
        except MaterialError:
            raise
        except (ValueError, csv.Error) as error:
            raise MaterialError(f"{path}: {error}") from None
    return wrapper


def _split(row: list[str], lead: int, trail: int, delimiter: str) -> tuple[list[str], str, list[str]]:
    """Leading fields, the sentence (re-joined if it held unquoted delimiters), trailing fields."""
    if len(row) < lead + trail + 1:
        raise ValueError(f"a row has {len(row)} fields, at least {lead + trail + 1} expected: "
                         f"{delimiter.join(row)[:60]!r}")
    end = len(row) - trail
    return ([c.strip() for c in row[:lead]], delimiter.join(row[lead:end]),
            [c.strip() for c in row[end:]])


def _is_header(row: Sequence[str], first: str) -> bool:
    return bool(row) and row[0].strip().lower() == first


@_per_file
def read_sentiment_task1(path: str | Path) -> pd.DataFrame:
    """ZuCo 1.0 ``sentiment_labels_task1.csv``: sentence_id, sentence, control, sentiment_label.

    Rows whose quoted sentence contains ``;`` lack the control field in the real file.
    """
    out = []
    for row in read_csv_rows(path, ";"):
        if _is_header(row, "sentence_id"):
            continue
        if len(row) == 3:
            (sid,), sentence, (label,) = _split(row, 1, 1, ";")
            control = ""
        else:
            (sid,), sentence, (control, label) = _split(row, 1, 2, ";")
        out.append((sid, sentence, control.upper() == "CONTROL", label))
    return pd.DataFrame(out, columns=["sentence_id", "sentence", "control", "label"])


@_per_file
def read_relations_task2(path: str | Path) -> pd.DataFrame:
    """ZuCo 1.0 ``relations_labels_task2.csv``: sentence_id, paragraph_id, sentence, control,
    relation_types (``;``-joined types or ``NO-RELATION``)."""
    out = []
    for row in read_csv_rows(path, ","):
        if _is_header(row, "sentence_id"):
            continue
        (sid, pid), sentence, (control, label) = _split(row, 2, 2, ",")
        out.append((sid, pid, sentence, control.upper() == "CONTROL", label))
    return pd.DataFrame(out, columns=["sentence_id", "paragraph_id", "sentence", "control", "label"])


@_per_file
def read_relations_task3(path: str | Path) -> pd.DataFrame:
    """ZuCo 1.0 ``relations_labels_task3.csv``: a 3-field header over 4-field rows
    ``sentence_id;n;sentence;relation`` (3-field rows ``id;sentence;relation`` are accepted too)."""
    out = []
    for row in read_csv_rows(path, ";"):
        if _is_header(row, "sentence_id"):
            continue
        if len(row) == 3:
            (sid,), sentence, (label,) = _split(row, 1, 1, ";")
            number = ""
        else:
            (sid, number), sentence, (label,) = _split(row, 2, 1, ";")
        out.append((sid, number, sentence, label))
    return pd.DataFrame(out, columns=["sentence_id", "paragraph_id", "sentence", "label"])


@_per_file
def read_nr(path: str | Path) -> pd.DataFrame:
    """ZuCo 2.0 ``nr_{k}.csv``: no header, ``paragraph_id;sentence_id;sentence;control``."""
    out = []
    for row in read_csv_rows(path, ";"):
        if _is_header(row, "paragraph_id"):
            continue
        if len(row) == 3:
            (pid, sid), sentence, _ = _split(row, 2, 0, ";")
            control = ""
        else:
            (pid, sid), sentence, (control,) = _split(row, 2, 1, ";")
        out.append((pid, sid, sentence, control.upper() == "CONTROL"))
    return pd.DataFrame(out, columns=["paragraph_id", "sentence_id", "sentence", "control"])


CONTROL_QUESTION_COLUMNS = ("paragraph_id", "sentence_id", "control_question", "correct_answer")


@_per_file
def read_nr_control_questions(path: str | Path) -> pd.DataFrame:
    """ZuCo 2.0 ``nr_{k}_control_questions.csv``: ``;`` with a header naming at least
    paragraph_id, sentence_id, control_question and correct_answer (in any order)."""
    rows = read_csv_rows(path, ";")
    if rows and "paragraph_id" in [c.strip().lower() for c in rows[0]]:
        header = [c.strip().lower() for c in rows[0]]
        rows = rows[1:]
    else:
        header = list(CONTROL_QUESTION_COLUMNS)
    missing = [c for c in CONTROL_QUESTION_COLUMNS if c not in header]
    if missing:
        raise MaterialError(f"{path}: header lacks {missing}")
    positions = [header.index(c) for c in CONTROL_QUESTION_COLUMNS]
    out = [tuple(row[p].strip() if p < len(row) else "" for p in positions) for row in rows]
    return pd.DataFrame(out, columns=list(CONTROL_QUESTION_COLUMNS))


@_per_file
def read_tsr(path: str | Path) -> pd.DataFrame:
    """ZuCo 2.0 ``tsr_{k}.csv``: no header, ``paragraph_id;sentence_id;sentence;label``."""
    out = []
    for row in read_csv_rows(path, ";"):
        if _is_header(row, "paragraph_id"):
            continue
        (pid, sid), sentence, (label,) = _split(row, 2, 1, ";")
        out.append((pid, sid, sentence, label))
    return pd.DataFrame(out, columns=["paragraph_id", "sentence_id", "sentence", "label"])
