"""Tests at the level of the method: the training seed is the unit that varies between two
methods, so a verdict on a method rests on per-seed endpoints, paired by seed where the
design pairs them. Their error rates are measured by simulation of the verdict pipeline in
:mod:`nsde.report.calibration`; this module holds the tests themselves.

* :func:`seed_test`: the mean difference of two models' per-image scores ``(seeds,
  images)`` on the same images, seeds paired by index (the baseline and the NSDE of seed
  ``i`` share the initial weights, the training subset and the epoch order). The variance
  of the grand mean is that of the crossed seeds x images design,
  ``(MS_seeds + max(MS_images - MS_residual, 0)) / (S N)`` (two-way ANOVA mean squares of
  the per-image differences), with ``S - 1`` degrees of freedom: the seed is the unit,
  the image term adds the test set's own sampling variance. Chosen over the paired t on
  per-seed means (which misses the image term and under-covers when images favour one
  model), over Satterthwaite's degrees of freedom (under-covers with a seed effect) and
  over the seeds-and-images bootstrap (under-covers at 2-8 seeds) by the coverage measured
  in ``tests/test_calibration.py`` and ``benchmarks/bench_calibration.py``. With one seed it
  is the paired t over images, and says so: it is about those trained networks only.
* :func:`per_seed_test`: the same test when each seed gives one endpoint value (a
  contrast on different images per seed, such as ABC on each seed's correct predictions).
* :class:`SeedTest`: estimate, interval, p-value, the two one-sided tests of equivalence
  within a margin (:meth:`SeedTest.equivalent`), and the minimal detectable effect at a
  power (:meth:`SeedTest.mde`, from the noncentral t, ``statsmodels``).
* :func:`holm`: Holm's step-down adjustment of the secondary per-setting
  tests, and :func:`simultaneous`: Bonferroni intervals that hold jointly over settings.
* :func:`rank_correlation`: Spearman's rho across a handful of models with an exact
  permutation p-value (``scipy.stats.permutation_test``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
from scipy import stats as _st
from statsmodels.stats.power import TTestPower

from nsde.stats.intervals import Interval

__all__ = ["SeedTest", "seed_test", "per_seed_test", "holm", "simultaneous", "mean_over_settings",
           "rank_correlation"]


@dataclass(frozen=True)
class SeedTest:
    """A t-based test of a mean difference whose unit is the training seed.

    Attributes:
        estimate: the mean difference (a minus b), over seeds and images.
        se: its standard error; df: the degrees of freedom of its t distribution.
        n_seeds, n_images: the sizes it rests on (``n_images`` 0 for per-seed values).
        level: the confidence level of ``low, high``.
        method: ``"seeds x images"``, ``"images (one seed)"`` or ``"seeds"``.
    """

    estimate: float
    se: float
    df: float
    n_seeds: int
    n_images: int
    level: float = 0.95
    method: str = "seeds x images"

    @property
    def _t(self) -> float:
        return float(_st.t.ppf(0.5 + self.level / 2, self.df)) if self.df > 0 else math.inf

    @property
    def low(self) -> float:
        """The interval's lower end (``-inf`` with no degrees of freedom: one value)."""
        if not self.df > 0:
            return -math.inf
        return self.estimate - self._t * self.se if self.se > 0 else self.estimate

    @property
    def high(self) -> float:
        """The interval's upper end (``+inf`` with no degrees of freedom: one value)."""
        if not self.df > 0:
            return math.inf
        return self.estimate + self._t * self.se if self.se > 0 else self.estimate

    @property
    def p(self) -> float:
        """Two-sided p-value of "no difference"."""
        if not self.se > 0 or not self.df > 0:
            return 1.0 if self.estimate == 0 or not self.df > 0 else 0.0
        return float(2 * _st.t.sf(abs(self.estimate) / self.se, self.df))

    @property
    def interval(self) -> Interval:
        return Interval(self.estimate, self.low, self.high, self.n_images or self.n_seeds)

    def at_level(self, level: float) -> "SeedTest":
        """The same test with its interval at another confidence level."""
        return replace(self, level=level)

    def excludes(self, value: float) -> bool:
        """Whether the interval excludes ``value``."""
        return not self.low <= value <= self.high

    def equivalence_p(self, margin: float) -> float:
        """The two one-sided tests (TOST) p-value of ``|difference| < margin``: the larger of
        the p-values of "difference <= -margin" and "difference >= +margin"."""
        if not margin > 0:
            raise ValueError(f"an equivalence margin must be > 0, but found {margin!r}")
        if not self.se > 0 or not self.df > 0:
            return 0.0 if abs(self.estimate) < margin and self.df > 0 else 1.0
        lower = _st.t.sf((self.estimate + margin) / self.se, self.df)
        upper = _st.t.cdf((self.estimate - margin) / self.se, self.df)
        return float(max(lower, upper))

    def equivalent(self, margin: float, alpha: float = 0.05) -> bool:
        """TOST at level ``alpha``: the ``1 - 2 alpha`` interval lies inside ``(-margin, margin)``."""
        return self.equivalence_p(margin) < alpha

    def mde(self, power: float = 0.8, alpha: float | None = None) -> float:
        """The smallest true difference this design detects with probability ``power`` in a
        two-sided test at level ``alpha`` (default ``1 - level``), at this standard error
        and these degrees of freedom (the noncentral t of ``statsmodels``' ``TTestPower``)."""
        alpha = 1 - self.level if alpha is None else alpha
        if not 0 < power < 1 or not 0 < alpha < 1:
            raise ValueError(f"power and alpha must lie in (0, 1), but found {power!r} and {alpha!r}")
        if not self.se > 0 or not self.df > 0:
            return math.inf if not self.df > 0 else 0.0
        # a one-sample t test with df + 1 observations: its standardised effect times the sd
        nobs = self.df + 1
        effect = TTestPower().solve_power(effect_size=None, nobs=nobs, alpha=alpha, power=power)
        return float(effect * self.se * math.sqrt(nobs))


