"""`python -m data.prepare`, `python -m data.preprocess.import_table` and the step notebooks, on tiny files."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient

from data.preprocess import import_table, prepare
from data.preprocess.steps import preprocess_eeg, save_label_table
from data.store import LABEL_COLUMNS, StoreWriter, open_store
from tests.paths import ROOT  # noqa: E402
from tests.zuco_files import TASK1, corpus_labels, eeg, phases_of, write_corpus, write_v5

SR_DIR = Path("ZuCo1") / "task1- SR" / "Matlab files"


@pytest.fixture()
def corpus(tmp_path: Path) -> tuple[Path, Path]:
    raw = write_corpus(tmp_path / "raw")
    return raw, save_label_table(corpus_labels(raw), tmp_path / "labels.jsonl")


def _run(capsys, *args: str) -> tuple[int, list[str]]:
    """Exit code and stdout lines; stderr lines are given after them, prefixed by ``stderr: ``."""
    args = args if "--workers" in args else (*args, "--workers", "1")
    code = prepare.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines() + [f"stderr: {line}" for line in captured.err.splitlines()]


def test_prepare_writes_the_store(corpus, tmp_path: Path, capsys) -> None:
    raw, labels = corpus
    code, lines = _run(capsys, "--raw", raw, "--out", tmp_path / "out", "--labels", labels)
    assert code == 0, lines
    store = open_store(tmp_path / "out")
    records = store.records
    assert len(store) == 12 and set(records["subject"]) == {"ZAB", "ZDM", "YAC"}
    assert set(LABEL_COLUMNS) <= set(records.columns)
    expected, mask = preprocess_eeg(eeg(600, 0))  # ZAB's first sentence in write_corpus
    np.testing.assert_array_equal(store.eeg[0], expected)
    assert records["eeg_len"][0] == mask.sum() == int(600 * 128 / 500)
    assert records["phase"].tolist() == phases_of(records, pd.read_json(labels, lines=True)).tolist()
    assert store.info["summary"]["dropped"] == {} and any("store written" in line for line in lines)
    assert not list(tmp_path.glob(".out.spill-*")) and not (tmp_path / "out.partial").exists()


def test_cli_with_workers_gives_the_same_store(corpus, tmp_path: Path, capsys) -> None:
    raw, labels = corpus
    assert _run(capsys, "--raw", raw, "--out", tmp_path / "one", "--labels", labels, "--workers", "1")[0] == 0
    done = subprocess.run([sys.executable, "-m", "data.preprocess.prepare", "--raw", str(raw), "--out", str(tmp_path / "two"),
                           "--labels", str(labels), "--workers", "2"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("eeg.npy", "records.jsonl", "store.json"):  # bit for bit
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


def crashing_mat(path: Path) -> Path:
    """An uncompressed v5 .mat file, damaged so that scipy 1.17's ``loadmat`` segfaults on it."""
    from data.synthetic.mat import StructArray
    from data.synthetic.mat import write_v5 as write_plain_v5

    rawdata = lambda n, seed: np.random.default_rng(seed).standard_normal((105, n)).astype(np.float32)  # noqa: E731
    sentences = [("Hello world.", rawdata(300, 1)), ("Missing one.", None), ("Third one.", rawdata(260, 2))]
    write_plain_v5(path, StructArray({"content": t, "rawData": np.nan if r is None else r} for t, r in sentences),
                   compress=False)
    data = bytearray(path.read_bytes())
    for where, mask in [(0.7851263963478723, 163), (0.35569645843713316, 212), (0.5360171556608079, 20)]:
        data[int(where * len(data))] ^= mask
    path.write_bytes(bytes(data))
    return path


def test_a_file_that_crashes_its_reader_is_dropped_and_the_run_goes_on(corpus, tmp_path: Path, capsys) -> None:
    """A reader that kills its worker process (a segfault in scipy) costs that file only: the
    other files' records are stored as without it, and the file is reported with its reason."""
    raw, labels = corpus
    assert _run(capsys, "--raw", raw, "--out", tmp_path / "clean", "--labels", labels, "--workers", "2")[0] == 0
    bad = crashing_mat(raw / SR_DIR / "resultsZKW_SR.mat")
    probe = ("import sys; from scipy.io import loadmat; "
             "loadmat(sys.argv[1], squeeze_me=True, struct_as_record=False, variable_names=['sentenceData'])")
    crashed = subprocess.run([sys.executable, "-c", probe, str(bad)], capture_output=True, timeout=60)
    assert crashed.returncode < 0  # killed by a signal: the reader really crashes on it
    code, lines = _run(capsys, "--raw", raw, "--out", tmp_path / "out", "--labels", labels, "--workers", "2")
    assert code in (0, 1), lines
    clean, store = open_store(tmp_path / "clean"), open_store(tmp_path / "out")
    assert store.records.equals(clean.records)
    np.testing.assert_array_equal(np.asarray(store.eeg[:]), np.asarray(clean.eeg[:]))
    report = [line for line in lines if prepare.READER_CRASHED in line]
    assert report and "resultsZKW_SR.mat" in report[0], lines


