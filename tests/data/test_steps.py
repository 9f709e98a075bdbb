"""The ZuCo preprocessing steps (docs/protocol.md §texts to §split): texts and labels, the label table, the EEG of a
sentence, matching and split."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.signal

from data.preprocess.steps import (
    AMBIGUOUS,
    NO_ROW,
    TEXT_LABEL_COLUMNS,
    DropRecord,
    Tally,
    load_label_table,
    match_group,
    resampled_length,
    rows_without_variants,
    save_label_table,
    build_label_table,
    preprocess_eeg,
    read_texts_labels,
    split_group,
    text_uids,
)
from data.store import LABEL_COLUMNS, VARIANT_COLUMNS
from tests.zuco_files import (
    corpus_labels,
    eeg,
    phases_of,
    write_corpus,
    write_lines,
)


@pytest.fixture(scope="module")
def published(shared_dir: Path) -> pd.DataFrame:
    return pd.read_pickle(shared_dir / "zuco" / "zuco_label_8variants.df")  # trusted project data


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


# ---- step 1 --------------------------------------------------------------------------------------


def test_read_texts_labels_reproduces_the_published_zuco1_rows(shared_dir: Path, published: pd.DataFrame) -> None:
    tally = Tally()
    rows = read_texts_labels(shared_dir / "zuco" / "task_materials", None, tally)
    expected = published[published["dataset"] == "ZuCo1"].reset_index(drop=True)
    assert len(rows) == 1107 and tally.rows() == []
    for column in ("raw text", "input text", "dataset", "task", "control"):
        assert rows[column].tolist() == expected[column].tolist(), column
    assert all(_same(a, b) for a, b in zip(rows["raw label"], expected["raw label"]))


def test_read_texts_labels_zuco2_layouts(tmp_path: Path) -> None:
    zuco2 = tmp_path / "z2"
    write_lines(zuco2 / "nr_1.csv", ["1;1;Ford was born on a farm.;", "1;2;He founded a company.;CONTROL"])
    write_lines(zuco2 / "nr_1_control_questions.csv",
                ["paragraph_id;sentence_id;control_question;correct_answer", "1;2;He founded...;a company"],
                newline="\r", bom=True)
    write_lines(zuco2 / "tsr_1.csv", ["3;1;Rain fell.;CONTROL", "3;2;She married him.;WIFE",
                                      "3;3;Nothing here.;CONTROL", "3;4;He wed her.;WIFE"])
    tally = Tally()
    rows = read_texts_labels(None, zuco2, tally)
    assert rows[["task", "control"]].values.tolist() == [
        ["task2", False], ["task2", True], ["task3", True], ["task3", False], ["task3", True], ["task3", False]]
    assert math.isnan(rows.loc[0, "raw label"]) and rows.loc[1, "raw label"] == "He founded a company"
    assert rows.loc[2:, "raw label"].tolist() == ["WIFE"] * 4  # CONTROL rows take their neighbours' label
    assert sum(n for _, _, n in tally.rows()) == 12  # nr_2..7 and tsr_2..7 reported missing


def test_read_texts_labels_reports_missing_materials(tmp_path: Path) -> None:
    lines: list[str] = []
    rows = read_texts_labels(tmp_path, None, Tally(echo=lines.append))
    assert rows.empty and list(rows.columns) == list(TEXT_LABEL_COLUMNS)
    assert len(lines) == 3 and all("missing task material" in line for line in lines)


# ---- step 2 --------------------------------------------------------------------------------------


def test_text_uids_reproduce_the_published_table(published: pd.DataFrame) -> None:
    assert (text_uids(published["input text"]) == published["text uid"].to_numpy()).all()


def test_label_table_reproduces_the_published_table(shared_dir: Path, published: pd.DataFrame) -> None:
    zuco1 = read_texts_labels(shared_dir / "zuco" / "task_materials", None)
    zuco2 = published[published["dataset"] == "ZuCo2"][list(TEXT_LABEL_COLUMNS)]
    table = build_label_table(pd.concat([zuco1, zuco2], ignore_index=True), variants=published)
    assert list(table.columns) == list(LABEL_COLUMNS)
    assert table["text uid"].tolist() == published["text uid"].tolist()
    for column in ("sentiment label", "relation label", *VARIANT_COLUMNS):
        assert all(_same(a, b) for a, b in zip(table[column], published[column])), column
    ones = build_label_table(zuco1)  # the ZuCo1 part alone numbers its texts the same way
    assert ones["text uid"].tolist() == published["text uid"][:1107].tolist()
    assert rows_without_variants(ones) == len(ones)


def test_label_table_variants_by_callable_and_readable_labels(tmp_path: Path) -> None:
    labels = corpus_labels(write_corpus(tmp_path / "raw"))
    assert rows_without_variants(labels) == 0
    assert labels["sentiment label"].tolist()[:4] == ["positive", "neutral", "negative", "positive"]
    assert labels["input text"][2] == "Ultimately feels empty and unsatisfying."
    assert labels["relation label"].isna().all()


def test_label_table_round_trip(tmp_path: Path) -> None:
    labels = corpus_labels(write_corpus(tmp_path / "raw"))
    for name in ("t.jsonl", "t.csv"):
        back = load_label_table(save_label_table(labels, tmp_path / name))
        assert list(back.columns) == list(LABEL_COLUMNS)
        assert back["input text"].tolist() == labels["input text"].tolist()
        assert back["text uid"].tolist() == labels["text uid"].tolist()
    warnings: list[str] = []
    labels.to_pickle(tmp_path / "t.df")
    load_label_table(tmp_path / "t.df", warn=warnings.append)
    assert len(warnings) == 1 and "pickle" in warnings[0]


# ---- step 3 --------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_samples,dtype", [(250, np.float32), (1777, np.float32), (5000, np.float64)])
def test_preprocess_eeg_equals_scipy_resample(n_samples: int, dtype) -> None:
    raw = eeg(n_samples, seed=n_samples, dtype=dtype)
    out, mask = preprocess_eeg(raw)
    length = int(n_samples * 128 / 500)
    assert resampled_length(n_samples) == length
    assert out.shape == (1280, 128) and out.dtype == np.float32 and mask.dtype == np.int8
    expected = scipy.signal.resample(raw[:104].astype(np.float32), length, axis=1).T  # cast first
    assert expected.dtype == np.float32
    np.testing.assert_array_equal(out[:length, :104], expected)
    assert mask.sum() == length and mask[:length].all()
    assert not out[length:].any() and not out[:, 104:].any()


def test_preprocess_eeg_casts_to_float32_before_resampling() -> None:
    raw = 10 * eeg(1777, seed=3, dtype=np.float64)
    out, _ = preprocess_eeg(raw)
    length = resampled_length(1777)
    cast_after = scipy.signal.resample(raw[:104], length, axis=1).T.astype(np.float32)
    assert not np.array_equal(out[:length, :104], cast_after)  # the two orders differ (~1e-6)
    np.testing.assert_allclose(out[:length, :104], cast_after, atol=1e-4)
    with pytest.raises(DropRecord, match="non-finite"):  # beyond float32: inf after the cast
        preprocess_eeg(np.where(np.arange(1777) == 5, 1e39, raw))


@pytest.mark.parametrize("raw,reason", [
    (eeg(249), "too short (< 250 samples)"),
    (eeg(5001), "too long (> 5000 samples)"),
    (eeg(600, channels=104), "wrong channel count"),
    (eeg(600)[:, :, None], "wrong channel count"),
])
def test_preprocess_eeg_drop_rules(raw: np.ndarray, reason: str) -> None:
    with pytest.raises(DropRecord) as drop:
        preprocess_eeg(raw)
    assert drop.value.reason == reason


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_preprocess_eeg_drops_non_finite(bad: float) -> None:
    raw = eeg(600)
    raw[7, 100] = bad
    with pytest.raises(DropRecord, match="non-finite"):
        preprocess_eeg(raw)


# ---- step 4: matching ----------------------------------------------------------------------------


def _rows(texts: list[str], labels: list) -> pd.DataFrame:
    return pd.DataFrame({"input text": texts, "raw label": labels}, index=range(100, 100 + len(texts)))


def test_match_in_order_and_by_text() -> None:
    rows = _rows(["A.", "B.", "C.", "D."], ["x", "y", "z", "w"])
    assert match_group(["A.", "B.", "C.", "D."], rows, "task1") == [(100, None), (101, None), (102, None), (103, None)]
    # B. was dropped by step 3: C. and D. are no longer at their position and are found by text
    assert match_group(["A.", "C.", "D."], rows, "task1") == [(100, None), (102, None), (103, None)]
    assert match_group(["A.", "Z."], rows, "task1") == [(100, None), (None, NO_ROW)]
    assert match_group(["emp11111ty 111Senator"], _rows(["empty Senator"], ["x"]), "task1") == [(100, None)]


def test_match_duplicate_texts() -> None:
    rows = _rows(["P.", "Dup.", "Q.", "R.", "Dup.", "S."], ["WIFE", "WIFE", "WIFE", "AWARD", "AWARD", "AWARD"])
    # by position first
    assert match_group(["P.", "Dup."], rows, "task3")[1] == (101, None)
    # the previous record's raw label decides
    assert match_group(["S.", "R.", "Dup."], rows, "task3")[2] == (104, None)
    assert match_group(["Q.", "Q.", "Dup."], rows, "task3")[2] == (101, None)
    # no previous record: the next one decides, or the one after when the next is ambiguous too
    assert match_group(["Dup.", "S."], rows, "task3")[0] == (104, None)
    shifted = _rows(["P.", "Q.", "Dup.", "R.", "Dup.", "S."], ["WIFE"] * 3 + ["AWARD"] * 3)
    assert match_group(["Dup.", "Dup.", "S."], shifted, "task3")[0] == (104, None)
    # nothing decides: reported, not guessed
    assert match_group(["Dup."], rows, "task3") == [(None, AMBIGUOUS)]
    # task2 takes the first
    assert match_group(["S.", "Dup."], rows, "task2")[1] == (101, None)


# ---- step 4: split -------------------------------------------------------------------------------


def _phase_counts(phases: dict[int, str], uids) -> list[int]:
    return [sum(phases[u] == p for u in uids) for p in ("train", "val", "test")]


def test_split_uses_the_literal_fifth() -> None:
    # a = 26 single uids, n = 55: k*a is 14.999999999999998 with 0.2, 15.000000000000002 with 1 - 0.8
    single, duplicated = list(range(26)), set(range(100, 129))
    phases = split_group(single + sorted(duplicated), duplicated)
    assert _phase_counts(phases, single) == [14, 6, 6]
    assert all(phases[u] == "train" for u in duplicated)
    order = np.random.default_rng(42).permutation(single).tolist()
    assert [phases[u] for u in order] == ["train"] * 14 + ["val"] * 6 + ["test"] * 6


def test_split_negative_cuts_follow_numpy_split() -> None:
    # a = 24, n = 174: cuts [-10, 6]: train = perm[:-10] also covers perm[6:14] of test
    single, duplicated = list(range(24)), set(range(1000, 1150))
    phases = split_group(single + sorted(duplicated), duplicated)
    order = np.random.default_rng(42).permutation(single).tolist()
    assert [phases[u] for u in order] == ["train"] * 14 + ["test"] * 10
    # a = 2, n = 176: cuts [-33, -15], beyond the length: everything test
    phases = split_group([0, 1] + sorted(set(range(1000, 1174))), set(range(1000, 1174)))
    assert phases[0] == phases[1] == "test"


def test_split_without_single_uids_and_in_set_order() -> None:
    assert split_group([5, 6, 5], {5, 6}) == {5: "train", 6: "train"}
    assert split_group([], set()) == {}
    uids = list(range(400, 700))  # a set of these iterates 512..699 before 400..511
    phases = split_group(uids, set())
    order = np.random.default_rng(42).permutation(list(set(uids))).tolist()
    assert [phases[u] for u in order] == ["train"] * 240 + ["val"] * 30 + ["test"] * 30
    ascending = np.random.default_rng(42).permutation(uids).tolist()
    assert [phases[u] for u in ascending] != [phases[u] for u in order]


def test_split_of_the_published_table(published: pd.DataFrame, shared_dir: Path) -> None:
    phases = phases_of(published, published)  # every row with one record
    duplicated = published["text uid"].duplicated(keep=False)
    assert (phases[duplicated] == "train").all()
    counts = phases.groupby([published["dataset"], published["task"], phases]).size().unstack()
    assert counts.loc[("ZuCo1", "task1")].tolist() == [40, 320, 40]  # test, train, val
    samples = pd.read_csv(shared_dir / "reference" / "glim_published_samples_head120.csv")
    task1 = published[(published["dataset"] == "ZuCo1") & (published["task"] == "task1")]
    test_texts = samples.loc[samples["Raw Task Key"] == "task1", "Input Text"]
    matched = task1[task1["input text"].isin(set(test_texts))]
    assert len(matched) >= 30 and (phases[matched.index] == "test").all()
