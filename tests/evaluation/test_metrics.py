"""Per-sample generation metrics: published values, batched == torchmetrics loop, edge cases, CLI."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.metrics import (
    metric_columns,
    reference_score_loop,
    roundtrip,
    score_samples,
    score_teacher_forced,
    teacher_forced,
)
from evaluation.columns import TF_TARGET
from evaluation.sample_scores import roundtrip_texts, score_generation
from tests.paths import ROOT  # noqa: E402


def assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Same columns and identical values (NaN equals NaN)."""
    assert list(a.columns) == list(b.columns)
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())


@pytest.fixture(scope="module")
def published(shared_dir: Path) -> pd.DataFrame:
    path = shared_dir / "reference" / "glim_published_samples_head120.csv"
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def inputs_of(df: pd.DataFrame) -> tuple[list[str], list[list[str]], list[str]]:
    return df["Generated Text"].tolist(), [json.loads(t) for t in df["targets_json"]], df["Input Text"].tolist()


# ----------------------------------------------------------------------------- published rows
def test_published_rows_reproduced(published: pd.DataFrame) -> None:
    scores = score_samples(*inputs_of(published))
    shared = [c for c in scores.columns if c in published.columns]
    assert len(shared) == 8 + 3 * 9  # headline columns and GM BLEU1/BLEU2/ROUGE1 @MTV00..07, @RAW
    for col in shared:
        np.testing.assert_allclose(scores[col], published[col].astype(float), rtol=0, atol=1e-6, err_msg=col)


def test_published_teacher_forced_reproduced(published: pd.DataFrame) -> None:
    """The (w/tf) columns: BLEU/ROUGE against the teacher-forcing target (the raw sentence at 64
    Flan-T5 tokens), WER against the raw sentence at 96 (`Input Text`). Flan-T5's tokenizer is not
    here; none of these 120 targets was cut, as the data show: the whole sentence as the target
    reproduces every row, and on the 103 rows where a target one word shorter changes BLEU/ROUGE
    it would not. The cut itself is tested on the byte tokenizer below."""
    raw, tf_pred = published["Input Text"].tolist(), published["Generated Text (w/tf)"].tolist()
    tf = score_teacher_forced(tf_pred, raw, targets=raw)
    assert all(c.endswith(" (w/tf)") for c in tf.columns) and len(tf.columns) == 8
    for col in tf.columns:
        np.testing.assert_allclose(tf[col], published[col].astype(float), rtol=0, atol=1e-6, err_msg=col)
    shorter = score_teacher_forced(tf_pred, raw, targets=[" ".join(t.split()[:-1]) for t in raw])
    bleu_rouge = [c for c in tf.columns if not c.startswith("WER")]
    changed = (shorter[bleu_rouge].to_numpy() != tf[bleu_rouge].to_numpy()).any(1)
    assert changed.sum() == 103
    off = np.abs(shorter[bleu_rouge].to_numpy() - published[bleu_rouge].astype(float).to_numpy()).max(1)
    assert (off[changed] > 1e-3).all()
    np.testing.assert_array_equal(shorter["WER (w/tf)"], tf["WER (w/tf)"])  # WER: the raw sentence


@pytest.fixture(scope="module")
def byte_tokenizer(shared_dir: Path):
    """The ByT5 tokenizer of the parity fixtures' tiny T5: one token per byte, eos last."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(shared_dir / "reference" / "parity" / "tiny-t5-64")


def first_bytes(text: str, n: int) -> str:
    """What a byte tokenizer keeps of ``text`` with ``n`` tokens at most (the last one eos)."""
    return text.encode("utf-8")[: n - 1].decode("utf-8", errors="ignore")


def test_teacher_forced_target_is_cut_at_tgt_text_len(published: pd.DataFrame, byte_tokenizer) -> None:
    """The scoring path of test.py on the published rows with a byte tokenizer, where 88 of the
    120 sentences are longer than 64 tokens: the (w/tf) BLEU/ROUGE reference is the sentence cut
    at 64 tokens, WER's the sentence cut at 96."""
    samples = published[["Input Text", "Generated Text", "Generated Text (w/tf)"]].assign(
        targets=[json.loads(t) for t in published["targets_json"]], **{TF_TARGET: published["Input Text"]})
    compared = roundtrip_texts(samples, byte_tokenizer, target_len=64, input_len=96)
    scores = score_generation(compared)

    raw = published["Input Text"].tolist()
    target64, raw96 = [first_bytes(t, 64) for t in raw], [first_bytes(t, 96) for t in raw]
    assert compared[TF_TARGET].tolist() == target64 and compared["Input Text"].tolist() == raw96
    tf_pred = [first_bytes(t, 64) for t in published["Generated Text (w/tf)"]]
    expected = teacher_forced(reference_score_loop(tf_pred, [[t] for t in target64], raw96))
    assert len(expected.columns) == 8
    for col in expected.columns:
        np.testing.assert_allclose(scores[col], expected[col], rtol=0, atol=1e-6, err_msg=col)

    long = np.array([len(t.encode("utf-8")) >= 64 for t in raw])
    assert long.sum() == 88
    vs_raw = score_teacher_forced(tf_pred, raw96)  # the old reference: the raw sentence at 96
    bleu_rouge = [c for c in expected.columns if not c.startswith("WER")]
    changed = (scores[bleu_rouge].to_numpy() != vs_raw[bleu_rouge].to_numpy()).any(1)
    assert changed[long].sum() == 80 and not changed[~long].any()
    np.testing.assert_array_equal(scores["WER (w/tf)"], vs_raw["WER (w/tf)"])


