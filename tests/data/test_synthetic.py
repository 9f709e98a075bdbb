"""The synthetic ZuCo corpus: file structure, task-material layouts, labels, determinism, signal."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.io as sio
from scipy.io.matlab import mat_struct
from scipy.signal import resample

from data.store import LABEL_COLUMNS
from data.synthetic import words as synthetic_words
from data.synthetic.corpus import LABELS_FILE, main, write_corpus
from data.synthetic.eeg import (
    read_sentence,
    subject_profile,
    word_durations,
    word_key,
    word_pattern,
)
from data.synthetic.plan import FULL_SIZE, SUBJECTS1, SUBJECTS2, build_plan, label_rows
from tests.paths import ROOT  # noqa: E402

SIZES = (12, 10, 12, 10, 10)
COMMON_BOOK = [("emp11111ty", "empty"), ("film.1", "film."), ("–", "-"), ("’s", "'s"), ("�s", "'s"),
               ("`s", "'s"), ("Maria", "Marić"), ("1Universidad", "Universidad"),
               ("1902—19", "1902 - 19"), ("Wuerttemberg", "Württemberg"), ("long -time", "long-time"),
               ("Jose", "José"), ("Bucher", "Bôcher"), ("1839 ? May", "1839 - May"),
               ("G�n�ration", "Generation"), ("Bragança", "Bragana"), ("1837?October", "1837 - October"),
               ("nVera-Ellen", "Vera-Ellen"), ("write Ethics", "wrote Ethics"),
               ("Adams-Onis", "Adams-Onís"), ("(40 km?)", "(40 km²)"), ("(40 km˝)", "(40 km²)"),
               (" (IPA: /?g?nz?b?g/) ", " "), ('""Canes""', '"Canes"')]
MAT_BOOK = [("111Senator", "Senator"), ("Creteil", "Créteil"), ("Zoonomia", "Zoönomia"),
            ("1902�19", "1902 - 19"), ("nee Darwin", "née Darwin"), ("Ruthy", "Réthy"),
            ("Eidgenoessische", "Eidgenössische"), ("40 km�", "40 km²"),
            ("King Leopold", "King Léopold")]


def fix(text: str, mat: bool = False) -> str:
    """The docs/protocol.md §texts typo book."""
    for src, dst in COMMON_BOOK + (MAT_BOOK if mat else []):
        text = text.replace(src, dst)
    return text


def h5_text(f: h5py.File, ref) -> str:
    return "".join(chr(c) for c in f[ref][:].squeeze(axis=1))


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("syn") / "raw_data"
    return root, write_corpus(root, 1, 1, SIZES, seed=0, word_features=True)


@pytest.fixture(scope="module")
def labels(corpus) -> pd.DataFrame:
    return pd.read_json(corpus[0] / LABELS_FILE, lines=True, dtype=False)


def mat(root: Path, dataset: str, folder: str, name: str) -> Path:
    return root / dataset / folder / "Matlab files" / name


# --- layout and .mat structure --------------------------------------------------------------
def test_layout_and_summary(corpus):
    root, summary = corpus
    for folder, suffix in (("task1- SR", "SR"), ("task2 - NR", "NR"), ("task3 - TSR", "TSR")):
        assert mat(root, "ZuCo1", folder, f"results{SUBJECTS1[0]}_{suffix}.mat").is_file()
    for folder, suffix in (("task1 - NR", "NR"), ("task2 - TSR", "TSR")):
        assert mat(root, "ZuCo2", folder, f"results{SUBJECTS2[0]}_{suffix}.mat").is_file()
    names = {p.name for p in (root / "ZuCo2" / "task_materials").iterdir()}
    assert names == {f"{k}_{i}{e}" for i in range(1, 8) for k, e in
                     (("nr", ".csv"), ("nr", "_control_questions.csv"), ("tsr", ".csv"))}
    assert len(summary["mat_files"]) == 5 and summary["missing_sentences"] > 0
    assert summary["sentences"]["ZuCo2/task2"] == SIZES[3]
    assert summary["material_rows"]["ZuCo2/task2"] > SIZES[3]  # CSV totals exceed the recordings
    assert json.loads((root / "synthetic.json").read_text())["seed"] == 0


def test_v5_files(corpus):
    root = corpus[0]
    raw = mat(root, "ZuCo1", "task1- SR", "resultsZAB_SR.mat").read_bytes()
    assert raw.startswith(b"MATLAB 5.0 MAT-file") and raw[126:128] == b"IM"
    sd = sio.loadmat(mat(root, "ZuCo1", "task1- SR", "resultsZAB_SR.mat"), squeeze_me=True,
                     struct_as_record=False)["sentenceData"]
    assert sd.shape == (SIZES[0],)
    fields = sd[0]._fieldnames
    assert fields[:2] == ["content", "rawData"] and "mean_g2" in fields and "answer_mean_t1" in fields
    assert fields[-2:] == ["omissionRate", "word"]
    one_word = [s for s in sd if len(s.content.split()) == 1]
    assert one_word and isinstance(one_word[0].word, mat_struct)  # the squeeze quirk
    assert one_word[0].rawData.shape[1] < 250
    s = next(s for s in sd if len(s.content.split()) > 3)
    assert s.rawData.dtype == np.float32 and s.rawData.shape[0] == 105
    assert not s.rawData[-1].any() and s.mean_t1.shape == (105,)
    assert isinstance(s.omissionRate, float)
    words = list(s.word)
    assert [w.content for w in words] == s.content.split()
    assert {"nFixations", "rawEEG", "FFD", "TRT", "GD", "FFD_t1", "GD_g2"} <= set(words[0]._fieldnames)
    skipped = [w for s in sd if len(s.content.split()) > 1 for w in s.word
               if not isinstance(w.nFixations, float)]
    assert skipped and skipped[0].rawEEG.size == 0 and skipped[0].FFD.size == 0
    once = next(w for s in sd if len(s.content.split()) > 1 for w in s.word if isinstance(w.nFixations, float) and w.nFixations == 1.0)
    assert once.rawEEG.shape[0] == 105  # a one-element cell collapses to its array
    nr = sio.loadmat(mat(root, "ZuCo1", "task2 - NR", "resultsZAB_NR.mat"), squeeze_me=True,
                     struct_as_record=False)["sentenceData"]
    missing = [s for s in nr if not isinstance(s.rawData, np.ndarray) or s.rawData.ndim == 0]
    assert missing and all(np.isnan(s.rawData) and np.isnan(s.word) and s.content for s in missing)


def test_v73_files(corpus):
    root = corpus[0]
    path = mat(root, "ZuCo2", "task1 - NR", "resultsYAC_NR.mat")
    head = path.read_bytes()[:512]
    assert head.startswith(b"MATLAB 7.3 MAT-file") and b"HDF5 schema 1.00 ." in head[:116]
    assert int.from_bytes(head[124:126], "little") == 0x0200 and head[126:128] == b"IM"
    with pytest.raises((NotImplementedError, ValueError)):
        sio.loadmat(path)
    with h5py.File(path, "r") as f:
        sd = f["sentenceData"]
        assert {"content", "rawData", "mean_t1", "omissionRate", "word"} <= set(sd)
        assert sd["rawData"].shape == (SIZES[3], 1) and sd["rawData"].dtype == h5py.ref_dtype
        contents = [h5_text(f, sd["content"][j][0]) for j in range(SIZES[3])]
        char = f[sd["content"][0][0]]
        assert char.dtype == np.uint16 and char.shape[1] == 1 and char.attrs["MATLAB_class"] == b"char"
        raw = f[sd["rawData"][0][0]]
        assert raw.shape[1] == 105 and raw.dtype == np.float32 and not raw[:, -1].any()
        assert f[sd["mean_t1"][0][0]].shape == (1, 105)
        word = f[sd["word"][0][0]]
        assert isinstance(word, h5py.Group) and word["content"].shape == (len(contents[0].split()), 1)
        assert [h5_text(f, r[0]) for r in word["content"]] == contents[0].split()
        assert {"FFD_t1_diff", "GPT", "rawEEG", "rawET"} <= set(word)
        empties = [f[r[0]] for j in range(SIZES[3]) if f[sd["rawData"][j][0]].shape != (1, 1)
                   for r in f[sd["word"][j][0]]["FFD"] if "MATLAB_empty" in f[r[0]].attrs]
        assert empties and empties[0].dtype == np.uint64 and empties[0].shape == (2,)
        assert not empties[0][:].any()
    with h5py.File(mat(root, "ZuCo2", "task2 - TSR", "resultsYAC_TSR.mat"), "r") as f:
        sd = f["sentenceData"]
        gaps = [j for j in range(len(sd["rawData"])) if f[sd["rawData"][j][0]].shape == (1, 1)]
        assert gaps and np.isnan(f[sd["rawData"][gaps[0]][0]][0, 0])
        assert np.isnan(f[sd["word"][gaps[0]][0]][0, 0]) and h5_text(f, sd["content"][gaps[0]][0])


# --- texts and labels -------------------------------------------------------------------------
def test_label_table(corpus, labels):
    assert list(labels.columns) == list(LABEL_COLUMNS)
    assert (labels["text uid"] == pd.factorize(labels["input text"])[0]).all()
    assert (labels["raw text"].map(fix) == labels["input text"]).all()
    sizes = labels.groupby(["dataset", "task"], sort=False).size().tolist()
    assert sizes == list(corpus[1]["material_rows"].values()) and sizes[:3] == list(SIZES[:3])
    t1 = labels[labels.task == "task1"]
    assert set(t1["raw label"]) <= {"-1", "0", "1"}
    assert (t1["sentiment label"] == t1["raw label"].map({"-1": "negative", "0": "neutral",
                                                          "1": "positive"})).all()
    t3 = labels[labels.task == "task3"]
    assert t3["relation label"].notna().all() and labels[labels.task != "task3"]["relation label"].isna().all()
    assert "CONTROL" not in set(t3["raw label"])
    for column in LABEL_COLUMNS[-8:]:
        assert labels[column].map(lambda v: isinstance(v, str) and len(v) > 0).all()
    assert (labels["naive rewritten"] == labels["input text"]).all()


def test_mat_contents_match_labels(corpus, labels):
    """Each file's sentences, typo-revised, are the label rows of its task in order (a subset)."""
    root = corpus[0]
    sd = sio.loadmat(mat(root, "ZuCo1", "task3 - TSR", "resultsZAB_TSR.mat"), squeeze_me=True,
                     struct_as_record=False)["sentenceData"]
    rows = labels[(labels.dataset == "ZuCo1") & (labels.task == "task3")]
    assert [fix(s.content, mat=True) for s in sd] == rows["input text"].tolist()
    with h5py.File(mat(root, "ZuCo2", "task1 - NR", "resultsYAC_NR.mat"), "r") as f:
        texts = [fix(h5_text(f, r[0]), mat=True) for r in f["sentenceData"]["content"]]
    expected = iter(labels[(labels.dataset == "ZuCo2") & (labels.task == "task2")]["input text"])
    assert all(any(t == e for e in expected) for t in texts)  # an ordered subsequence


