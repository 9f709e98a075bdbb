"""The train/val/test split against the original's (reference/parity/split.json, docs/protocol.md §split)."""
from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from data.preprocess import prepare
from data.preprocess.readers import SUBJECTS, TASK_NAMES
from data.preprocess.steps import split_uids
from data.store import Store, open_store
from tests.paths import SHARED  # noqa: E402
from tests.zuco_files import phases_of

PARITY = SHARED / "reference" / "parity"
CASES = ("a", "b", "c1", "c2", "c3", "d")


@pytest.fixture(scope="module")
def golden() -> dict:
    if not (PARITY / "split.json").is_file():
        pytest.skip("../shared/reference/parity/split.json is absent")
    return json.loads((PARITY / "split.json").read_text())


@pytest.fixture(scope="module")
def published() -> pd.DataFrame:
    path = SHARED / "zuco" / "zuco_label_8variants.df"
    if not path.is_file():
        pytest.skip("../shared/zuco/zuco_label_8variants.df is absent")
    return pd.read_pickle(path)  # trusted project data


def present_rows(case: dict, n_rows: int) -> list[int]:
    """The label rows with a record, in label-row order."""
    if "present_rows" in case:
        return sorted(case["present_rows"])
    dropped = set(case["dropped_rows"])
    return [row for row in range(n_rows) if row not in dropped]


def split_of(labels: pd.DataFrame, rows: list[int]) -> dict[int, str]:
    """The split with one record per row of ``rows``, in that order."""
    records = labels.loc[rows, ["dataset", "task", "text uid"]]
    return split_uids(records.itertuples(index=False, name=None), labels["text uid"].tolist())


def group_phases(labels: pd.DataFrame, rows: list[int], phases: dict[int, str]) -> dict[str, dict]:
    """Per "dataset/task": the ascending uids of each phase, as split.json lists them."""
    present = labels.loc[rows]
    out = {}
    for (dataset, task), group in present.groupby(["dataset", "task"]):
        uids = sorted(set(group["text uid"].tolist()))
        out[f"{dataset}/{task}"] = {p: [u for u in uids if phases[u] == p] for p in ("train", "val", "test")}
    return out


def test_duplicated_uids_are_the_published_ones(golden: dict, published: pd.DataFrame) -> None:
    uids = published["text uid"]
    assert sorted(set(uids[uids.duplicated(keep=False)].tolist())) == golden["duplicated_uids"]


@pytest.mark.parametrize("name", CASES)
def test_split_equals_the_original(name: str, golden: dict, published: pd.DataFrame) -> None:
    case = golden["cases"][name]
    rows = present_rows(case, len(published))
    phases = split_of(published, rows)
    assert set(phases) == set(published.loc[rows, "text uid"].tolist())  # uids without records take no part
    got = group_phases(published, rows, phases)
    assert list(got) == list(case["groups"])
    for group, expected in case["groups"].items():
        for phase in ("train", "val", "test"):
            assert got[group][phase] == expected[phase], (name, group, phase)


def _published_zuco1_test_uids(published: pd.DataFrame, task: str) -> set[int]:
    """uids of the published test samples (head of the reference's export) of one ZuCo1 task,
    matched on letters and digits only."""
    samples = pd.read_csv(SHARED / "reference" / "glim_published_samples_head120.csv")
    key = lambda text: re.sub(r"[^0-9A-Za-z]", "", str(text))  # noqa: E731
    rows = published[(published["dataset"] == "ZuCo1") & (published["task"] == task)]
    uid_of = {key(t): u for t, u in zip(rows["input text"], rows["text uid"])}
    texts = samples.loc[(samples["Dataset"] == "ZuCo1") & (samples["Raw Task Key"] == task), "Input Text"]
    return {uid_of[key(t)] for t in texts}


