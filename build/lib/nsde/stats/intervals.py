"""Confidence intervals used by every table and verdict of the book (``scipy.stats``).

The paper reports point estimates on 32 images; the book reports every accuracy with a
95% interval over the evaluated set:

* :func:`wilson_interval`: a proportion (accuracy), ``scipy.stats.binomtest``'s Wilson
  score interval;
* :func:`bootstrap_interval`: the mean of per-sample scores, percentile bootstrap
  (``scipy.stats.bootstrap``);
* :func:`paired_difference`: the mean per-sample difference of two scores on the *same*
  samples (paired bootstrap), the test behind every "higher / lower / no difference";
* :func:`hierarchical_difference`: the same difference when each model was trained from
  several seeds: seeds and images are both resampled, so the interval covers what holds
  for the *method*, not for one initialisation.

Every function is seeded: the same data give the same interval.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

__all__ = ["Interval", "wilson_interval", "bootstrap_interval", "accuracy_interval", "paired_difference",
           "unpaired_difference",
           "hierarchical_difference", "hierarchical_interval", "grouped_difference", "format_interval", "N_BOOT"]

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


def hierarchical_difference(a, b, level: float = 0.95, n_boot: int = N_BOOT, seed: int = 0, *,
                            paired_seeds: bool = False) -> Interval:
    """``mean(a) - mean(b)`` for scores of several training seeds on the same images.

    Each resample draws the images with replacement (the same images for both models, so
    the comparison stays paired) and the training seeds with replacement: independently
    for each model, or, with ``paired_seeds`` (``a`` and ``b`` are two evaluations of the
    *same* trained models, seed ``i`` of one being seed ``i`` of the other), the same seed
    indices for both. The statistic is the mean over the drawn seeds and images. With one
    seed per model this is :func:`paired_difference`.

    Args:
        a: scores ``(S_a, N)`` (or ``(N,)`` for one seed) of model a on N images.
        b: scores ``(S_b, N)`` (or ``(N,)``) of model b on the same N images.
        paired_seeds: resample the seeds of ``a`` and ``b`` together (requires ``S_a == S_b``).

    Returns:
        :class:`Interval` with ``n`` the number of images.
    """
    a, b = np.atleast_2d(np.asarray(a, dtype=float)), np.atleast_2d(np.asarray(b, dtype=float))
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"expected scores (seeds, images) on the same images, but found shapes {a.shape} and {b.shape}")
    if a.shape[1] == 0:
        raise ValueError("no images to compare")
    if paired_seeds and len(a) != len(b):
        raise ValueError(f"paired seeds need as many seeds on both sides, but found {len(a)} and {len(b)}")
    _check_level(level)
    n = a.shape[1]
    est = float(a.mean() - b.mean())
    if n == 1 and len(a) == 1 and len(b) == 1:  # one image, one seed: no spread to resample
        return Interval(est, math.nan, math.nan, 1)
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    chunk = max(1, 2_000_000 // max(1, n * (len(a) + len(b))))
    for s in range(0, n_boot, chunk):
        m = min(chunk, n_boot - s)
        img = rng.integers(0, n, size=(m, n))
        sa = rng.integers(0, len(a), size=(m, len(a)))
        sb = sa if paired_seeds else rng.integers(0, len(b), size=(m, len(b)))
        # mean over drawn seeds of the per-seed image means, images drawn once per resample
        ma = a[sa[:, :, None], img[:, None, :]].mean(axis=(1, 2))
        mb = b[sb[:, :, None], img[:, None, :]].mean(axis=(1, 2))
        boots[s:s + m] = ma - mb
    q = (1 - level) / 2
    low, high = np.quantile(boots, [q, 1 - q])
    return Interval(est, float(low), float(high), int(n))


def hierarchical_interval(a, level: float = 0.95, n_boot: int = N_BOOT, seed: int = 0) -> Interval:
    """``mean(a)`` for scores ``(seeds, images)``, resampling seeds and images
    (:func:`hierarchical_difference` against zero)."""
    a = np.atleast_2d(np.asarray(a, dtype=float))
    return hierarchical_difference(a, np.zeros((1, a.shape[1])), level=level, n_boot=n_boot, seed=seed)


def grouped_difference(a, b=None, level: float = 0.95, n_boot: int = N_BOOT, seed: int = 0) -> Interval:
    """``mean(a) - mean(b)`` when each side is a list of groups (one per training seed) of
    values on *different* samples (e.g. ABC on each seed's correct predictions).

    Each resample draws each side's groups with replacement, then the values within every
    drawn group; the statistic is the mean of all drawn values. ``b=None`` gives the
    interval of ``mean(a)`` alone.

    Args:
        a, b: sequences of 1-D arrays (empty groups are allowed as long as one is not).
    """
    def clean(groups, name):
        groups = [np.asarray(g, dtype=float).ravel() for g in groups]
        if not groups or sum(g.size for g in groups) == 0:
            raise ValueError(f"{name} has no values")
        return groups

    ga = clean(a, "a")
    gb = clean(b, "b") if b is not None else None
    _check_level(level)
    mean_b = 0.0 if gb is None else float(np.concatenate(gb).mean())
    est = float(np.concatenate(ga).mean()) - mean_b
    rng = np.random.default_rng(seed)

    def draw(groups):
        picked = [groups[i] for i in rng.integers(0, len(groups), len(groups))]
        vals = [g[rng.integers(0, g.size, g.size)] for g in picked if g.size]
        return np.concatenate(vals).mean() if vals else np.nan

    boots = np.array([draw(ga) - (0.0 if gb is None else draw(gb)) for _ in range(n_boot)])
    boots = boots[~np.isnan(boots)]
    if boots.size == 0 or sum(g.size for g in ga) + (0 if gb is None else sum(g.size for g in gb)) < 3:
        return Interval(est, math.nan, math.nan, int(sum(g.size for g in ga)))
    q = (1 - level) / 2
    low, high = np.quantile(boots, [q, 1 - q])
    return Interval(est, float(low), float(high), int(sum(g.size for g in ga) + (0 if gb is None else
                                                                                 sum(g.size for g in gb))))


def format_interval(iv: Interval, percent: bool = True, digits: int = 1) -> str:
    """``'87.2 [84.0, 90.1]'`` (percent) or ``'0.497 [0.450, 0.540]'``."""
    if percent:
        return f"{100 * iv.estimate:.{digits}f} [{100 * iv.low:.{digits}f}, {100 * iv.high:.{digits}f}]"
    d = digits + 2
    return f"{iv.estimate:.{d}f} [{iv.low:.{d}f}, {iv.high:.{d}f}]"