def test_typos_and_vocabulary():
    plan = build_plan(FULL_SIZE, seed=0)
    sentences = {s.text: s for tp in plan.tasks for s in tp.recorded}.values()
    csv = " ".join(s.csv_text for s in sentences)
    mats = " ".join(s.mat_text for s in sentences)
    for typo in ("emp11111ty", "film.1", "’s", "Jose ", "long -time", "–", "Wuerttemberg"):
        assert typo in csv and typo in mats, typo
    for typo in ("111Senator", "Creteil", "King Leopold", "Eidgenoessische", "�s"):
        assert typo in mats and typo not in csv, typo
    for s in sentences:
        assert fix(s.text) == s.text and fix(s.csv_text) == s.text and fix(s.mat_text, True) == s.text
    words = json.dumps([v for k, v in vars(synthetic_words).items() if k.isupper()], ensure_ascii=False)
    assert not [src for src, _ in COMMON_BOOK + MAT_BOOK if src in words]


def test_sharing_like_zuco():
    plan = build_plan(FULL_SIZE, seed=0)
    df = pd.DataFrame(label_rows(plan))
    groups = {k: set(g["input text"]) for k, g in df.groupby(["dataset", "task"])}
    assert len(groups[("ZuCo1", "task2")] & groups[("ZuCo1", "task3")]) == len(plan.duplicates) > 20
    assert groups[("ZuCo2", "task3")] & groups[("ZuCo1", "task3")]
    assert groups[("ZuCo2", "task3")] & groups[("ZuCo2", "task2")]
    assert not groups[("ZuCo1", "task1")] & (set(df["input text"]) - groups[("ZuCo1", "task1")])
    within = df[df.task == "task3"].groupby("dataset")["input text"].apply(lambda s: s.duplicated().sum())
    assert (within > 0).all()
    assert [len(tp.recorded) for tp in plan.tasks] == list(FULL_SIZE)


