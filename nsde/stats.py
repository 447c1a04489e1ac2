"""Confidence intervals used by every table of the book.

The paper reports point estimates on 32 images; the book reports every accuracy with a
95% interval over the evaluated set: Wilson intervals for proportions and percentile
bootstrap intervals for means of per-sample scores.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Interval", "wilson_interval", "bootstrap_interval", "format_interval"]


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval."""

    estimate: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return format_interval(self)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> Interval:
    """Wilson score interval for a binomial proportion (accuracy).

    Args:
        successes: number of correct predictions.
        n: number of evaluated samples, > 0.
        level: two-sided confidence level.
    """
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, {n}], got {successes}")
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half), n)


def bootstrap_interval(values, level: float = 0.95, n_boot: int = 2000, seed: int = 0,
                       statistic=np.mean) -> Interval:
    """Percentile bootstrap interval of ``statistic`` over per-sample ``values``.

    Args:
        values: 1-D array of per-sample scores (e.g. 0/1 correctness, ABC values).
        level: two-sided confidence level.
        n_boot: bootstrap resamples.
        seed: seed of the resampling, so the same data give the same interval.
        statistic: reduction applied to each resample (default: mean).
    """
    values = np.asarray(values, dtype=float).ravel()
    if values.size == 0:
        raise ValueError("bootstrap_interval needs at least one value")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, values.size, size=(n_boot, values.size))
    boots = statistic(values[idx], axis=1)
    alpha = (1 - level) / 2
    low, high = np.quantile(boots, [alpha, 1 - alpha])
    return Interval(float(statistic(values)), float(low), float(high), int(values.size))


def format_interval(iv: Interval, percent: bool = True, digits: int = 1) -> str:
    """``'87.2 [84.0, 90.1]'`` (percent) or ``'0.497 [0.45, 0.54]'``."""
    if percent:
        return f"{100 * iv.estimate:.{digits}f} [{100 * iv.low:.{digits}f}, {100 * iv.high:.{digits}f}]"
    d = digits + 2
    return f"{iv.estimate:.{d}f} [{iv.low:.{d}f}, {iv.high:.{d}f}]"
