"""Zero-shot classification and per-sample retrieval: planted answers are found, shapes and sums hold."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from evaluation.retrieval import retrieval_batch_ids, sample_retrieval
from evaluation.zero_shot import (
    RELATIONS,
    SENTIMENTS,
    TASKS,
    balanced_accuracy,
    baselines,
    confusion,
    label_vectors,
    majority_frame,
    majority_hits,
    prob_column,
    target_index,
    zero_shot_frame,
    zero_shot_probs,
)


def samples_frame() -> pd.DataFrame:
    """Task1 samples with every sentiment, task3 samples with every relation, task2 samples."""
    rows = [("task1", s, None) for s in SENTIMENTS * 2] + [("task3", None, r) for r in RELATIONS]
    rows += [("task2", None, None)] * 4
    return pd.DataFrame(rows, columns=["Raw Task Key", "Sentiment label", "Relation label"])


def planted_vectors(samples: pd.DataFrame, labels: dict[str, torch.Tensor], task: str, noise: float) -> torch.Tensor:
    """Each sample's vector = the label vector of its true class (plus noise); others random."""
    g = torch.Generator().manual_seed(0)
    d = labels[task].shape[1]
    vec = torch.randn(len(samples), d, generator=g)
    target = target_index(TASKS[task], samples)
    keep = torch.as_tensor(target >= 0)
    vec[keep] = labels[task][torch.as_tensor(target[target >= 0])] + noise * torch.randn(int(keep.sum()), d, generator=g)
    return vec


@pytest.fixture
def random_labels() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return {name: torch.randn(len(t.labels), 48, generator=g) for name, t in TASKS.items()}


@pytest.mark.parametrize("task", list(TASKS))
def test_planted_answer_gives_accuracy_one(task, random_labels):
    s = samples_frame()
    vec = planted_vectors(s, random_labels, task, noise=0.05)
    out = zero_shot_frame(s, {"EEG": vec}, random_labels)
    hits = out[f"zero_shot/{task}@EEG/top1"]
    assert hits.notna().sum() == TASKS[task].target(s).notna().sum() > 0
    assert hits.mean() == 1.0
    cm = confusion(s.join(out), TASKS[task], "EEG")
    assert cm.trace() == cm.sum() and cm.shape == (len(TASKS[task].labels),) * 2


def test_targets_and_sample_subsets(random_labels):
    s = samples_frame()
    out = zero_shot_frame(s, {"EEG": torch.randn(len(s), 48)}, random_labels)
    assert out["zero_shot/sentiment@EEG/top1"].notna().tolist() == [True] * 6 + [False] * 13
    assert out["zero_shot/relation@EEG/top3"].notna().tolist() == [False] * 6 + [True] * 9 + [False] * 4
    assert out["zero_shot/corpus@EEG/top1"].notna().all()
    assert target_index(TASKS["corpus"], s).tolist() == [0] * 6 + [1] * 13
    # top-3 hits include top-1 hits
    t1, t3 = out["zero_shot/relation@EEG/top1"].dropna(), out["zero_shot/relation@EEG/top3"].dropna()
    assert (t3 >= t1).all()


def test_probabilities_shape_and_sum(random_labels):
    p = zero_shot_probs(torch.randn(7, 48), random_labels["relation"])
    assert p.shape == (7, 9)
    torch.testing.assert_close(p.sum(1), torch.ones(7))
    s = samples_frame()
    out = zero_shot_frame(s, {"EEG": torch.randn(len(s), 48), "raw": torch.randn(len(s), 48)}, random_labels)
    for name, t in TASKS.items():
        for source in ("EEG", "raw"):
            cols = [prob_column(name, lab, source) for lab in t.labels]
            np.testing.assert_allclose(out[cols].sum(1), 1.0, rtol=1e-6)