def _scores(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] == 0 or a.shape[0] == 0:
        raise ValueError(f"{name} must hold per-image scores (seeds, images), but found shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite scores")
    return a


def seed_test(a, b=None, *, level: float = 0.95, paired: bool = True) -> SeedTest:
    """``mean(a) - mean(b)`` for per-image scores of two models on the same images.

    Args:
        a: scores ``(S, N)`` (or ``(N,)`` for one seed) of model a.
        b: scores of model b on the same images, the same shape; ``None``: the mean of
            ``a`` alone (one model's accuracy with its interval).
        level: the two-sided confidence level.
        paired: seed ``i`` of ``a`` is paired with seed ``i`` of ``b`` (they share what
            the seed sets); ``False`` treats the two models' seeds as independent (the
            seed part of the variance then ignores their covariance; Welch's degrees of
            freedom).

    Returns:
        :class:`SeedTest` (module docstring for the variance and its degrees of freedom).

    Raises:
        ValueError: shapes that differ (seeds or images), empty or non-finite scores.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), but found {level!r}")
    a = _scores(a, "a")
    if b is not None:
        b = _scores(b, "b")
        if b.shape != a.shape:
            raise ValueError(f"a paired comparison needs the same seeds and images on both sides, but found shapes "
                             f"{a.shape} and {b.shape}")
    d = a if b is None else a - b
    s, n = d.shape
    est = float(d.mean())
    if s == 1:
        se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
        return SeedTest(est, se, float(n - 1), 1, n, level, "images (one seed)")
    rows, cols = d.mean(1), d.mean(0)
    if n > 1:
        ms_images = s * cols.var(ddof=1)
        ms_resid = float(((d - rows[:, None] - cols[None, :] + est) ** 2).sum() / ((s - 1) * (n - 1)))
        image_part = max(ms_images - ms_resid, 0.0) / (s * n)
    else:
        image_part = 0.0
    if paired or b is None:
        return SeedTest(est, float(math.sqrt(rows.var(ddof=1) / s + image_part)), float(s - 1), s, n, level)
    va, vb = a.mean(1).var(ddof=1) / s, b.mean(1).var(ddof=1) / s
    df = (va + vb) ** 2 / (va ** 2 / (s - 1) + vb ** 2 / (s - 1)) if va + vb > 0 else float(2 * s - 2)
    return SeedTest(est, float(math.sqrt(va + vb + image_part)), float(df), s, n, level, "seeds x images, unpaired")


def per_seed_test(a, b=None, *, level: float = 0.95) -> SeedTest:
    """The paired t over seeds of one endpoint value per seed (``a[i] - b[i]``).

    For endpoints computed on different images per seed (ABC on each seed's correct
    predictions), where :func:`seed_test`'s image term does not apply.

    Args:
        a, b: one value per seed, ``(S,)`` each (``b=None``: the mean of ``a``).
    """
    a = np.asarray(a, dtype=float).ravel()
    d = a if b is None else a - np.asarray(b, dtype=float).ravel() if np.size(b) == a.size else None
    if d is None:
        raise ValueError(f"paired seeds need as many values on both sides, but found {a.size} and {np.size(b)}")
    if d.size == 0 or not np.all(np.isfinite(d)):
        raise ValueError("per_seed_test needs at least one finite value per side")
    se = float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else 0.0
    return SeedTest(float(d.mean()), se, float(d.size - 1), int(d.size), 0, level, "seeds")


def mean_over_settings(scores: Sequence) -> np.ndarray:
    """Per-image scores averaged over settings: ``[(S, N), ...] -> (S, N)`` (a primary
    endpoint over several intensities or budgets, scored on the same images)."""
    mats = [_scores(s, "scores") for s in scores]
    if not mats:
        raise ValueError("no settings to average over")
    if len({m.shape for m in mats}) != 1:
        raise ValueError(f"the settings were scored on different seeds or images: {sorted({m.shape for m in mats})}")
    return np.mean(mats, axis=0)


def holm(p_values: Sequence[float], alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down adjustment: family-wise error at most ``alpha``.

    The same numbers as ``statsmodels.stats.multitest.multipletests(p, method="holm")``
    (``tests/test_inference.py`` checks it), computed here because that function runs a
    full garbage collection on every call, which made the calibration suite 15 times slower.

    Returns:
        ``(reject, adjusted p-values)``.
    """
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return np.zeros(0, dtype=bool), p
    if np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError(f"p-values must lie in [0, 1], but found {p.tolist()}")
    order = np.argsort(p, kind="mergesort")
    steps = (p.size - np.arange(p.size)) * p[order]
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.maximum.accumulate(steps), 1.0)
    return adjusted < alpha, adjusted


