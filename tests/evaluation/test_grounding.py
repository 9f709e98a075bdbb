"""Grounding verdicts on planted runs: EEG better, equal, a control better, and the majority class."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation import columns as C
from evaluation.grounding import compare, grounding, grounding_lines
from evaluation.zero_shot import baselines, majority_frame

N = 60


def run(mrr: np.ndarray, corpus: np.ndarray, bleu: np.ndarray) -> pd.DataFrame:
    """A scored run: 20 movie (task1) and 40 biography samples."""
    return pd.DataFrame({"sample": np.arange(N), "Raw Task Key": ["task1"] * 20 + ["task2"] * 40,
                         "Sentiment label": [None] * N, "Relation label": [None] * N,
                         "Bleu1": bleu, "Rouge1-fmeasure": bleu, "retrieval_pool/MRR": mrr,
                         "zero_shot/corpus@EEG/top1": corpus})


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def verdicts(eeg: pd.DataFrame, controls: dict[str, pd.DataFrame]) -> dict:
    comparisons = {c: compare(eeg, s, 500, 1000) for c, s in controls.items()}
    return grounding(comparisons, {"majority class": compare(eeg, majority_frame(eeg), 500, 1000)}, baselines(eeg))


def test_eeg_better_than_noise_and_shuffled_is_grounded_whatever_prompt_free_does(rng):
    eeg = run(rng.uniform(0.5, 1, N), np.ones(N), rng.uniform(0, 1, N))
    low = run(rng.uniform(0, 0.3, N), np.zeros(N), eeg["Bleu1"].to_numpy())
    v = verdicts(eeg, {"noise": low, "shuffled": low.copy(), "prompt-free": eeg.copy()})
    assert v["retrieval"]["grounded"] and v["retrieval"]["metrics"]["retrieval_pool/MRR"]["p_holm"] < 0.01
    assert v["classification"]["grounded"]  # 1.0 beats noise, shuffled and the majority rate 40/60
    assert not v["generation"]["grounded"] and v["generation"]["tested"]  # equal Bleu1: not shown
    lines = grounding_lines(v)
    verdict_lines = [line for line in lines if not line.startswith(" ")]
    assert verdict_lines[1] == "retrieval: grounded in the EEG"
    assert verdict_lines[0] == "generation: NOT shown to be grounded in the EEG"
    assert lines[1].startswith("  BLEU-1 @MTV: EEG ") and lines[1].endswith("(not shown)")  # one readable line per metric
    assert any(line.startswith("  retrieval MRR (pool): EEG ") and line.endswith("(grounded)") for line in lines)
    assert max(map(len, lines)) <= 100 and not any("\\" in line for line in lines)  # wrapped, no escapes
    assert any(line.startswith("prompt ablation (prompt-free") for line in lines)
    assert not any(line.startswith("warning:") for line in lines)


def test_equal_runs_are_not_shown_and_a_single_ablation_is_not_enough(rng):
    eeg = run(rng.uniform(0, 1, N), rng.integers(0, 2, N).astype(float), rng.uniform(0, 1, N))
    v = verdicts(eeg, {"noise": eeg.copy(), "shuffled": eeg.copy()})
    assert not any(x["grounded"] for x in v.values())
    low = run(np.zeros(N), np.zeros(N), np.zeros(N))
    v = verdicts(eeg, {"noise": low})
    assert not v["retrieval"]["tested"] and "needs the shuffled control" in [line for line in grounding_lines(v) if not line.startswith(" ")][1]
    v = verdicts(eeg, {"noise": low, "shuffled": eeg.copy()})  # beats noise, not shuffled
    assert not v["retrieval"]["grounded"]


def test_a_control_better_than_the_eeg_is_a_warning_with_its_likely_cause(rng):
    eeg = run(rng.uniform(0.3, 0.6, N), np.r_[np.ones(20), np.zeros(40)], rng.uniform(0, 1, N))
    majority = run(eeg["retrieval_pool/MRR"].to_numpy(), np.r_[np.zeros(20), np.ones(40)], eeg["Bleu1"].to_numpy())
    v = verdicts(eeg, {"noise": majority, "shuffled": eeg.copy()})
    assert not v["classification"]["grounded"]
    (warning,) = v["classification"]["warnings"]
    assert warning.startswith("noise scores significantly better than the EEG on zero-shot corpus top-1 (EEG)")
    assert "label imbalance: always answering 'biography' scores 0.667" in warning
    assert any(line.startswith("warning: classification: noise") for line in grounding_lines(v))


def test_eeg_at_the_majority_rate_is_not_grounded_even_above_noise_and_shuffled():
    eeg = run(np.zeros(N), np.r_[np.zeros(20), np.ones(40)], np.zeros(N))  # = always 'biography'
    v = verdicts(eeg, {"noise": run(np.zeros(N), np.zeros(N), np.zeros(N)),
                       "shuffled": run(np.zeros(N), np.zeros(N), np.zeros(N))})
    corpus = v["classification"]["metrics"]["zero_shot/corpus@EEG/top1"]
    assert corpus["against"]["noise"]["p"] < 0.01 and corpus["against"]["majority class"]["p"] == 1.0
    assert not v["classification"]["grounded"]


def test_holm_adjusts_across_the_metrics_of_a_verdict(rng):
    eeg = run(rng.uniform(0, 1, N), np.ones(N), rng.uniform(0, 1, N))
    v = verdicts(eeg, {"noise": eeg.assign(Bleu1=eeg["Bleu1"] - 0.05), "shuffled": eeg.assign(Bleu1=eeg["Bleu1"] - 0.05)})
    gen = v["generation"]["metrics"]
    raw = max(a["p"] for a in gen["Bleu1"]["against"].values())
    assert gen["Bleu1"]["p_holm"] == pytest.approx(min(1.0, 2 * raw))  # the smaller of 2 p-values, times 2


def test_generation_is_judged_at_mtv_and_at_raw(rng):
    eeg = run(rng.uniform(0, 1, N), np.ones(N), rng.uniform(0.5, 1, N))
    eeg[C.gm_bleu(1, C.RAW_TAG)] = eeg[C.rouge_at("fmeasure", C.RAW_TAG)] = rng.uniform(0.5, 1, N)
    worse_at_raw = eeg.assign(**{C.gm_bleu(1, C.RAW_TAG): 0.0, C.rouge_at("fmeasure", C.RAW_TAG): 0.0})
    gen = verdicts(eeg, {"noise": worse_at_raw, "shuffled": worse_at_raw.copy()})["generation"]
    assert list(gen["metrics"]) == [C.bleu(1), C.rouge("fmeasure"), C.gm_bleu(1, C.RAW_TAG),
                                    C.rouge_at("fmeasure", C.RAW_TAG)]
    assert [m["grounded"] for m in gen["metrics"].values()] == [False, False, True, True]
    assert gen["grounded"]  # a verdict holds when one of its metrics does: each is listed in the line
