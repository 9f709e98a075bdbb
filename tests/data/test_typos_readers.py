"""The typo book and the readers of ZuCo .mat files and task-material CSVs."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from data.preprocess.readers import (
    find_raw_files,
    read_csv_rows,
    read_nr,
    read_nr_control_questions,
    read_relations_task2,
    read_relations_task3,
    read_sentences,
    read_sentiment_task1,
    read_tsr,
)
from data.preprocess.typos import MAT_TYPOS, TYPOS, revise
from tests.zuco_files import eeg, write_lines, write_v5, write_v73

# ---- typo book -------------------------------------------------------------------------------


def test_revise_applies_the_book_in_order() -> None:
    assert revise("Ultimately feels emp11111ty.") == "Ultimately feels empty."
    assert revise("Paul\u2019s film.1") == "Paul's film."
    assert revise("Andrew Joseph Clooney") == "Andrew Jos\u00e9ph Clooney"  # as published
    assert revise("Mileva Maria") == "Mileva Mari\u0107"
    assert revise("Ginsberg (IPA: /?g?nz?b?g/) (June 3, 1926") == "Ginsberg (June 3, 1926"
    assert revise("``si, pretty much''") == "`'si, pretty much''"
    assert revise('pronounced ""Canes""') == 'pronounced "Canes"'


def test_mat_only_replacements() -> None:
    text = "111Senator Creteil King Leopold 40 km\ufffd"
    assert revise(text, from_mat=False) == text
    assert revise(text, from_mat=True) == "Senator Cr\u00e9teil King L\u00e9opold 40 km\u00b2"


def _code_spans(markdown: str) -> list[str]:
    """Contents of the markdown code spans; the edge spaces that pad a backtick are dropped."""
    spans = [m.group(2) for m in re.finditer(r"(`+)(.+?)(?<!`)\1(?!`)", markdown)]
    return [s[1:-1] if s[:2] == " `" or s[-2:] == "` " else s for s in spans]


def test_typo_book_equals_the_reference_list(shared_dir: Path) -> None:
    """The typo book as the reference description beside the repository lists it."""
    spec = (shared_dir / "SPEC.md").read_text(encoding="utf-8")
    start = spec.index("Typo book")
    block = spec[start:spec.index("\n", spec.index("King Leopold", start))].replace("\n  ", " ")
    pairs = [tuple(span.split("\u2192")) for span in _code_spans(block) if "\u2192" in span]
    assert tuple(pairs) == TYPOS + MAT_TYPOS


# ---- .mat files --------------------------------------------------------------------------------


def test_v5_round_trip_and_missing_sentence(tmp_path: Path) -> None:
    a, b = eeg(300, 1), eeg(420, 2, dtype=np.float64)
    path = write_v5(tmp_path / "resultsZAB_SR.mat", [("First one.", a), ("Gone.", None), ("Third.", b)])
    records = list(read_sentences(path))
    assert [r.index for r in records] == [0, 1, 2]
    assert [r.text for r in records] == ["First one.", "Gone.", "Third."]
    np.testing.assert_array_equal(records[0].eeg, a)
    assert records[0].eeg.dtype == np.float32 and records[2].eeg.dtype == np.float64
    np.testing.assert_array_equal(records[2].eeg, b)
    assert records[1].eeg is None and records[1].reason == "no EEG (missing sentence)"


def test_v5_single_sentence_is_a_bare_struct(tmp_path: Path) -> None:
    path = write_v5(tmp_path / "one.mat", [("Only.", eeg(260))])
    (record,) = read_sentences(path)
    assert record.text == "Only." and record.eeg.shape == (105, 260)


def test_v5_missing_field_is_one_file_record(tmp_path: Path) -> None:
    path = write_v5(tmp_path / "nofield.mat", [("A.", eeg(300)), ("B.", eeg(300))], fields=("content", "word"))
    (record,) = read_sentences(path)
    assert record.index is None and record.reason == "missing field" and record.detail == "rawData"


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_files_give_one_record(tmp_path: Path, damage: str) -> None:
    path = write_v5(tmp_path / "bad.mat", [("A.", eeg(3000, 1)), ("B.", eeg(3000, 2))])
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00junk" * 100, "empty": b""}[damage])
    records = list(read_sentences(path))
    assert len(records) == 1 and records[0].index is None and records[0].reason == "unreadable file"


def test_v73_round_trip_transposed_uint16_and_empty(tmp_path: Path) -> None:
    a = eeg(300, 3, dtype=np.float64)
    path = write_v73(tmp_path / "resultsYAC_NR.mat",
                     [("Caf\u00e9 r\u00e9sum\u00e9.", a), ("Missing.", None), ("", eeg(280, 4))])
    assert path.read_bytes()[:10] == b"MATLAB 7.3" and path.read_bytes()[126:128] == b"IM"
    records = list(read_sentences(path))
    assert [r.text for r in records] == ["Caf\u00e9 r\u00e9sum\u00e9.", "Missing.", ""]
    np.testing.assert_array_equal(records[0].eeg, a)  # (T, 105) on disk, 105 x T read
    assert records[1].reason == "no EEG (missing sentence)"
    assert records[2].eeg.shape == (105, 280)


def test_v73_truncated_and_missing_field(tmp_path: Path) -> None:
    path = write_v73(tmp_path / "t.mat", [("A.", eeg(2000, 1)), ("B.", eeg(2000, 2))])
    path.write_bytes(path.read_bytes()[:4000])
    records = list(read_sentences(path))
    assert len(records) == 1 and records[0].reason == "unreadable file"
    path = write_v73(tmp_path / "f.mat", [("A.", eeg(300))], fields=("content", "word"))
    (record,) = read_sentences(path)
    assert record.reason == "missing field" and record.detail == "rawData"


def test_find_raw_files_layout_and_problems(tmp_path: Path) -> None:
    sr = tmp_path / "ZuCo1" / "task1- SR" / "Matlab files"
    nr2 = tmp_path / "ZuCo2" / "task1  -  NR" / "Matlab files"  # spacing variants are accepted
    for path in [sr / "resultsZDM_SR.mat", sr / "resultsZAB_SR.mat", sr / "resultsXYZ_SR.mat",
                 sr / "notes.mat", nr2 / "resultsYMH_NR.mat", nr2 / "resultsYAC_NR.mat"]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    files, missing = find_raw_files(tmp_path)
    assert [(f.path.name, f.dataset, f.task, f.problem) for f in files] == [
        ("resultsZAB_SR.mat", "ZuCo1", "task1", None),
        ("resultsZDM_SR.mat", "ZuCo1", "task1", None),
        ("notes.mat", "ZuCo1", "task1", "unexpected file name"),
        ("resultsXYZ_SR.mat", "ZuCo1", "task1", "unknown subject code"),
        ("resultsYAC_NR.mat", "ZuCo2", "task2", None),
        ("resultsYMH_NR.mat", "ZuCo2", "task2", "excluded subject"),
    ]
    assert missing == ["ZuCo1/task2 - NR/Matlab files", "ZuCo1/task3 - TSR/Matlab files",
                       "ZuCo2/task2 - TSR/Matlab files"]


# ---- task-material CSVs --------------------------------------------------------------------------


def test_sentiment_csv_quirks(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "s.csv", [
        "sentence_id;sentence;control;sentiment_label", "# -1 = negative, 0 = neutral, 1 = positive",
        "5;Presents a good case.;;0", '87;"Thin slice; little.";-1', "8;Slow, silly.;CONTROL;0"])
    table = read_sentiment_task1(path)
    assert table.values.tolist() == [["5", "Presents a good case.", False, "0"],
                                     ["87", "Thin slice; little.", False, "-1"],
                                     ["8", "Slow, silly.", True, "0"]]


def test_cr_only_bom_and_wide_rows(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "d.csv", ["sentence,a,b", '"He formed a company, too.",5-4,231-4'],
                       newline="\r", bom=True)
    assert read_csv_rows(path, ",") == [["sentence", "a", "b"], ["He formed a company, too.", "5-4", "231-4"]]
    path = write_lines(tmp_path / "t3.csv", ["sentence_id;sentence;relation-type", "38;1;He won it.;AWARD",
                                             "4;2;The Foundation grew.;CONTROL"])
    assert read_relations_task3(path)[["sentence", "label"]].values.tolist() == [
        ["He won it.", "AWARD"], ["The Foundation grew.", "CONTROL"]]


def test_zuco2_layouts(tmp_path: Path) -> None:
    nr = read_nr(write_lines(tmp_path / "nr_1.csv", ["1;1;Henry Ford was born.;", "1;2;He founded it.;CONTROL"]))
    assert nr.values.tolist() == [["1", "1", "Henry Ford was born.", False], ["1", "2", "He founded it.", True]]
    questions = read_nr_control_questions(write_lines(
        tmp_path / "q.csv", ["sentence_id;paragraph_id;control_question;correct_answer", "2;1;He founded...;Ford"]))
    assert questions.values.tolist() == [["1", "2", "He founded...", "Ford"]]
    tsr = read_tsr(write_lines(tmp_path / "tsr_1.csv", ["3;1;She married him.;WIFE", "3;2;Rain fell.;CONTROL"]))
    assert tsr[["sentence", "label"]].values.tolist() == [["She married him.", "WIFE"], ["Rain fell.", "CONTROL"]]


def test_real_task_materials(shared_dir: Path) -> None:
    materials = shared_dir / "zuco" / "task_materials"
    task1 = read_sentiment_task1(materials / "sentiment_labels_task1.csv")
    task2 = read_relations_task2(materials / "relations_labels_task2.csv")
    task3 = read_relations_task3(materials / "relations_labels_task3.csv")
    assert (len(task1), len(task2), len(task3)) == (400, 300, 407)
    assert task1["control"].sum() == 45 and set(task1["label"]) == {"-1", "0", "1"}
    assert (task3["label"] == "CONTROL").sum() == 72
    for table in (task1, task2, task3):
        assert table["sentence"].str.len().min() > 0
        assert not table["sentence"].str.contains("\r|\n").any()
    duplicates = read_csv_rows(materials / "duplicate_sentences.csv", ",")
    assert duplicates[0][0] == "sentence" and len(duplicates) > 10
