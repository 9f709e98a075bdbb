"""Word features in the store: round trip, checksums, a store without them, and preprocessing that
reads them from both ZuCo formats into the store beside the sentence EEG of the same records."""
from __future__ import annotations

import io
import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io as sio
from rich.console import Console

from data import verify
from data.preprocess import prepare
from data.preprocess.readers import read_sentences
from data.preprocess.steps import DropRecord, preprocess_eeg
from data.preprocess.word_features import NO_BAND_FIELDS, WORD_DIM, WordReader
from data.store import StoreError, StoreWriter, open_store
from data.synthetic.corpus import LABELS_FILE, write_corpus
from data.synthetic.corpus import main as synthetic_main
from data.synthetic.random_store import write_random_store


def _words(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, WORD_DIM)).astype(np.float32)


@pytest.fixture()
def word_store(tmp_path) -> tuple[Path, list[np.ndarray]]:
    words = [_words(2, 0), np.zeros((0, WORD_DIM), np.float32), _words(5, 1)]
    path = tmp_path / "store"
    with StoreWriter(path, word_features={"measure": "GD"}) as writer:
        for i, w in enumerate(words):
            writer.append(np.ones((300, 104), np.float32) * i,
                          {"phase": "train", "subject": "ZAB", "dataset": "ZuCo1", "task": "task1",
                           "input text": f"Text {i}.", "text uid": i}, None if i == 1 else w)
    return path, words


def test_round_trip_with_word_features(word_store):
    path, words = word_store
    store = open_store(path, verify="eeg")
    assert store.words is not None and len(store.words) == 3
    assert store.words.counts().tolist() == [2, 0, 5] and store.words.dim == WORD_DIM
    for i, w in enumerate(words):
        np.testing.assert_array_equal(store.words[i], w)
    assert store.info["word_features"] == {"measure": "GD", "dim": WORD_DIM, "n_words": 7,
                                           "records_with_words": 2}
    assert verify.problems(path) == []


def test_store_without_word_features_still_opens(tmp_path):
    store = open_store(write_random_store(tmp_path / "plain", n_sentences=3, n_subjects=1), verify="eeg")
    assert store.words is None and "word_features" not in store.info
    with pytest.raises(StoreError, match="word vectors appended to a store without word features"):
        with StoreWriter(tmp_path / "other") as writer:
            writer.append(np.ones((300, 104)), {"eeg_len": 300}, _words(1, 0))
    assert not (tmp_path / "other").exists()


def test_dropped_word_features_leave_a_plain_store(tmp_path):
    with StoreWriter(tmp_path / "s", word_features={"measure": "GD"}) as writer:
        writer.append(np.ones((300, 104)), {"phase": "train", "subject": "ZAB", "dataset": "ZuCo1",
                                             "task": "task1", "input text": "A.", "text uid": 0})
        writer.drop_word_features()
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["eeg.npy", "records.jsonl", "store.json"]
    assert open_store(tmp_path / "s", verify="eeg").words is None


def test_damaged_word_files_are_named(word_store):
    path, _ = word_store
    words = path / "words.npy"
    data = bytearray(words.read_bytes())
    data[200] ^= 0xFF  # a byte of the first word row
    words.write_bytes(bytes(data))
    open_store(path)  # the cheap check reads no word row
    with pytest.raises(StoreError, match=r"words.npy rows 0-6: checksum mismatch"):
        open_store(path, verify="eeg")
    assert verify.problems(path) == [f"{words} rows 0-6: checksum mismatch (damaged bytes)"]
    offsets = path / "word_offsets.npy"
    offsets.write_bytes(offsets.read_bytes()[:-8])
    with pytest.raises(StoreError, match="word_offsets.npy: .* bytes, store.json says"):
        open_store(path)


# --- preprocessing ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def raw_with_words(tmp_path_factory) -> Path:
    raw = tmp_path_factory.mktemp("syn") / "raw"
    write_corpus(raw, 1, 1, (10, 8, 8, 8, 8), seed=0, word_features=("GD",))
    return raw


@pytest.fixture(scope="module")
def prepared(raw_with_words) -> tuple[Path, str]:
    """The store of ``raw_with_words`` (default options) and what preprocessing printed."""
    out = raw_with_words.parent / "store"
    console = Console(file=io.StringIO(), width=200)
    summary = prepare.prepare(raw_with_words, out, labels=raw_with_words / LABELS_FILE, console=console)
    for table in prepare.summary_tables(summary):
        console.print(table)
    assert not summary.problems
    return out, console.file.getvalue()


