"""Statistics of per-sample values: bootstrap CIs, paired sign-flip tests, t-intervals, derangements.

Every function takes arrays of per-sample values (NaN = the sample does not count for that
metric, e.g. a sentiment accuracy on a task2 sample) and is vectorised over metric columns:
the same resamples / sign flips serve every column, so CIs of different metrics are coherent.
They give scipy's numbers (``tests/evaluation/test_stats_scipy.py``): ``bootstrap_ci`` equals
``scipy.stats.bootstrap(method="percentile")`` with the same generator, and the sign-flip p-values
agree with ``scipy.stats.permutation_test(permutation_type="samples")``. They are kept because one
(B, n) count matrix serves every column as one matrix product, where scipy indexes a
(columns, B, n) array (about 3.5 GB for 100 metrics of 2208 samples at B = 2000) or runs once per
column with its own flips.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


def _as_2d(values: np.ndarray) -> tuple[np.ndarray, bool]:
    x = np.asarray(values, dtype=np.float64)
    return (x[:, None], True) if x.ndim == 1 else (x, False)


def nan_mean(values: np.ndarray) -> np.ndarray:
    """Mean per column over the finite values (NaN where a column has none)."""
    x, flat = _as_2d(values)
    if x.size == 0:
        return np.full(x.shape[1], np.nan)
    ok = np.isfinite(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(ok, x, 0).sum(0) / ok.sum(0)
    return out[0] if flat else out


def bootstrap_counts(n: int, n_resamples: int = 2000, seed: int = 0) -> np.ndarray:
    """(B, n) how often each sample is drawn in each of B resamples with replacement."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_resamples, n))  # (B, n)
    flat = (np.arange(n_resamples)[:, None] * n + idx).ravel()
    return np.bincount(flat, minlength=n_resamples * n).reshape(n_resamples, n).astype(np.float64)