def test_published_zuco1_test_set(golden: dict, published: pd.DataFrame) -> None:
    zuco1 = published[published["dataset"] == "ZuCo1"]
    b = split_of(published, list(zuco1.index[zuco1["text uid"] != 698]))  # every ZuCo1 row but uid 698
    seen = 0
    for group, check in golden["cases"]["b"]["published_check"].items():
        dataset, task = group.split("/")
        if dataset == "ZuCo1":
            test = {u for u in zuco1.loc[zuco1["task"] == task, "text uid"] if b.get(u) == "test"}
            assert check["elsewhere"] == {} and check["other_uids_in_reference_test"] == []
            assert len(test) == check["published_test_texts"] == check["in_reference_test"]
            in_head = _published_zuco1_test_uids(published, task)
            assert in_head <= test
            seen += len(in_head)
    assert seen == 40 + 29  # the head of the export: all of task1's test texts, 29 of task2's
    # with a record of uid 698, three published test sentences of ZuCo1 task2 leave test
    a = split_of(published, list(zuco1.index))
    check = golden["cases"]["a"]["published_check"]["ZuCo1/task2"]
    assert {u: a[int(u)] for u in check["elsewhere"]} == check["elsewhere"]
    assert all(b[int(u)] == "test" for u in check["elsewhere"])
    assert all(a[u] == "test" != b[u] for u in check["other_uids_in_reference_test"])


def test_split_ignores_sentences_without_records() -> None:
    labels = pd.DataFrame({"dataset": "ZuCo1", "task": "task1", "text uid": list(range(30)) + [0]})
    everything = phases_of(labels, labels)
    records = labels[labels["text uid"] != 29]
    kept = phases_of(records, labels)
    assert (everything[labels["text uid"] == 0] == "train").all()  # duplicated in the label table
    assert kept[records["text uid"] == 0].eq("train").all()
    alone = split_uids([("ZuCo1", "task1", u) for u in range(29)], [*range(30), 0])
    assert kept.tolist() == [alone[u] for u in records["text uid"]]  # as if row 29 did not exist
    assert kept.tolist() != everything[records.index].tolist()  # and not the label table's split
    per_subject = pd.concat([records] * 3, ignore_index=True)  # records per sentence do not matter
    assert phases_of(per_subject, labels).tolist() == kept.tolist() * 3


@pytest.fixture(scope="module")
def synthetic_store(tmp_path_factory) -> tuple[Store, pd.DataFrame]:
    synthetic = pytest.importorskip("data.synthetic.corpus")
    tmp = tmp_path_factory.mktemp("split")
    raw = tmp / "raw"
    synthetic.write_corpus(raw, 2, 2, 12, seed=0)
    labels = raw / synthetic.LABELS_FILE
    assert prepare.main(["--raw", str(raw), "--out", str(tmp / "store"), "--labels", str(labels)]) == 0
    return open_store(tmp / "store"), pd.read_json(labels, lines=True, dtype=False)


def test_store_phases_are_the_split_of_its_records(synthetic_store) -> None:
    store, labels = synthetic_store
    records = store.records
    assert records["phase"].tolist() == phases_of(records, labels).tolist()
    unrecorded = set(labels["text uid"]) - set(records["text uid"])
    assert unrecorded  # the corpus has sentences no subject recorded: they took no part
    assert records["phase"].tolist() != phases_of(labels, labels).loc[
        [labels.index[labels["text uid"] == u][0] for u in records["text uid"]]].tolist()
    counts = records.groupby(["dataset", "phase"]).size()
    assert store.info["summary"]["stored"] == {f"{d} {p}": n for (d, p), n in counts.items()}


def test_store_keeps_the_original_record_order(synthetic_store) -> None:
    records = synthetic_store[0].records
    datasets = list(SUBJECTS)
    tasks = {d: list(TASK_NAMES[d].values()) for d in datasets}
    keys = [(datasets.index(d), tasks[d].index(t), SUBJECTS[d].index(s))
            for d, t, s in records[["dataset", "task", "subject"]].itertuples(index=False)]
    assert keys == sorted(keys) and len(set(keys)) == 2 * 3 + 2 * 2
