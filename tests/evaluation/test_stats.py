"""Bootstrap CIs, sign-flip p-values, t-intervals and the uid derangement behave as statistics should."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.stats import (
    bootstrap_ci,
    bootstrap_counts,
    ci_table,
    derangement_by_group,
    holm,
    paired_difference,
    resampled_means,
    sign_flip_pvalue,
    t_interval,
)


def test_bootstrap_ci_covers_the_true_mean_difference_about_95_percent():
    rng = np.random.default_rng(0)
    true_diff, hits, trials = 0.3, 0, 200
    for t in range(trials):
        eeg = rng.normal(1.0, 1.0, 80)
        control = eeg + true_diff + rng.normal(0, 1.0, 80)  # paired: shared per-sample value
        d = paired_difference(control, eeg, n_resamples=500, n_permutations=10, seed=t)
        hits += d["lo"] <= true_diff <= d["hi"]
    assert 0.88 <= hits / trials <= 0.99


def test_resampled_means_skip_missing_samples_and_match_a_loop():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 3))
    x[::4, 1] = np.nan
    counts = bootstrap_counts(30, 50, seed=2)
    got = resampled_means(x, counts)  # (50, 3)
    idx = np.repeat(np.arange(30)[None], 50, 0)
    for b in range(50):
        drawn = np.repeat(idx[b], counts[b].astype(int))
        np.testing.assert_allclose(got[b], np.nanmean(x[drawn], 0))
    assert counts.sum(1).tolist() == [30] * 50


def test_permutation_p_small_for_a_real_difference_and_uniform_without_one():
    rng = np.random.default_rng(3)
    assert sign_flip_pvalue(rng.normal(0.5, 1.0, 100), 2000, seed=0) < 0.01
    null = np.array([sign_flip_pvalue(rng.normal(0.0, 1.0, 40), 400, seed=s) for s in range(200)])
    assert 0.02 <= (null < 0.05).mean() <= 0.10  # false positives near the nominal 5 %
    assert 0.4 <= null.mean() <= 0.6  # about uniform


def test_paired_difference_is_vectorised_over_metrics():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(50, 4)), rng.normal(size=(50, 4))
    b[:10, 3] = np.nan
    d = paired_difference(a, b, 300, 300, seed=0)
    assert d["mean"].shape == d["lo"].shape == d["p"].shape == (4,)
    assert d["n"].tolist() == [50, 50, 50, 40]
    one = paired_difference(a[:, 2], b[:, 2], 300, 300, seed=0)
    assert one["mean"] == pytest.approx(d["mean"][2]) and one["lo"] == pytest.approx(d["lo"][2])
    assert np.all(d["lo"] <= d["mean"]) and np.all(d["mean"] <= d["hi"])


def test_bootstrap_ci_of_a_constant_is_a_point_and_empty_columns_are_nan():
    ci = bootstrap_ci(np.column_stack([np.full(20, 0.25), np.full(20, np.nan)]), 100)
    assert ci["lo"][0] == ci["hi"][0] == ci["mean"][0] == 0.25
    assert np.isnan(ci["mean"][1]) and np.isnan(ci["lo"][1])


def test_t_interval():
    r = t_interval([1.0, 2.0, 3.0])
    assert r["mean"] == 2.0 and r["n"] == 3
    assert r["hi"] - r["mean"] == pytest.approx(4.302653 * 1.0 / np.sqrt(3), rel=1e-5)
    single = t_interval([5.0, np.nan])
    assert single["mean"] == 5.0 and np.isnan(single["lo"]) and single["n"] == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=2, max_size=60), st.integers(0, 10_000))
def test_derangement_never_pairs_a_sample_with_its_own_text(groups, seed):
    g = np.array(groups)
    if 2 * np.bincount(g).max() > len(g):
        with pytest.raises(ValueError, match="no derangement"):
            derangement_by_group(g, seed)
        return
    perm = derangement_by_group(g, seed)
    assert sorted(perm.tolist()) == list(range(len(g)))  # a permutation
    assert not np.any(g[perm] == g)  # no fixed uid
    assert np.array_equal(perm, derangement_by_group(g, seed))  # seeded


def test_one_sided_pvalues_follow_the_direction_of_the_difference():
    rng = np.random.default_rng(5)
    up = rng.normal(0.5, 1.0, 100)
    assert sign_flip_pvalue(up, 2000, seed=0, alternative="greater") < 0.01
    assert sign_flip_pvalue(up, 2000, seed=0, alternative="less") > 0.9
    assert sign_flip_pvalue(-up, 2000, seed=0, alternative="less") < 0.01
    assert sign_flip_pvalue(np.zeros(30), 500, seed=0, alternative="greater") == 1.0  # equal runs: no evidence
    d = paired_difference(up, np.zeros(100), 200, 2000, seed=0)
    assert d["p_greater"] < 0.01 and d["p_less"] > 0.9
    with pytest.raises(ValueError, match="alternative"):
        sign_flip_pvalue(up, 10, alternative="bigger")


def test_holm_adjusts_step_down_and_keeps_nans():
    got = holm(np.array([0.01, 0.04, np.nan, 0.03]))
    np.testing.assert_allclose(got[[0, 1, 3]], [0.03, 0.06, 0.06])  # 3 x 0.01, max(2 x 0.03, .03), 1 x 0.04 -> 0.06
    assert np.isnan(got[2])
    assert holm(np.array([0.5, 0.9])).tolist() == [1.0, 1.0]
    assert holm(np.array([])).size == 0


def test_ci_table_equals_bootstrap_ci_column_by_column():
    rng = np.random.default_rng(6)
    frame = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
    table = ci_table(frame, ["a", "b", "c"], 300, seed=1)
    one = bootstrap_ci(frame["b"].to_numpy(), 300, seed=1)
    assert table.loc["b", "lo"] == pytest.approx(one["lo"]) and table.loc["b", "hi"] == pytest.approx(one["hi"])
    assert ci_table(frame, ["b"], 300, seed=1).loc["b"].tolist() == table.loc["b"].tolist()  # same for any subset
