"""The held-out-subject split protocols of `data.prepare --split` (data.preprocess.split)."""
from __future__ import annotations

from pathlib import Path

import pytest

from data.preprocess import prepare
from data.preprocess.split import EXCLUDED, SplitError, SplitProtocol, parse_split, subject_phases
from data.preprocess.steps import save_label_table
from data.store import open_store
from tests.zuco_files import corpus_labels, write_corpus


def test_parse_split() -> None:
    assert parse_split("sentences") == SplitProtocol()
    assert parse_split("subjects:ZAB, ZDM") == SplitProtocol("subjects", ("ZAB", "ZDM"))
    assert parse_split("subjects+sentences:YAC").as_dict() == {"protocol": "subjects+sentences",
                                                                "held_out_subjects": ["YAC"]}
    for bad in ("subjects", "subjects:", "sentences:ZAB", "readers:ZAB"):
        with pytest.raises(SplitError):
            parse_split(bad)


SUBJECTS = ["A", "A", "A", "A", "B", "B", "B", "B", "C", "C"]
UIDS = [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
BY_SENTENCE = ["train", "train", "val", "test", "train", "train", "val", "test", "train", "train"]


def test_held_out_subjects_are_val_and_test_halves_by_sentence() -> None:
    phases = subject_phases(SplitProtocol("subjects", ("A", "B")), SUBJECTS, UIDS, BY_SENTENCE)
    assert phases[8:] == ["train", "train"]
    held = {uid: phase for uid, phase in zip(UIDS[:8], phases[:8])}
    assert sorted(held.values()).count("val") == 2 and phases[:4] == phases[4:8]  # a sentence is val or test
    assert set(phases[:8]) == {"val", "test"}


def test_held_out_subjects_and_sentences() -> None:
    phases = subject_phases(SplitProtocol("subjects+sentences", ("A",)), SUBJECTS, UIDS, BY_SENTENCE)
    assert phases == [EXCLUDED, EXCLUDED, "val", "test", "train", "train", EXCLUDED, EXCLUDED, "train", "train"]


def test_held_out_subjects_must_exist_and_leave_a_training_subject() -> None:
    with pytest.raises(SplitError, match="without stored records: Z"):
        subject_phases(SplitProtocol("subjects", ("Z",)), SUBJECTS, UIDS, BY_SENTENCE)
    with pytest.raises(SplitError, match="every subject is held out"):
        subject_phases(SplitProtocol("subjects", ("A", "B", "C")), SUBJECTS, UIDS, BY_SENTENCE)


def test_prepare_records_the_protocol(tmp_path: Path, capsys) -> None:
    raw = write_corpus(tmp_path / "raw")
    labels = save_label_table(corpus_labels(raw), tmp_path / "labels.jsonl")
    base = ["--raw", str(raw), "--labels", str(labels), "--workers", "1"]
    assert prepare.main([*base, "--out", str(tmp_path / "default")]) == 0
    assert prepare.main([*base, "--out", str(tmp_path / "subjects"), "--split", "subjects:ZDM"]) == 0
    default, held = open_store(tmp_path / "default"), open_store(tmp_path / "subjects")
    assert default.info["split"] == {"protocol": "sentences"}
    assert held.info["split"] == {"protocol": "subjects", "held_out_subjects": ["ZDM"]}
    records = held.records
    assert set(records.loc[records["subject"] == "ZDM", "phase"]) == {"val", "test"}
    assert set(records.loc[records["subject"] != "ZDM", "phase"]) == {"train"}
    code = prepare.main([*base, "--out", str(tmp_path / "bad"), "--split", "subjects:ZZZ"])
    assert code == 2 and "held-out subjects without stored records: ZZZ" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