def resampled_means(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(B, m) means of each column (n, m) in each resample (B, n); NaN samples are left out."""
    x, _ = _as_2d(values)
    ok = np.isfinite(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (counts @ np.where(ok, x, 0.0)) / (counts @ ok.astype(np.float64))


def bootstrap_ci(values: np.ndarray, n_resamples: int = 2000, level: float = 0.95,
                 seed: int = 0) -> dict[str, np.ndarray]:
    """Percentile bootstrap CI of the mean of each column: {'mean', 'lo', 'hi'} arrays (m,)
    (scalars for a 1-D input)."""
    x, flat = _as_2d(values)
    means = resampled_means(x, bootstrap_counts(len(x), n_resamples, seed))  # (B, m)
    alpha = (1 - level) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN bounds
        lo, hi = np.nanquantile(means, [alpha, 1 - alpha], axis=0) if len(x) else (np.nan, np.nan)
    out = {"mean": nan_mean(x), "lo": np.asarray(lo), "hi": np.asarray(hi)}
    return {k: (float(np.ravel(v)[0]) if flat else v) for k, v in out.items()}


ALTERNATIVES = ("two-sided", "greater", "less")


def sign_flip_pvalue(diff: np.ndarray, n_permutations: int = 2000, seed: int = 0,
                     alternative: str = "two-sided") -> np.ndarray:
    """Paired permutation p-value of mean(diff) = 0 per column, flipping the sign of each sample's
    difference at random: (1 + #{|mean*| >= |mean|}) / (1 + P) two-sided; one-sided against
    mean(diff) > 0 (``greater``: #{mean* >= mean}) or < 0 (``less``: #{mean* <= mean})."""
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")
    d, flat = _as_2d(diff)
    ok = np.isfinite(d)
    d0 = np.where(ok, d, 0.0)
    n_ok = ok.sum(0)
    rng = np.random.default_rng(seed)
    signs = rng.integers(0, 2, size=(n_permutations, len(d))) * 2.0 - 1.0  # (P, n)
    sign = {"two-sided": 1.0, "greater": 1.0, "less": -1.0}[alternative]
    fold = np.abs if alternative == "two-sided" else (lambda v: sign * v)
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = fold(d0.sum(0) / n_ok)  # (m,)
        permuted = fold(signs @ d0 / n_ok)  # (P, m)
    tol = 1e-12 * np.maximum(1.0, np.abs(observed))
    p = (1.0 + (permuted >= observed - tol).sum(0)) / (1.0 + n_permutations)
    p = np.where(n_ok > 0, p, np.nan)
    return float(p[0]) if flat else p


def paired_difference(control: np.ndarray, reference: np.ndarray, n_resamples: int = 2000,
                      n_permutations: int = 2000, level: float = 0.95, seed: int = 0) -> dict[str, np.ndarray]:
    """control − reference per column on paired samples: mean, bootstrap CI (lo, hi), two-sided
    p-value ``p``, one-sided ``p_greater`` / ``p_less`` (control − reference > 0 / < 0) and n."""
    a, flat = _as_2d(control)
    b, _ = _as_2d(reference)
    if a.shape != b.shape:
        raise ValueError(f"paired values differ in shape: {a.shape} vs {b.shape}")
    diff = a - b  # NaN where either is missing
    out = bootstrap_ci(diff, n_resamples, level, seed)
    out = {k: np.atleast_1d(v) for k, v in out.items()}
    out["p"] = np.atleast_1d(sign_flip_pvalue(diff, n_permutations, seed + 1))
    for side in ("greater", "less"):  # one-sided: control − reference > 0, < 0
        out[f"p_{side}"] = np.atleast_1d(sign_flip_pvalue(diff, n_permutations, seed + 1, side))
    out["n"] = np.isfinite(diff).sum(0)
    return {k: (v[0].item() if flat else v) for k, v in out.items()}


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control); NaNs stay NaN and do not count."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order])) if m else p[order]
    out[order] = adjusted
    return out


def ci_table(samples: pd.DataFrame, columns: list[str], n_resamples: int = 2000, level: float = 0.95,
             seed: int = 0) -> pd.DataFrame:
    """Mean and bootstrap CI of each column, indexed by column name (columns ``mean``, ``lo``, ``hi``):
    computed once per result and read by metrics.json, the report and the figures."""
    ci = bootstrap_ci(samples[columns].to_numpy(np.float64), n_resamples, level, seed)
    return pd.DataFrame({k: np.atleast_1d(ci[k]) for k in ("mean", "lo", "hi")}, index=pd.Index(columns, name="metric"))


def t_interval(values: np.ndarray, level: float = 0.95) -> dict[str, float]:
    """Mean and Student-t CI of the mean of a few values (e.g. one per seed); NaNs dropped.
    With a single value the CI is undefined (NaN)."""
    from scipy import stats  # here: aggregate.py checks its runs before scipy.stats (~1 s) loads

    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    k = len(x)
    mean = float(x.mean()) if k else float("nan")
    if k < 2:
        return {"mean": mean, "lo": float("nan"), "hi": float("nan"), "sd": float("nan"), "n": k}
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, k - 1)) * sd / np.sqrt(k)
    return {"mean": mean, "lo": mean - half, "hi": mean + half, "sd": sd, "n": k}


def derangement_by_group(groups: np.ndarray, seed: int = 0) -> np.ndarray:
    """A seeded permutation ``perm`` with ``groups[perm[i]] != groups[i]`` for every i.

    The samples are put in a random order with equal groups adjacent (groups in random order),
    and each sample is paired with the one ``m`` places further (cyclically), ``m`` being the
    largest group size: two samples ``m`` apart can only share a group if ``2 m > n``, in which
    case no such permutation exists and ``ValueError`` is raised.
    """
    g = np.asarray(groups)
    n = len(g)
    _, inverse, sizes = np.unique(g, return_inverse=True, return_counts=True)
    m = int(sizes.max(initial=0))
    if n and 2 * m > n:
        raise ValueError(f"no derangement across groups: one group holds {m} of {n} samples")
    rng = np.random.default_rng(seed)
    group_rank = rng.permutation(len(sizes))[inverse]  # random order of the groups
    order = np.lexsort((rng.random(n), group_rank))  # grouped, random within groups
    perm = np.empty(n, dtype=np.int64)
    perm[order] = order[(np.arange(n) + m) % n] if n else order
    return perm
