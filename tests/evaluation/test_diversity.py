"""Collapse and diversity figures: planted collapse, torchmetrics' BLEU for self-BLEU, the published rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from torchmetrics.functional.text import bleu_score

from evaluation.diversity import (
    collapse_warning,
    distinct_n,
    diversity,
    diversity_line,
    self_bleu,
)

WORDS = ["the", "film", "was", "a", "good", "bad", "story", "about", "his", "life", "and", "work", "in", "paris"]


def corpus(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, rng.integers(1, 9))) for _ in range(n)]
    return texts + texts[:3] + [""]  # some repeats and an empty generation


@pytest.mark.parametrize("n", [2, 4])
def test_self_bleu_equals_torchmetrics_bleu_against_all_other_generations(n):
    texts = corpus(25, seed=n)
    expected = [bleu_score([t], [[o for j, o in enumerate(texts) if j != i]], n_gram=n).item()
                for i, t in enumerate(texts)]
    assert self_bleu(texts, n) == pytest.approx(float(np.mean(expected)), abs=1e-6)


def test_collapsed_run_is_flagged_and_counted():
    texts = ["he was born in paris ."] * 7 + ["the film was good .", "a story ."]
    d = diversity(texts, references=["one two three four"] * 9, top=2)
    assert d["distinct generations"] == 3 and d["share distinct"] == pytest.approx(3 / 9)
    assert d["most frequent"] == [{"text": "he was born in paris .", "count": 7},
                                  {"text": "the film was good .", "count": 1}]
    assert d["self-BLEU-4"] > 0.7 and d["reference mean length (words)"] == 4.0
    assert d["warning"] == "7 of 9 generations are the same sentence: 'he was born in paris .'"
    assert "most frequent (7x): 'he was born in paris .'" in diversity_line(d)
    assert collapse_warning(["", " ", "\n", "a b"]) == "3 of 4 generations are empty or whitespace"
    assert collapse_warning(["a", "b", "a c", "d"]) is None
    assert self_bleu(["x y z w"] * 3, 4) == 1.0 and np.isnan(self_bleu(["a"], 2))


def test_distinct_n():
    assert distinct_n(["a b a b", "a b"], 1) == pytest.approx(2 / 6)
    assert distinct_n(["a b a b", "a b"], 2) == pytest.approx(2 / 4)
    assert np.isnan(distinct_n(["a", ""], 2))


def test_published_rows_report_their_distinct_count_and_most_frequent_sentence(shared_dir):
    rows = pd.read_csv(shared_dir / "reference" / "glim_published_samples_head120.csv", keep_default_na=False)
    gen = rows["Generated Text"].tolist()
    d = diversity(gen, rows["Input Text"].tolist())
    text, count = pd.Series(gen).value_counts().index[0], int(pd.Series(gen).value_counts().iloc[0])
    assert d["distinct generations"] == len(set(gen)) < len(gen)
    assert d["most frequent"][0] == {"text": text, "count": count} and count > 1


def test_scorer_reports_distinct_count_and_most_frequent_sentence(shared_dir, tmp_path):
    import json
    import subprocess
    import sys

    from tests.paths import ROOT

    src = shared_dir / "reference" / "glim_published_samples_head120.csv"
    r = subprocess.run([sys.executable, "-m", "evaluation.score", str(src), "--out", str(tmp_path / "o")],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    gen = pd.read_csv(src, keep_default_na=False)["Generated Text"].value_counts()
    assert f"distinct generations: {len(gen)} of 120; most frequent ({gen.iloc[0]}x): {gen.index[0]!r}" in r.stdout
    d = json.loads((tmp_path / "o" / "metrics.json").read_text())["diversity"]
    assert d["distinct generations"] == len(gen) and d["most frequent"][0]["count"] == gen.iloc[0]