def test_without_labels_needs_variants(corpus, tmp_path: Path, capsys) -> None:
    raw, labels = corpus
    code, lines = _run(capsys, "--raw", raw, "--out", tmp_path / "out")
    errors = [line for line in lines if line.startswith("stderr: error:")]
    assert code == 2 and len(errors) == 1 and "python -m data.preprocess.variants" in errors[0] and "--labels" in errors[0]
    assert (tmp_path / "out.labels.jsonl").is_file() and not (tmp_path / "out").exists()
    code, lines = _run(capsys, "--raw", raw, "--out", tmp_path / "out", "--variants", labels,
                       "--materials", raw / "ZuCo1" / "task_materials")
    assert code == 1 and len(open_store(tmp_path / "out")) == 8  # ZuCo2 has no materials there
    assert any("resultsYAC_NR.mat: no label rows" in line for line in lines)


def test_bad_inputs_are_reported_and_the_run_goes_on(corpus, tmp_path: Path, capsys) -> None:
    raw, labels = corpus
    sr = raw / SR_DIR
    texts = [t for t, _ in TASK1]
    truncated = write_v5(sr / "resultsZJN_SR.mat", [(t, eeg(3000, i)) for i, t in enumerate(texts)])
    truncated.write_bytes(truncated.read_bytes()[:5000])
    write_v5(sr / "resultsZJM_SR.mat", [(t, eeg(600)) for t in texts], fields=("content", "word"))
    write_v5(sr / "resultsZKB_SR.mat", [(texts[0], eeg(600, channels=100))] + [(t, eeg(600)) for t in texts[1:]])
    write_v5(sr / "resultsXYZ_SR.mat", [(t, eeg(600)) for t in texts])
    write_v5(sr / "resultsZKH_SR.mat", [(texts[0], eeg(600)), ("Not in the materials.", eeg(600)),
                                        (texts[2], None), (texts[3], eeg(100))])
    code, lines = _run(capsys, "--raw", raw, "--out", tmp_path / "out", "--labels", labels)
    assert code == 1  # written, with unmatched and unreadable records
    expected = {"resultsZJN_SR.mat: unreadable file": None,
                "resultsZJM_SR.mat: missing field (rawData)": None,
                "resultsZKB_SR.mat: sentence 0: wrong channel count": None,
                "resultsXYZ_SR.mat: unknown subject code": None,
                "resultsZKH_SR.mat: sentence 1: text matches no label row": None,
                "resultsZKH_SR.mat: sentence 2: no EEG (missing sentence)": None,
                "resultsZKH_SR.mat: sentence 3: too short (< 250 samples)": None}
    streamed = [line for line in lines if not line.startswith("  ")]
    for fragment in expected:
        assert len([line for line in streamed if fragment in line]) == 1, fragment
    heading = next(i for i, line in enumerate(lines) if "matched no label row or could not be read:" in line)
    listed = [line for line in lines[heading + 1:] if line.startswith("  ")]  # the summary lists problems first
    assert lines[heading].startswith("3 files and 2 records matched") and len(listed) == 5
    split_line = lines[heading + 1 + len(listed)]  # the split left them out: said, naming their files
    assert split_line.startswith("the split (sentences) was computed without them")
    for name in ("resultsZJN_SR.mat", "resultsZJM_SR.mat", "resultsZKB_SR.mat", "resultsXYZ_SR.mat"):
        assert name in split_line
    assert not any("no EEG" in line or "too short" in line for line in listed)  # prescribed drops
    store = open_store(tmp_path / "out")
    assert len(store) == 12 + 3 + 1  # the good corpus, ZKB's three good sentences, ZKH's first
    dropped = store.info["summary"]["dropped"]
    assert dropped["unreadable file"] == {"records": 0, "files": 1}
    assert dropped["text matches no label row"] == {"records": 1, "files": 0}
    table = "\n".join(lines[lines.index(next(line for line in lines if line.strip() == "dropped")):])
    assert "wrong channel count" in table and "unknown subject code" in table