def test_teacher_forced_scores_bleu_rouge_on_targets_and_wer_on_raw() -> None:
    tf = score_teacher_forced(["the cat sat on"], ["the cat sat on the mat"], targets=["the cat sat on"])
    assert tf.loc[0, "Bleu1 (w/tf)"] == 1.0 and tf.loc[0, "Rouge1-recall (w/tf)"] == 1.0
    assert tf.loc[0, "WER (w/tf)"] == pytest.approx(2 / 6)
    default = score_teacher_forced(["the cat sat on"], ["the cat sat on the mat"])
    assert default.loc[0, "Rouge1-recall (w/tf)"] == pytest.approx(4 / 6, rel=1e-6)


def test_batched_equals_loop_on_published(published: pd.DataFrame) -> None:
    rows = published.iloc[::3]
    assert_same(score_samples(*inputs_of(rows)), reference_score_loop(*inputs_of(rows)))


# ----------------------------------------------------------------------------- random inputs
WORDS = ["the", "The", "cat", "cat.", "a", "--", "...", "!", "it's", "Ünïcödé", "naïve", "日本語", "x2", "", "MOVIE",
         "film,"]
word_text = st.lists(st.sampled_from(WORDS), max_size=10).map(" ".join)
any_text = st.text(max_size=25)
long_text = st.lists(st.sampled_from(WORDS[:4]), min_size=30, max_size=70).map(" ".join)
texts = st.one_of(word_text, word_text, any_text, long_text, st.just(""), st.sampled_from(["?!", " . , ", "\t\n"]))


@st.composite
def batches(draw: st.DrawFn) -> tuple[list[str], list[list[str]], list[str]]:
    n = draw(st.integers(1, 4))
    k = draw(st.integers(1, 3))
    generated = draw(st.lists(texts, min_size=n, max_size=n))
    refs = draw(st.lists(st.lists(texts, min_size=k, max_size=k), min_size=n, max_size=n))
    raw = draw(st.lists(texts, min_size=n, max_size=n))
    return generated, refs, raw


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_batched_equals_loop_random(batch: tuple[list[str], list[list[str]], list[str]]) -> None:
    assert_same(score_samples(*batch), reference_score_loop(*batch))


@settings(max_examples=20, deadline=None)
@given(st.lists(texts, min_size=1, max_size=4), st.data())
def test_batched_equals_loop_without_references(generated: list[str], data: st.DataObject) -> None:
    raw = data.draw(st.lists(texts, min_size=len(generated), max_size=len(generated)))
    assert_same(score_samples(generated, None, raw), reference_score_loop(generated, None, raw))


# ----------------------------------------------------------------------------- edge cases
def test_edge_cases_match_torchmetrics() -> None:
    generated = ["", "the cat sat", "?!", "the the the the", "a b", "same words here", "word", "x y z", ""]
    refs = [
        ["the cat", ""],
        ["", ""],
        ["the cat sat", "hello"],
        ["the", "the the"],
        ["a b", "a b c d e f"],
        ["same words here", "same words"],
        ["?!", "..."],
        ["X Y Z", "x y z"],
        ["", ""],
    ]
    raw = ["the cat", "", "the cat sat", "the", "a b", "same words here", "", "x y z", ""]
    batched = score_samples(generated, refs, raw)
    assert_same(batched, reference_score_loop(generated, refs, raw))
    assert batched.loc[0, "Bleu1"] == 0.0 and batched.loc[0, "WER"] == 1.0  # empty hypothesis
    assert math.isinf(batched.loc[1, "WER"]) and math.isnan(batched.loc[8, "WER"])  # empty raw: n/0, 0/0
    assert batched.loc[5, ["Bleu1", "Bleu2", "Bleu3", "Rouge1-fmeasure"]].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert batched.loc[5, "Bleu4"] == 0.0  # no 4-gram in a 3-word hypothesis
    assert batched.loc[7, "GM\\.ROUGE1@MTV00"] == 1.0 and batched.loc[7, "GM\\.BLEU1@MTV00"] == 0.0  # case