def test_label_vectors_of_a_tiny_glim(tmp_path):
    from evaluation.zero_shot import CANDIDATE_TOKENS, pooled_text_vectors
    from model.checkpoint import glim_from_checkpoint
    from tests.eval_factories import random_checkpoint

    model = glim_from_checkpoint(random_checkpoint(tmp_path)).train()
    labels = label_vectors(model)
    assert {k: tuple(v.shape) for k, v in labels.items()} == {"sentiment": (3, 64), "relation": (9, 64), "corpus": (2, 64)}
    assert model.training  # mode restored
    assert all(torch.isfinite(v).all() for v in labels.values())
    torch.testing.assert_close(labels["relation"], label_vectors(model)["relation"])  # deterministic
    # candidates are cut to 32 tokens (the byte tokenizer: 31 bytes and the end token)
    long = TASKS["relation"].candidates[-1]
    assert len(long) > CANDIDATE_TOKENS
    cut = pooled_text_vectors(model.eval(), [long[:CANDIDATE_TOKENS - 1]], 512)
    torch.testing.assert_close(labels["relation"][-1:], cut)


def test_per_sample_retrieval_matches_brute_force_ranks():
    g = torch.Generator().manual_seed(0)
    uids = np.repeat(np.arange(30), 3)[np.random.default_rng(0).permutation(90)]
    text = torch.randn(30, 16, generator=g)[uids]
    eeg = text + 1.5 * torch.randn(90, 16, generator=g)
    batches = retrieval_batch_ids(uids, 24)
    for b in np.unique(batches):  # batches of distinct texts
        assert len(set(uids[batches == b])) == (batches == b).sum()
    per = sample_retrieval(eeg, text, uids, batches, 24)
    # brute force: cosine similarity of each EEG vector with every candidate text, rank of its own
    cos = lambda a, b: float(a @ b / (a.norm() * b.norm()))  # noqa: E731
    pool = sorted(set(uids.tolist()))
    first = {u: int(np.flatnonzero(uids == u)[0]) for u in pool}
    sizes = np.bincount(batches)
    for i in range(90):
        own = cos(eeg[i], text[i])
        pool_rank = 1 + sum(cos(eeg[i], text[first[u]]) > own for u in pool)
        assert per["rank@pool"][i] == pool_rank
        for k in (1, 5, 10):
            assert per[f"retrieval_pool/R@{k}"][i] == float(pool_rank <= k)
        assert per["retrieval_pool/MRR"][i] == pytest.approx(1 / pool_rank)
        mates = np.flatnonzero(batches == batches[i])
        batch_rank = 1 + sum(cos(eeg[i], text[j]) > own for j in mates)
        if sizes[batches[i]] == 24:
            assert per["rank@batch24"][i] == batch_rank
            for k in (1, 5, 10):
                assert per[f"retrieval_batch24/top{k}"][i] == float(batch_rank <= k)
        else:
            assert np.isnan(per["retrieval_batch24/top1"][i])
    assert per["retrieval_batch24/top1"].notna().sum() == 24 * int((sizes == 24).sum())


def test_majority_class_baseline_and_balanced_accuracy(random_labels):
    s = samples_frame()  # 6 movie, 13 biography samples
    assert majority_hits(TASKS["corpus"], s).tolist() == [0.0] * 6 + [1.0] * 13
    b = baselines(s)
    assert b["zero_shot/corpus@EEG/top1"] == {"n": 19, "chance": 0.5, "majority": ["biography"],
                                              "majority_rate": pytest.approx(13 / 19)}
    assert b["zero_shot/relation@EEG/top3"]["majority_rate"] == pytest.approx(3 / 9)
    frame = majority_frame(s.assign(sample=range(len(s))))
    assert np.isnan(frame["zero_shot/sentiment@EEG/top1"].iloc[-1])
    # always predicting biography: top-1 13/19, balanced accuracy 1/2
    probs = {prob_column("corpus", "movie", "EEG"): 0.1, prob_column("corpus", "biography", "EEG"): 0.9}
    assert balanced_accuracy(s.assign(**probs), TASKS["corpus"], "EEG") == pytest.approx(0.5)
    planted = zero_shot_frame(s, {"EEG": planted_vectors(s, random_labels, "corpus", 0.05)}, random_labels)
    assert balanced_accuracy(s.join(planted), TASKS["corpus"], "EEG") == 1.0
