"""Tests at the level of the method: the training seed is the unit that varies between two
methods, so a verdict on a method rests on per-seed endpoints, paired by seed where the
design pairs them (see :mod:`nsde.report.calibration` for the measured error rates).

* :func:`rank_correlation`: Spearman's rho across a handful of models with an exact
  permutation p-value (``scipy.stats.permutation_test``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import stats as _st

__all__ = ["rank_correlation"]


def rank_correlation(a: Sequence[float], b: Sequence[float], *, max_exact: int = 8,
                     n_perm: int = 20000, seed: int = 0) -> tuple[float, float, int]:
    """Spearman rank correlation of ``a`` and ``b`` with a two-sided permutation p-value.

    With few models (the book trains 3 to 6) the t-approximation of ``scipy.stats.spearmanr``
    is meaningless; the p-value here is the fraction of orderings of ``b`` whose ``|rho|``
    is at least the observed one (``scipy.stats.permutation_test`` on ``|rho|``, permuting
``b`` only): all
    ``n!`` orderings when ``n <= max_exact``, else ``n_perm`` seeded random ones. Ties get
    average ranks.

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
