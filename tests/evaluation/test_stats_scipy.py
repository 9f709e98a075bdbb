"""evaluation.stats against scipy.stats: the same numbers, which is why the hand-written,
column-vectorised versions are kept (one (B, n) count matrix or (P, n) sign matrix serves every
metric column as one matrix product; scipy.stats.bootstrap indexes a (columns, B, n) array and
permutation_test runs once per column with its own flips)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from evaluation.stats import bootstrap_ci, sign_flip_pvalue


def test_bootstrap_ci_equals_scipy_percentile_bootstrap_column_by_column() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    x[::4, 2] = np.nan  # a metric that some samples do not count for
    ours = bootstrap_ci(x, n_resamples=999, seed=7)
    for j in range(x.shape[1]):
        ref = stats.bootstrap((x[:, j],), np.nanmean, n_resamples=999, method="percentile",
                              rng=np.random.default_rng(7), vectorized=True)
        assert ours["lo"][j] == pytest.approx(ref.confidence_interval.low, abs=1e-12)
        assert ours["hi"][j] == pytest.approx(ref.confidence_interval.high, abs=1e-12)


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_sign_flip_pvalue_agrees_with_scipy_exact_permutation_test(alternative: str) -> None:
    d = np.random.default_rng(3).normal(0.4, 1.0, size=10)  # 2**10 flips: scipy enumerates them all
    fold = {"two-sided": np.abs, "greater": lambda v: v, "less": lambda v: -v}[alternative]
    exact = stats.permutation_test((d,), lambda v, axis: fold(np.mean(v, axis=axis)), vectorized=True,
                                   permutation_type="samples", n_resamples=10_000, alternative="greater")
    ours = sign_flip_pvalue(d, n_permutations=40_000, seed=1, alternative=alternative)
    assert abs(ours - exact.pvalue) < 0.01  # Monte-Carlo error of 40k flips: < 0.003