# --- task materials ---------------------------------------------------------------------------
def read_materials(tm1: Path, tm2: Path) -> pd.DataFrame:
    """Read the materials as ZUCO_FORMAT.md describes them (coping with their format errors)."""
    t1 = pd.read_csv(tm1 / "sentiment_labels_task1.csv", sep=";", skiprows=[1], dtype=str)
    short = t1["sentiment_label"].isna()  # quoted sentences with ';' lack the control field
    t1.loc[short, "sentiment_label"], t1.loc[short, "control"] = t1.loc[short, "control"], np.nan
    t2 = pd.read_csv(tm1 / "relations_labels_task2.csv", sep=",", dtype=str)
    t3 = pd.read_csv(tm1 / "relations_labels_task3.csv", sep=";", dtype=str)  # 4 fields, 3 names
    parts = [pd.DataFrame({"raw text": t1["sentence"], "label": t1["sentiment_label"]}),
             pd.DataFrame({"raw text": t2["sentence"], "label": t2["relation_types"]}),
             pd.DataFrame({"raw text": t3["sentence"], "label": t3["relation-type"]})]
    for kind in ("nr", "tsr"):
        for i in range(1, 8):
            names = ["paragraph_id", "sentence_id", "sentence", "label"]
            d = pd.read_csv(tm2 / f"{kind}_{i}.csv", sep=";", header=None, names=names, dtype=str)
            if kind == "nr":
                q = pd.read_csv(tm2 / f"nr_{i}_control_questions.csv", sep=";", dtype=str)
                assert (d["label"] == "CONTROL").sum() == len(q)
                d = d.merge(q, how="left", on=["paragraph_id", "sentence_id"])
            parts.append(pd.DataFrame({"raw text": d["sentence"], "label": d["label"]}))
    return pd.concat(parts, ignore_index=True)


