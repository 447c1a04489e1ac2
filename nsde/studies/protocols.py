"""The book's evaluation protocols as data and functions: which classifiers are compared,
which images are attacked, the gradient-masking protocol, and the settings of ABC and of
the stability measure, so that chapters and studies use one definition of each.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from nsde._infra.checks import positive_int
from nsde.stats.compare import compare_scores, compare_tables, outcome

__all__ = ["masking_checks", "clean_correct_subset"]


def masking_checks(table: pd.DataFrame, *, iterations: pd.DataFrame | None = None,
                   eot: pd.DataFrame | None = None, transfer: pd.DataFrame | None = None,
                   square: pd.DataFrame | None = None, fp32: pd.DataFrame | None = None, large_eps: bool = True,
                   zero_tolerance: float = 0.01, seed: int = 0) -> pd.DataFrame:
    """The gradient-masking checks of Athalye et al. (2018) on one attack table.

    Each comparison is paired on the same images; a check fails only when its 95%
    bootstrap interval excludes "no worse" (the tolerance is the scoring noise).

    Args:
        table: the white-box :func:`attack_table` (budgets increasing).
        iterations: the same attack with more iterations (same images, a subset of budgets).
        eot: the same attack with more EOT draws.
        transfer: :func:`transfer_table` from a surrogate on the same images.
        square: the gradient-free Square attack's table.
        fp32: the same attack with float32 gradients (when the model runs in bf16: low-
            precision gradients are a known source of masking).
        large_eps: whether the table reaches budgets large enough that accuracy must be ~0;
            ``False`` reports that check as not tested (``passed`` is ``None``).
        zero_tolerance: the lower end of the accuracy interval at the largest budget must
            be at most this for "reaches 0" (so the tolerance includes the scoring noise).
        seed: bootstrap seed.

    Returns:
        DataFrame ``check, value, low, high, passed`` (fractions; ``value`` is the largest
        rise or gap found, with its interval).
    """
    rows = []
    eps = table["eps"].tolist()
    rises = [compare_scores(np.asarray(table.attrs["correct"][b]), np.asarray(table.attrs["correct"][a]), seed,
                            same_models=True) for a, b in zip(eps, eps[1:])]
    if rises:
        worst = max(rises, key=lambda iv: iv.estimate)
        rows.append(dict(check="accuracy does not rise with eps (largest rise)", value=worst.estimate,
                         low=worst.low, high=worst.high, passed=all(outcome(iv) != "higher" for iv in rises)))
    acc, low = float(table["accuracy"].iloc[-1]), float(table["low"].iloc[-1])
    rows.append(dict(check=f"accuracy at the largest eps ({eps[-1]:g}) is ~0"
                           + ("" if large_eps else ": not tested, budgets too small to require 0"),
                     value=acc, low=low, high=float(table["high"].iloc[-1]),
                     passed=(low <= zero_tolerance) if large_eps else None))
    # (label, a, b): the check fails when a is significantly above b on the same images
    pairs = (("more iterations raise accuracy by", iterations, table),
             ("more EOT draws raise accuracy by", eot, table),
             ("white-box minus transfer accuracy", table, transfer),
             ("white-box minus Square accuracy", table, square),
             ("bf16 minus fp32-gradient accuracy", table, fp32))
    for label, a, b in pairs:
        if a is None or b is None:
            continue
        cmp = compare_tables(a, b, "eps", seed=seed, same_models=True)
        i = cmp.index[cmp["outcome"] == "higher"][0] if (cmp["outcome"] == "higher").any() else cmp["difference"].idxmax()
        rows.append(dict(check=f"{label} (largest, eps {i:g})", value=float(cmp.loc[i, "difference"]),
                         low=float(cmp.loc[i, "low"]), high=float(cmp.loc[i, "high"]),
                         passed=not bool((cmp["outcome"] == "higher").any())))
    return pd.DataFrame(rows, columns=["check", "value", "low", "high", "passed"])


def clean_correct_subset(scores: dict[str, np.ndarray], n: int | None, threshold: float = 1.0) -> np.ndarray:
    """Indices of the first ``n`` images that every compared model classifies correctly.

    Args:
        scores: ``{model: clean correctness (N,) or (seeds, N)}`` on the same candidate
            images (expected correctness for random models); an image counts as correct for
            a model when every seed's correctness is at least ``threshold`` (1: right in
            every scoring).
        n: how many to keep, an int >= 1 (``None``: all that qualify).
        threshold: the correctness in ``(0, 1]`` every seed must reach.

    Returns:
        int64 indices into the candidate images, in their order.
    """
    if n is not None:
        n = positive_int("n", n)
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], but found {threshold!r}")
    mats = [np.atleast_2d(np.asarray(s, dtype=float)) for s in scores.values()]
    if not mats:
        raise ValueError("clean_correct_subset needs the scores of at least one model")
    size = {m.shape[1] for m in mats}
    if len(size) != 1:
        raise ValueError(f"the models were scored on different numbers of images: {sorted(size)}")
    ok = np.all(np.vstack([m >= threshold for m in mats]), axis=0)
    idx = np.flatnonzero(ok)
    return idx if n is None else idx[:n]