def simultaneous(tests: Sequence[SeedTest], level: float = 0.95) -> list[SeedTest]:
    """The tests with Bonferroni intervals: all of them cover at once with probability at
    least ``level``."""
    k = max(1, len(tests))
    return [t.at_level(1 - (1 - level) / k) for t in tests]


def rank_correlation(a: Sequence[float], b: Sequence[float], *, max_exact: int = 8,
                     n_perm: int = 20000, seed: int = 0) -> tuple[float, float, int]:
    """Spearman rank correlation of ``a`` and ``b`` with a two-sided permutation p-value.

    With few models (the book trains 3 to 6) the t-approximation of ``scipy.stats.spearmanr``
    is meaningless; the p-value here is the fraction of orderings of ``b`` whose ``|rho|``
    is at least the observed one (``scipy.stats.permutation_test`` on ``|rho|``, permuting
    ``b`` only): all ``n!`` orderings when ``n <= max_exact``, else ``n_perm`` seeded random
    ones. Ties get average ranks.

    Returns:
        ``(rho, p_value, n)``; ``rho`` is NaN (and ``p`` 1) when either input is constant.
    """
    x, z = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != z.shape or x.ndim != 1 or x.size < 3:
        raise ValueError(f"need two 1-D sequences of equal length >= 3, got shapes {x.shape}, {z.shape}")
    rx, rz = _st.rankdata(x), _st.rankdata(z)
    if np.ptp(rx) == 0 or np.ptp(rz) == 0:
        return float("nan"), 1.0, x.size
    u = rx - rx.mean()

    def abs_rho(v, axis=-1):  # |rho| of the ranks of a against an ordering of b's ranks
        v = v - v.mean(axis=axis, keepdims=True)
        return np.abs((u * v).sum(axis) / np.sqrt((u * u).sum() * (v * v).sum(axis)))

    obs = float(np.corrcoef(rx, rz)[0, 1])
    res = _st.permutation_test((rz,), abs_rho, permutation_type="pairings", vectorized=True,
                               n_resamples=np.inf if x.size <= max_exact else n_perm, alternative="greater",
                               rng=np.random.default_rng(seed))
    return obs, float(res.pvalue), x.size