def test_interrupted_run_leaves_no_half_store(corpus, tmp_path: Path, capsys, monkeypatch) -> None:
    raw, labels = corpus
    out = tmp_path / "out"
    assert _run(capsys, "--raw", raw, "--out", out, "--labels", labels)[0] == 0
    before = (out / "records.jsonl").read_text()
    appended = []

    def interrupt(self, eeg_row, record):
        appended.append(record)
        if len(appended) == 5:
            raise KeyboardInterrupt
        return original(self, eeg_row, record)

    original = StoreWriter.append
    monkeypatch.setattr(StoreWriter, "append", interrupt)
    for target in (out, tmp_path / "fresh"):
        appended.clear()
        code, lines = _run(capsys, "--raw", raw, "--out", target, "--labels", labels, "--overwrite")
        assert code == 130 and any(line.startswith("stderr: interrupted") for line in lines)
    assert (out / "records.jsonl").read_text() == before and len(open_store(out)) == 12
    assert not (tmp_path / "fresh").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.jsonl", "out", "raw"]


def test_import_table(corpus, tmp_path: Path, capsys) -> None:
    raw, labels = corpus
    table = pd.read_json(labels, lines=True).iloc[:3].copy()
    rng = np.random.default_rng(0)
    eegs, masks = [], []
    for length in (100, 1280, 7):
        data = np.zeros((1280, 128), dtype=np.float32)
        data[:length, :104] = rng.standard_normal((length, 104))
        eegs.append(data)
        masks.append((np.arange(1280) < length).astype(np.int8))
    masks[2] = np.zeros(1280)  # unusable row
    table["eeg"], table["mask"] = eegs, masks
    table["subject"], table["phase"], table["label id"] = "ZAB", ["train", "val", "test"], range(3)
    table.to_pickle(tmp_path / "eeg_table.df")
    code = import_table.main([str(tmp_path / "eeg_table.df"), "--out", str(tmp_path / "imported")])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and "pickle" in lines[0] and sum("row 2:" in line for line in lines) == 1
    store = open_store(tmp_path / "imported")
    assert store.records["eeg_len"].tolist() == [100, 1280]
    np.testing.assert_array_equal(store.eeg[0], eegs[0])
    assert store.records["phase"].tolist() == ["train", "val"]


def _execute(notebook: str, parameters: dict) -> nbformat.NotebookNode:
    nb = nbformat.read(ROOT / "data" / "preprocess" / notebook, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    return nb


def test_step_notebooks_run_in_order(corpus, tmp_path: Path) -> None:
    raw, labels = corpus
    out = str(tmp_path / "processed")
    _execute("__STEP1_texts_labels.ipynb", {"RAW_DIR": str(raw), "MATERIALS_DIR": None, "OUT_DIR": out})
    _execute("__STEP2_uids_variants.ipynb", {"OUT_DIR": out, "VARIANTS": str(labels)})
    label_table = pd.read_json(Path(out) / "zuco_label_table.jsonl", lines=True)
    assert label_table["input text"].tolist() == pd.read_json(labels, lines=True)["input text"].tolist()
    nb = _execute("__STEP3_eeg.ipynb", {"RAW_DIR": str(raw), "MAX_FILES": None})
    assert "kept: {'ZuCo1': 8, 'ZuCo2': 4}" in json.dumps(nb.cells[3].outputs)
    store = str(tmp_path / "store")
    _execute("__STEP4_match_split.ipynb", {"RAW_DIR": str(raw), "LABELS": str(Path(out) / "zuco_label_table.jsonl"),
                                           "STORE": store, "OVERWRITE": False})
    assert len(open_store(store)) == 12


def test_synthetic_corpus_both_label_routes(tmp_path: Path, capsys) -> None:
    synthetic = pytest.importorskip("data.synthetic.corpus")
    raw = tmp_path / "raw"
    written = synthetic.write_corpus(raw, 1, 1, 12, seed=0, faults=True)
    labels = raw / synthetic.LABELS_FILE
    code, lines = _run(capsys, "--raw", raw, "--out", tmp_path / "a", "--labels", labels)
    assert code == 1  # the planted faults are problems: written, exit 1
    for fault in written["faults"]:
        name = Path(fault["path"]).name
        at = f": sentence {fault['sentence_index']}:" if "sentence_index" in fault else ": "
        streamed = [line for line in lines if not line.startswith("  ")]  # not the summary's problem list
        assert len([line for line in streamed if name + at in line and "no EEG" not in line]) == 1, fault
        assert len([line for line in lines if line.startswith("  ") and name + at in line]) == 1, fault
    assert _run(capsys, "--raw", raw, "--out", tmp_path / "b", "--variants", labels)[0] == 1
    a, b = open_store(tmp_path / "a"), open_store(tmp_path / "b")
    assert len(a) > 0 and a.records.equals(b.records)  # steps 1-2 rebuild the same label rows