def test_materials_parse_to_label_table(corpus, labels):
    root = corpus[0]
    read = read_materials(root / "ZuCo1" / "task_materials", root / "ZuCo2" / "task_materials")
    assert read["raw text"].tolist() == labels["raw text"].tolist()
    t1 = labels.task == "task1"
    assert read.loc[t1, "label"].tolist() == labels.loc[t1, "raw label"].tolist()
    z1t2 = (labels.dataset == "ZuCo1") & (labels.task == "task2")
    expected = labels.loc[z1t2, "raw label"].map(lambda v: ";".join(v) if isinstance(v, list) else "NO-RELATION")
    assert read.loc[z1t2, "label"].tolist() == expected.tolist()
    dup = (root / "ZuCo1" / "task_materials" / "duplicate_sentences.csv").read_bytes()
    dups = pd.read_csv(root / "ZuCo1" / "task_materials" / "duplicate_sentences.csv",
                       encoding="utf-8-sig", lineterminator="\r")
    assert dup.startswith(b"\xef\xbb\xbf") and b"\n" not in dup and len(dups) > 0
    assert set(dups["sentence"]) <= set(labels["raw text"])


def test_material_layouts_like_real(corpus, shared_dir):
    real = shared_dir / "zuco" / "task_materials"
    if not real.is_dir():
        pytest.skip("no real task materials")
    ours = corpus[0] / "ZuCo1" / "task_materials"
    for name in ("sentiment_labels_task1.csv", "relations_labels_task2.csv",
                 "relations_labels_task3.csv", "duplicate_sentences.csv"):
        a, b = (real / name).read_bytes(), (ours / name).read_bytes()
        first = 2 if name.startswith("sentiment") else 1
        newline = b"\r" if name.startswith("duplicate") else b"\r\n"
        assert a.split(newline)[:first] == b.split(newline)[:first], name  # header (+ comment)
        bom = b"\xef\xbb\xbf"
        if name.startswith("duplicate"):
            assert a[:3] == b[:3] == bom
        else:
            assert bom not in (a[:3], b[:3])
        assert a.endswith(newline) == b.endswith(newline), name
        assert (a.count(b"\n") == 0) == (b.count(b"\n") == 0), name
        assert a.count(b"\r\n") in (0, a.count(b"\r")) and b.count(b"\r\n") in (0, b.count(b"\r"))

    def field_counts(path: Path, sep: bytes) -> set[int]:
        return {len(line.split(sep)) for line in path.read_bytes().split(b"\r\n")[2:] if line
                and b'"' not in line}

    assert field_counts(real / "relations_labels_task3.csv", b";") == \
        field_counts(ours / "relations_labels_task3.csv", b";") == {4}
    assert field_counts(real / "sentiment_labels_task1.csv", b";") == \
        field_counts(ours / "sentiment_labels_task1.csv", b";") == {4}


