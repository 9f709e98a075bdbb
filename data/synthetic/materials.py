"""Write the task-material CSV files of a synthetic corpus in the layouts ZuCo ships.

ZuCo1 files keep the real format errors a reader must cope with: CRLF line ends; in
``sentiment_labels_task1.csv`` a comment as line 2 and quoted sentences containing ``;`` that
lack the control field; in ``relations_labels_task3.csv`` 4-field rows under a 3-field header;
``duplicate_sentences.csv`` with a byte-order mark and CR-only line ends. ZuCo2 files follow
ZUCO_FORMAT.md (``nr_{i}.csv``, ``nr_{i}_control_questions.csv``, ``tsr_{i}.csv``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from data.synthetic.plan import CorpusPlan, TaskPlan

TASK1_HEADER = "sentence_id;sentence;control;sentiment_label"
TASK1_COMMENT = "# -1 = negative, 0 = neutral, 1 = positive"
TASK2_HEADER = "sentence_id,paragraph_id,sentence,control,relation_types"
TASK3_HEADER = "sentence_id;sentence;relation-type"
DUPLICATES_HEADER = "sentence,sentence-id-normal-reading,sentence-id-task-specific-reading"
QUESTIONS_HEADER = "paragraph_id;sentence_id;control_question;answer1;answer2;answer3;correct_answer"


def quote(text: str, delimiter: str) -> str:
    """CSV-quote a field that holds the delimiter or a double quote."""
    if delimiter in text or '"' in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _write(path: Path, lines: Iterable[str], newline: str = "\r\n", trailing: bool = True,
           bom: bool = False) -> Path:
    text = newline.join(lines) + (newline if trailing else "")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def _task1_line(sid: int, text: str, control: bool, label: str) -> str:
    if ";" in text:  # as in ZuCo: the quoted sentence is followed by the label only
        return f'{sid};{quote(text, ";")};{label}'
    return f"{sid};{text};{'CONTROL' if control else ''};{label}"


def write_zuco1_materials(plan: CorpusPlan, folder: Path) -> list[Path]:
    sr, nr, tsr = plan.tasks[:3]
    folder.mkdir(parents=True, exist_ok=True)
    out = [
        _write(folder / "sentiment_labels_task1.csv", [TASK1_HEADER, TASK1_COMMENT] + [
            _task1_line(r.ids[0], r.sentence.csv_text, r.control, r.csv_label) for r in sr.rows]),
        _write(folder / "relations_labels_task2.csv", [TASK2_HEADER] + [
            f"{r.ids[0]},{r.ids[1]},{quote(r.sentence.csv_text, ',')},"
            f"{'CONTROL' if r.control else ''},{r.csv_label}" for r in nr.rows]),
        _write(folder / "relations_labels_task3.csv", [TASK3_HEADER] + [
            f"{r.ids[0]};{r.ids[1]};{quote(r.sentence.csv_text, ';')};{r.csv_label}"
            for r in tsr.rows]),
        _write(folder / "duplicate_sentences.csv", [DUPLICATES_HEADER] + [
            f"{quote(a.sentence.csv_text, ',')},{a.ids[0]}-{a.ids[1]},{b.ids[0]}-{b.ids[1]}"
            for a, b in plan.duplicates], newline="\r", trailing=False, bom=True),
    ]
    return out


def _zuco2_file_rows(tp: TaskPlan, no: int) -> list:
    return [r for r in tp.rows if r.file_no == no]


def write_zuco2_materials(plan: CorpusPlan, folder: Path) -> list[Path]:
    nr, tsr = plan.tasks[3:]
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for no in range(1, 8):
        rows = _zuco2_file_rows(nr, no)
        out.append(_write(folder / f"nr_{no}.csv", [
            f"{r.ids[0]};{r.ids[1]};{quote(r.sentence.csv_text, ';')};{r.csv_label}" for r in rows],
            newline="\n"))
        out.append(_write(folder / f"nr_{no}_control_questions.csv", [QUESTIONS_HEADER] + [
            ";".join([str(r.ids[0]), str(r.ids[1]), r.question[0], *r.question[1], r.question[2]])
            for r in rows if r.question], newline="\n"))
        out.append(_write(folder / f"tsr_{no}.csv", [
            f"{r.ids[0]};{r.ids[1]};{quote(r.sentence.csv_text, ';')};{r.csv_label}"
            for r in _zuco2_file_rows(tsr, no)], newline="\n"))
    return out


def write_labels(rows: list[dict[str, Any]], path: Path) -> Path:
    """The label table as JSON lines (one object per row, columns in LABEL_COLUMNS order)."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path