def test_columns_and_empty_input() -> None:
    assert list(score_samples([], [], []).columns) == metric_columns(1)
    cols = list(score_samples(["a"], None, ["a"]).columns)
    assert cols == (["WER"] + [f"GM\\.BLEU{n}@RAW" for n in range(1, 5)] + ["GM\\.ROUGE1@RAW"]
                    + ["Rouge1-precision@RAW", "Rouge1-fmeasure@RAW"])
    assert "GM\\.BLEU2@MTV07" in metric_columns(8)


def test_bad_inputs_rejected() -> None:
    with pytest.raises(ValueError, match="raw"):
        score_samples(["a", "b"], None, ["a"])
    with pytest.raises(ValueError, match="same number of references"):
        score_samples(["a", "b"], [["a"], ["a", "b"]], ["a", "b"])
    with pytest.raises(ValueError, match="at least one reference"):
        score_samples(["a"], [[]], ["a"])


def test_roundtrip_matches_single_calls() -> None:
    from transformers import ByT5Tokenizer

    tok = ByT5Tokenizer()
    texts = ["hello world", "", "naïve café -- ok", "x" * 200]
    out = roundtrip(texts, tok, 10)
    assert out == [tok.decode(tok.encode(t, max_length=10, truncation=True), skip_special_tokens=True) for t in texts]
    assert out[0] == "hello wor" and out[1] == "" and roundtrip([], tok, 10) == []


# ----------------------------------------------------------------------------- CLI
def run_cli(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evaluation.score", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.fixture()
def small_csv(tmp_path: Path) -> Path:
    df = pd.DataFrame(
        {
            "Input Text": ["The cat sat on the mat.", "It is a good film.", "x " * 80],
            "Generated Text": ["The cat sat.", "", "x x x"],
            "targets_json": [json.dumps(["A cat sat.", "The cat is on the mat."]), json.dumps(["Good film.", ""]),
                             json.dumps(["x", "y"])],
            "Subject": ["ZAB", "YAC", "ZDM"],
        }
    )
    path = tmp_path / "in.csv"
    df.to_csv(path, index=False)
    return path


def test_cli_scores_csv(small_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli(small_csv, "--out", out)
    assert proc.returncode == 0, proc.stderr
    samples = pd.read_csv(out / "samples.csv", keep_default_na=False)
    src = pd.read_csv(small_csv, dtype=str, keep_default_na=False)
    expected = score_samples(src["Generated Text"].tolist(), [json.loads(t) for t in src["targets_json"]],
                             src["Input Text"].tolist())
    assert list(samples.columns) == list(src.columns) + list(expected.columns)
    np.testing.assert_array_equal(samples[expected.columns].to_numpy(dtype=float), expected.to_numpy())
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["n"] == 3 and set(summary["metrics"]) == set(expected.columns)
    assert summary["metrics"]["Bleu1"] == pytest.approx(expected["Bleu1"].mean())
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]

    refused = run_cli(small_csv, "--out", out)
    assert refused.returncode != 0 and "already holds results" in refused.stderr and "--overwrite" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert run_cli(small_csv, "--out", out, "--overwrite").returncode == 0


def test_cli_without_targets_and_with_tokenizer(small_csv: Path, tmp_path: Path) -> None:
    from transformers import ByT5Tokenizer

    tok_dir = tmp_path / "tok"
    ByT5Tokenizer().save_pretrained(tok_dir)
    src = pd.read_csv(small_csv, dtype=str, keep_default_na=False).drop(columns=["targets_json"])
    plain = tmp_path / "plain.csv"
    src.to_csv(plain, index=False)
    proc = run_cli(plain, "--out", tmp_path / "o", "--tokenizer", tok_dir)
    assert proc.returncode == 0, proc.stderr
    samples = pd.read_csv(tmp_path / "o" / "samples.csv", keep_default_na=False)
    assert "Bleu1" not in samples.columns and "WER" in samples.columns and "GM\\.BLEU1@RAW" in samples.columns
    assert samples["Input Text"].tolist()[2] == ("x " * 80)[:95]  # 96 byte tokens, the last one EOS
    expected = score_samples(samples["Generated Text"].tolist(), None, samples["Input Text"].tolist())
    np.testing.assert_array_equal(samples[expected.columns].to_numpy(dtype=float), expected.to_numpy())


def test_cli_errors(small_csv: Path, tmp_path: Path) -> None:
    missing = run_cli(tmp_path / "nope.csv", "--out", tmp_path / "o")
    assert missing.returncode != 0 and missing.stderr.strip() == f"error: input file not found: {tmp_path / 'nope.csv'}"
    no_col = run_cli(small_csv, "--out", tmp_path / "o", "--generated-col", "Prediction")
    assert no_col.returncode != 0 and len(no_col.stderr.strip().splitlines()) == 1
    assert "'Prediction'" in no_col.stderr and "'Generated Text'" in no_col.stderr and "'Subject'" in no_col.stderr
    no_targets = run_cli(small_csv, "--out", tmp_path / "o", "--targets-col", "refs")
    assert no_targets.returncode != 0 and "'refs'" in no_targets.stderr
    assert not (tmp_path / "o").exists()