# --- determinism, signal, lengths, faults, CLI -----------------------------------------------
def test_same_seed_same_bytes(tmp_path):
    a = write_corpus(tmp_path / "a", 1, 1, 3, seed=5)
    write_corpus(tmp_path / "b", 1, 1, 3, seed=5)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    write_corpus(tmp_path / "c", 1, 1, 3, seed=6)
    texts = [(p / LABELS_FILE).read_text() for p in (tmp_path / "a", tmp_path / "c")]
    assert texts[0] != texts[1] and a["label_rows"] > 0


def test_word_patterns_stable_across_processes():
    code = "from data.synthetic.eeg import word_pattern; print(repr(word_pattern('film').tolist()))"
    env = {**os.environ, "PYTHONHASHSEED": "123", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert eval(out) == word_pattern("film").tolist()
    assert word_key("Film.") == word_key("film") == "film"
    assert np.isclose(np.sqrt(np.mean(word_pattern("film") ** 2)), 1.0)


def _retrieval(sentences, snr: float) -> float:
    """Held-out top-1 retrieval in batches of 24: ridge from bag-of-words to mean EEG at 128 Hz."""
    rng = np.random.default_rng(1)
    vocab = {w: i for i, w in enumerate(sorted({word_key(w) for s in sentences for w in s.words}))}
    text = np.zeros((len(sentences), len(vocab)))
    eeg = []
    for i, s in enumerate(sentences):
        for w in s.words:
            text[i, vocab[word_key(w)]] += 1 / len(s.words)
        x = read_sentence(s.words, subject_profile(SUBJECTS1[i % 3]), rng, snr).data[:104]
        eeg.append(resample(x, int(x.shape[1] * 128 / 500), axis=1).mean(axis=1))
    eeg = np.array(eeg)
    eeg = (eeg - eeg.mean(0)) / eeg.std(0)
    n_train = len(sentences) - 96
    a = text[:n_train]
    weights = np.linalg.solve(a.T @ a + np.eye(len(vocab)), a.T @ eeg[:n_train])
    pred, true = text[n_train:] @ weights, eeg[n_train:]
    sim = (true / np.linalg.norm(true, axis=1, keepdims=True)) @ \
        (pred / np.linalg.norm(pred, axis=1, keepdims=True)).T
    return float(np.mean([np.mean(sim[b:b + 24, b:b + 24].argmax(1) == np.arange(24))
                          for b in range(0, 96, 24)]))


def test_planted_signal_is_learnable_and_noise_is_not():
    plan = build_plan(60, seed=0)
    sentences = [s for s in {s.text: s for tp in plan.tasks for s in tp.recorded}.values()
                 if 3 <= len(s.words) <= 30][:260]
    assert _retrieval(sentences, 1.0) > 0.6  # chance is 1/24
    assert _retrieval(sentences, 0.0) < 0.15


def test_lengths_exercise_the_drop_rules():
    plan = build_plan(FULL_SIZE, seed=0)
    rng = np.random.default_rng(0)
    lengths = np.array([word_durations(s.words, 1.0, rng).sum() + 35
                        for tp in plan.tasks for s in tp.recorded])
    inside = (lengths >= 250) & (lengths <= 5000)
    assert inside.mean() > 0.9 and (lengths > 5000).sum() >= 10 and (lengths < 250).sum() >= 1


def test_faults(tmp_path):
    summary = write_corpus(tmp_path, 1, 0, 4, seed=0, faults=True)
    kinds = {f["kind"]: tmp_path / f["path"] for f in summary["faults"]}
    assert set(kinds) == {"truncated", "wrong_channel_count", "unknown_subject"}
    with pytest.raises(Exception):
        sio.loadmat(kinds["truncated"], squeeze_me=True, struct_as_record=False)
    sd = sio.loadmat(kinds["wrong_channel_count"], squeeze_me=True, struct_as_record=False)["sentenceData"]
    assert sd[1].rawData.shape[0] == 100 and sd[0].rawData.shape[0] == 105
    assert "ZXX" in kinds["unknown_subject"].name and kinds["unknown_subject"].is_file()
    clean = write_corpus(tmp_path / "clean", 1, 0, 4, seed=0)
    assert clean["faults"] == []


def test_cli(tmp_path, capsys):
    summary = main(["--out", str(tmp_path / "raw_data"), "--subjects", "1,0", "--sentences", "3",
                    "--seed", "2", "--quiet"])
    assert summary["subjects"] == {"ZuCo1": ["ZAB"], "ZuCo2": []}
    assert "wrote 3 .mat files" in capsys.readouterr().out
    with pytest.raises(ValueError):
        write_corpus(tmp_path / "bad", 13, 0, 3)
