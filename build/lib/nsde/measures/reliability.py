"""Does a confidence score tell right predictions from wrong ones? AUROC (with intervals),
risk-coverage curves and AURC, for ABC (:mod:`nsde.measures.abc`) against the maximum
softmax probability, the signal to beat."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import rankdata

from nsde.stats.intervals import N_BOOT, Interval

__all__ = ["check_scores", "max_softmax", "auroc", "auroc_interval", "auroc_difference", "risk_coverage", "aurc", "reliability_row"]


def max_softmax(probs: torch.Tensor | np.ndarray) -> np.ndarray:
    """Maximum softmax probability ``(N,)`` of probabilities ``(N, C)``."""
    p = np.asarray(probs, dtype=float)
    if p.ndim != 2:
        raise ValueError(f"probs must be (N, C), got shape {p.shape}")
    return p.max(1)


def check_scores(scores, correct) -> tuple[np.ndarray, np.ndarray]:
    """Scores ``(N,)`` (finite) and correctness ``(N,)`` (bool) of the same predictions."""
    s = np.asarray(scores, dtype=float).ravel()
    c = np.asarray(correct).ravel()
    if s.shape != c.shape:
        raise ValueError(f"scores ({s.size}) and correct ({c.size}) differ in length")
    if s.size == 0:
        raise ValueError("scores are empty")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or infinite values")
    return s, c.astype(bool)


def auroc(scores, correct) -> float:
    """Area under the ROC curve of ``scores`` for telling correct (positive) from incorrect.

    Rank (Mann-Whitney) formula: ``(R_+ - n_+(n_+ + 1)/2) / (n_+ n_-)`` with ``R_+`` the
    sum of the average ranks (``scipy.stats.rankdata``) of the positives; a tie between a correct and an incorrect
    prediction counts 1/2. 0.5 is chance, 1 a perfect separation.

    Returns:
        The AUROC, or NaN when only one class is present.
    """
    s, c = check_scores(scores, correct)
    n_pos, n_neg = int(c.sum()), int((~c).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r = rankdata(s)
    return float((r[c].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auroc_interval(scores, correct, *, level: float = 0.95, n_boot: int = N_BOOT, seed: int = 0) -> Interval:
    """AUROC with a percentile bootstrap interval (resamples that lack a class are skipped).

    Returns:
        :class:`nsde.stats.intervals.Interval` (all NaN when only one class is present).
    """
    s, c = check_scores(scores, correct)
    return _bootstrap_over_predictions(lambda i: auroc(s[i], c[i]), s.size, level, n_boot, seed)


def auroc_difference(scores_a, scores_b, correct, *, level: float = 0.95, n_boot: int = N_BOOT,
                     seed: int = 0) -> Interval:
    """AUROC(a) - AUROC(b) on the same predictions, with a paired bootstrap interval.

    Both signals are resampled with the same indices, so the interval accounts for their
    correlation; an interval excluding 0 says one signal ranks better than the other.
    """
    a, c = check_scores(scores_a, correct)
    b, _ = check_scores(scores_b, correct)
    return _bootstrap_over_predictions(lambda i: auroc(a[i], c[i]) - auroc(b[i], c[i]), c.size, level, n_boot, seed)


def _bootstrap_over_predictions(statistic, n: int, level: float, n_boot: int, seed: int) -> Interval:
    """Percentile bootstrap of ``statistic(indices)`` over ``n`` predictions; resamples whose
    statistic is undefined (NaN: a resample with one class only) are skipped."""
    est = statistic(np.arange(n))
    if math.isnan(est):
        return Interval(est, est, est, int(n))
    rng = np.random.default_rng(seed)
    boots = [v for v in (statistic(rng.integers(0, n, n)) for _ in range(n_boot)) if not math.isnan(v)]
    q = (1 - level) / 2
    low, high = np.quantile(boots, [q, 1 - q])
    return Interval(float(est), float(low), float(high), int(n))


def risk_coverage(scores, correct) -> pd.DataFrame:
    """Risk-coverage curve: keep the predictions whose score is at least a threshold.

    One point per distinct threshold (ties enter together), from the most confident.

    Returns:
        DataFrame with ``threshold``, ``coverage`` (fraction kept) and ``risk`` (error
        rate among the kept), ordered by increasing coverage.
    """
    s, c = check_scores(scores, correct)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, err = s[order], (~c[order]).astype(float)
    cum_err = np.cumsum(err)
    k = np.arange(1, s.size + 1)
    last = np.r_[s_sorted[1:] != s_sorted[:-1], True]  # end of each group of ties
    return pd.DataFrame({"threshold": s_sorted[last], "coverage": k[last] / s.size,
                         "risk": cum_err[last] / k[last]})


def aurc(scores, correct) -> float:
    """Area under the risk-coverage curve (step interpolation between thresholds); lower is better.

    A perfect ranking gives ``sum over the incorrect of (coverage-weighted) risk``, far
    below the error rate; a useless score gives about the error rate.
    """
    rc = risk_coverage(scores, correct)
    cov = np.r_[0.0, rc["coverage"].to_numpy()]
    return float(np.sum(np.diff(cov) * rc["risk"].to_numpy()))


def reliability_row(scores, correct, *, n_boot: int = N_BOOT, seed: int = 0, **labels: Any) -> dict[str, Any]:
    """One row of a reliability table: ``labels``, counts, AUROC with interval, AURC, accuracy."""
    s, c = check_scores(scores, correct)
    iv = auroc_interval(s, c, n_boot=n_boot, seed=seed)
    return {**labels, "n": int(s.size), "accuracy": float(c.mean()), "n_incorrect": int((~c).sum()),
            "auroc": iv.estimate, "auroc_low": iv.low, "auroc_high": iv.high, "aurc": aurc(s, c)}
