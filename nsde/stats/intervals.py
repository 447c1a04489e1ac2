"""Confidence intervals used by every table and verdict of the book (``scipy.stats``).

The paper reports point estimates on 32 images; the book reports every accuracy with a
95% interval over the evaluated set:

* :func:`wilson_interval`: a proportion (accuracy), ``scipy.stats.binomtest``'s Wilson
  score interval;
* :func:`bootstrap_interval`: the mean of per-sample scores, percentile bootstrap
  (``scipy.stats.bootstrap``);
* :func:`paired_difference`, :func:`unpaired_difference`: the mean difference of two
  scores on the same (or on different) samples, percentile bootstrap: for one trained
  network of each model, where the images are the only sampling.

Comparisons of models trained from several seeds are tests whose unit is the seed
(:mod:`nsde.stats.inference`): a bootstrap over seeds and images under-covers at the
book's 2 to 8 seeds (``tests/test_calibration.py``).

Every function is seeded: the same data give the same interval.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

__all__ = ["Interval", "wilson_interval", "bootstrap_interval", "accuracy_interval", "paired_difference",
           "unpaired_difference", "format_interval", "N_BOOT"]

#: Bootstrap resamples of every interval.
N_BOOT = 2000


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval over ``n`` samples."""

    estimate: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return format_interval(self)


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), but found {level!r}")


def wilson_interval(successes: int, n: int, level: float = 0.95) -> Interval:
    """Wilson score interval for a binomial proportion (accuracy).

    Args:
        successes: number of correct predictions, in ``[0, n]``.
        n: number of evaluated samples, > 0.
        level: two-sided confidence level.
    """
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, {n}], got {successes}")
    _check_level(level)
    ci = _st.binomtest(int(successes), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return Interval(successes / n, float(ci.low), float(ci.high), int(n))


def _percentile_bootstrap(data: tuple, statistic, level: float, n_boot: int, seed: int, paired: bool):
    ci = _st.bootstrap(data, statistic, n_resamples=n_boot, confidence_level=level, method="percentile",
                       paired=paired, vectorized=True, rng=np.random.default_rng(seed)).confidence_interval
    return float(ci.low), float(ci.high)


def bootstrap_interval(values, level: float = 0.95, n_boot: int = N_BOOT, seed: int = 0,
                       statistic=np.mean) -> Interval:
    """Percentile bootstrap interval of ``statistic`` over per-sample ``values``.

    Args:
        values: 1-D array of per-sample scores (e.g. 0/1 correctness, ABC values).
        level: two-sided confidence level.
        n_boot: bootstrap resamples.
        seed: seed of the resampling, so the same data give the same interval.
        statistic: a NumPy reduction taking ``axis`` (default: the mean).
    """
    values = np.asarray(values, dtype=float).ravel()
    if values.size == 0:
        raise ValueError("bootstrap_interval needs at least one value")
    _check_level(level)
    est = float(statistic(values))
    if values.size == 1:  # one value has no spread to resample: the interval is undefined
        return Interval(est, math.nan, math.nan, 1)
    low, high = _percentile_bootstrap((values,), lambda v, axis: statistic(v, axis=axis), level, n_boot, seed,
                                      paired=False)
    return Interval(est, low, high, int(values.size))


def accuracy_interval(correct, level: float = 0.95, seed: int = 0) -> Interval:
    """Accuracy with its interval from per-image correctness.

    0/1 correctness (a deterministic model, or one scoring of a random one) gets the Wilson
    interval; fractional correctness (a random model's expected correctness per image, the
    mean of several scorings) gets a bootstrap interval over images, which then also
    carries the spread of the scorings.
    """
    c = np.asarray(correct, dtype=float).ravel()
    if c.size == 0:
        raise ValueError("accuracy_interval needs at least one image")
    if np.any((c < 0) | (c > 1)):
        raise ValueError(f"correctness must lie in [0, 1], but found values in [{c.min():g}, {c.max():g}]")
    if np.all((c == 0) | (c == 1)):
        return wilson_interval(int(c.sum()), c.size, level)
    return bootstrap_interval(c, level=level, seed=seed)


def paired_difference(a, b, level: float = 0.95, n_boot: int = N_BOOT, seed: int = 0) -> Interval:
    """Mean of ``a - b`` over paired samples, with a paired percentile bootstrap interval.

    Args:
        a, b: per-sample scores of two models on the same samples, 1-D of equal length.
    """
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"a paired difference needs the same samples, but found {a.size} and {b.size} values")
    return bootstrap_interval(a - b, level=level, n_boot=n_boot, seed=seed)


def unpaired_difference(a, b, level: float = 0.95, n_boot: int = N_BOOT, seed: int = 0) -> Interval:
    """``mean(a) - mean(b)`` for two independent samples (e.g. ABC on two models' correct
    predictions, which are different images), each resampled on its own (percentile
    bootstrap, ``scipy.stats.bootstrap`` with two samples)."""
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError(f"an unpaired difference needs values on both sides, but found {a.size} and {b.size}")
    _check_level(level)
    est = float(a.mean() - b.mean())
    if a.size == 1 or b.size == 1:  # undefined with one value on a side
        return Interval(est, math.nan, math.nan, int(a.size + b.size))
    low, high = _percentile_bootstrap((a, b), lambda u, v, axis: u.mean(axis=axis) - v.mean(axis=axis), level, n_boot,
                                      seed, paired=False)
    return Interval(est, low, high, int(a.size + b.size))


def format_interval(iv: Interval, percent: bool = True, digits: int = 1) -> str:
    """``'87.2 [84.0, 90.1]'`` (percent) or ``'0.497 [0.450, 0.540]'``."""
    if percent:
        return f"{100 * iv.estimate:.{digits}f} [{100 * iv.low:.{digits}f}, {100 * iv.high:.{digits}f}]"
    d = digits + 2
    return f"{iv.estimate:.{d}f} [{iv.low:.{d}f}, {iv.high:.{d}f}]"