def _prepare(raw: Path, out: Path, capsys, *options: str) -> tuple[int, str]:
    code = prepare.main(["--raw", str(raw), "--out", str(out), "--labels", str(raw / LABELS_FILE),
                         "--workers", "1", *options])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _expected_words(path: Path, measure: str = "GD") -> list[np.ndarray]:
    """The word vectors of the sentences of ``path`` that step 3 keeps, in file order."""
    kept = []
    for sentence in read_sentences(path, words=WordReader(measure)):
        try:
            preprocess_eeg(sentence.eeg)
        except (DropRecord, ValueError, TypeError):
            continue
        kept.append(sentence.words.vectors)
    return kept


@pytest.mark.parametrize("dataset, folder, name", [
    ("ZuCo1", "task1- SR", "resultsZAB_SR.mat"), ("ZuCo2", "task1 - NR", "resultsYAC_NR.mat")])
def test_prepare_stores_the_words_of_the_same_records(raw_with_words, prepared, dataset, folder, name):
    path, out = prepared
    assert "word features (GD)" in out and "records with word vectors" in out
    store = open_store(path, verify="eeg")
    records = store.records
    task = "task1" if dataset == "ZuCo1" else "task2"
    rows = np.flatnonzero(((records["dataset"] == dataset) & (records["task"] == task)).to_numpy())
    expected = _expected_words(raw_with_words / dataset / folder / "Matlab files" / name)
    assert len(rows) == len(expected) > 0
    for row, vectors in zip(rows, expected):
        np.testing.assert_array_equal(store.words[int(row)], vectors)
    counts = store.words.counts()
    assert counts.sum() == store.info["word_features"]["n_words"] > len(records)
    assert store.info["summary"]["word_features"]["records with word vectors"] == int((counts > 0).sum())


def test_prepare_without_word_fields(tmp_path, capsys):
    raw = tmp_path / "raw"
    write_corpus(raw, 1, 1, 6, seed=1)  # no word band values
    code, out = _prepare(raw, tmp_path / "auto", capsys)
    assert code == 0 and "hold no word-level GD band values" in out
    assert open_store(tmp_path / "auto").words is None
    code, out = _prepare(raw, tmp_path / "none", capsys, "--word-features", "none")
    assert code == 0 and "word-level" not in out and open_store(tmp_path / "none").words is None
    assert (tmp_path / "auto" / "eeg.npy").read_bytes() == (tmp_path / "none" / "eeg.npy").read_bytes()
    code, out = _prepare(raw, tmp_path / "gd", capsys, "--word-features", "GD")
    assert code == 2 and f"error: --word-features GD: no stored record has word-level GD band values ({NO_BAND_FIELDS}" in out
    assert not (tmp_path / "gd").exists()


def test_prepare_rejects_an_unknown_measure(raw_with_words, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        prepare.main(["--raw", str(raw_with_words), "--out", str(tmp_path / "x"), "--word-features", "GPT"])
    assert exit_.value.code == 2 and "invalid choice: 'GPT'" in capsys.readouterr().err


def test_synthetic_corpus_writes_only_the_named_measures(raw_with_words, capsys):
    v5 = sio.loadmat(raw_with_words / "ZuCo1" / "task1- SR" / "Matlab files" / "resultsZAB_SR.mat",
                     squeeze_me=True, struct_as_record=False)["sentenceData"]
    word = next(w for s in v5 if isinstance(s.word, np.ndarray) and s.word.dtype == object for w in s.word)
    assert "GD_g2" in word._fieldnames and "FFD_t1" not in word._fieldnames
    with h5py.File(raw_with_words / "ZuCo2" / "task1 - NR" / "Matlab files" / "resultsYAC_NR.mat") as f:
        group = f[f["sentenceData"]["word"][0][0]]
        assert "GD_t1" in group and "FFD_t1" not in group and "GD_t1_diff" not in group
    with pytest.raises(SystemExit):
        synthetic_main(["--out", str(raw_with_words.parent / "x"), "--word-features", "GD,XYZ"])
    assert "expected 'all' or measures among FFD, TRT, GD, GPT" in capsys.readouterr().err


def test_word_features_travel_to_workers_as_a_path(word_store):
    """A dataset sent to a data-loader worker reopens the memory map instead of copying the words."""
    path, words = word_store
    features = open_store(path).words
    data = pickle.dumps(features)
    assert len(data) < 2000 and features.values.nbytes > 20000
    np.testing.assert_array_equal(pickle.loads(data)[2], words[2])
