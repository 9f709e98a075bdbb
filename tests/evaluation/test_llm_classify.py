"""LLM-assisted classification: robust answer parsing, batching, likelihood fallback, tiny models."""
from __future__ import annotations

import pytest
import torch

from evaluation import llm_classify as lc
from evaluation.zero_shot import RELATIONS, SENTIMENTS
from tests.eval_factories import tiny_chat_llm


@pytest.fixture(scope="module")
def llm(tmp_path_factory):
    return lc.load_llm(str(tiny_chat_llm(tmp_path_factory.mktemp("llm") / "llm")), "cpu")


@pytest.mark.parametrize("answer, expected", [
    ("positive", 2), ("Positive.", 2), ("  NEGATIVE ", 0), ("2", 1), ("Option 3", 2), ("3. positive", 2),
    ("The sentiment is neutral, not negative.", 1), ("I think it is negative", 0), ("", None),
    ("no idea", None), ("7", None), ("positively", None),
])
def test_parse_sentiment_answers(answer, expected):
    assert lc.parse_label(answer, SENTIMENTS) == expected


def test_parse_prefers_the_longest_label_at_the_same_place():
    labels = ("job", "job title", "title")
    assert lc.parse_label("Job title.", labels) == 1
    assert lc.parse_label("It is about political affiliation", RELATIONS) == RELATIONS.index("political affiliation")


def test_prompt_lists_the_options():
    p = lc.build_prompt("He won the prize.", RELATIONS, lc.QUESTIONS["relation"])
    assert "9. marriage" in p and p.endswith("Sentence: He won the prize.\nAnswer:")


def test_tiny_llm_gives_a_valid_label_for_every_sentence(llm):
    sentences = ["A gripping, funny film.", "Dull and far too long.", "It was fine.", "A mess.", "Loved it."]
    out = lc.llm_classify(llm, sentences, SENTIMENTS, lc.QUESTIONS["sentiment"], batch_size=2, max_new_tokens=6)
    assert len(out) == 5 and set(out["label"]) <= set(SENTIMENTS)
    assert set(out["method"]) <= {"parsed", "likelihood"}


def test_unparsed_answers_fall_back_to_the_likeliest_label(llm, monkeypatch):
    answers = iter(["2", "The answer: positive", "???"])
    monkeypatch.setattr(lc, "generate", lambda gen, prompts, **kw: [next(answers) for _ in prompts])
    out = lc.llm_classify(llm, ["a", "b", "c"], SENTIMENTS, "q?", batch_size=3)
    assert out["label"].tolist()[:2] == ["neutral", "positive"]
    assert out["method"].tolist() == ["parsed", "parsed", "likelihood"]
    prompt = lc.build_prompt("c", SENTIMENTS, "q?")
    best = lc.label_likelihoods(llm, [prompt], SENTIMENTS).argmax(1).item()
    assert out["label"].iloc[2] == SENTIMENTS[best]


def test_label_likelihoods_causal_and_seq2seq(llm, tmp_path):
    from model.text_model import build_tiny_t5

    prompts = [lc.build_prompt(s, RELATIONS, "q?") for s in ("x", "a longer sentence here")]
    scores = lc.label_likelihoods(llm, prompts, RELATIONS)
    assert scores.shape == (2, 9) and torch.isfinite(scores).all() and (scores < 0).all()
    t5 = lc.load_llm(str(build_tiny_t5(tmp_path / "t5", d_model=32)), "cpu")
    assert not t5.causal
    scores = lc.label_likelihoods(t5, prompts, RELATIONS)
    assert scores.shape == (2, 9) and torch.isfinite(scores).all()
