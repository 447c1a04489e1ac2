"""Comparing models on the same images: seed-pooled tables and paired differences.

The tables of :mod:`nsde.measures.robustness` and :mod:`nsde.measures.attacks` have one row per setting (a
noise intensity, an L2 budget) and keep the per-image correctness in
``df.attrs["correct"]``. This module

* pools the tables of several training seeds of one model (:func:`pool_seeds`): accuracy
  averaged over seeds, with an interval whose unit is the seed;
* compares two models row by row (:func:`compare_tables`): the difference of their
  accuracies on the same images, seeds paired by index (:func:`nsde.stats.inference.seed_test`),
  and its outcome, ``"higher"``, ``"lower"`` or ``"no difference"`` (:func:`outcome`);
* tests a primary endpoint over several rows (:func:`endpoint_tests`) and keeps the rows
  where a model beats chance (:func:`informative_settings`);
* formats them.

The sentences a reader takes away are written from these outcomes by :mod:`nsde.report.verdicts`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy.stats import binomtest as _binomtest

from nsde.stats.inference import SeedTest, mean_over_settings, seed_test
from nsde.stats.intervals import Interval, accuracy_interval

__all__ = ["OUTCOMES", "outcome", "scores", "pool_seeds", "compare_tables", "compare_scores", "interval_at",
           "format_tables", "pool_interval", "table_from_scores", "endpoint_tests", "informative_settings"]

#: Outcomes of a comparison of ``a`` with ``b``.
OUTCOMES = ("higher", "lower", "no difference")


def outcome(iv: Interval) -> str:
    """``"higher"`` when the interval of ``a - b`` lies above 0, ``"lower"`` below, else
    ``"no difference"``."""
    return "higher" if iv.low > 0 else "lower" if iv.high < 0 else "no difference"


def scores(table: pd.DataFrame, value: float) -> np.ndarray:
    """Per-image correctness of one row, ``(seeds, N)`` float."""
    correct = table.attrs.get("correct")
    if correct is None:
        raise ValueError("the table keeps no per-image correctness in df.attrs['correct'] (tables from "
                         "noise_accuracy, attack_table or pool_seeds do)")
    if value not in correct:
        raise KeyError(f"the table has no row {value!r}; rows: {list(correct)}")
    return np.atleast_2d(np.asarray(correct[value], dtype=float))


def pool_seeds(tables: Sequence[pd.DataFrame], xcol: str, seed: int = 0) -> pd.DataFrame:
    """One table for several training seeds of one model, scored on the same images.

    Args:
        tables: one table per seed (same ``xcol`` values, same images).
        xcol: the row variable (``"intensity"``, ``"eps"``).
        seed: seed of a one-seed bootstrap.

    Returns:
        DataFrame ``xcol, accuracy, low, high, n, seeds, seed sd``: the accuracy averaged over
        seeds, its 95% interval with the seed as unit (:func:`nsde.stats.inference.seed_test`;
        with one seed, over the images: Wilson, or a bootstrap for expected correctness),
        and the standard deviation of the seeds' accuracies; ``attrs["correct"]`` maps each
        row to ``(seeds, N)``.
    """
    tables = list(tables)
    if not tables:
        raise ValueError("pool_seeds needs at least one table")
    values = tables[0][xcol].tolist()
    for t in tables[1:]:
        if t[xcol].tolist() != values:
            raise ValueError(f"the seeds' tables have different {xcol} rows: {values} vs {t[xcol].tolist()}")
    sizes = {scores(t, v).shape[1] for t in tables for v in values}
    if len(sizes) != 1:
        raise ValueError(f"the seeds' tables were scored on different numbers of images: {sorted(sizes)}")
    rows, correct = [], {}
    for v in values:
        m = np.vstack([scores(t, v) for t in tables])
        iv = pool_interval(m, seed=seed)
        per_seed = m.mean(1)  # an accuracy lies in [0, 1]: so does its interval
        rows.append({xcol: v, "accuracy": iv.estimate, "low": max(0.0, iv.low), "high": min(1.0, iv.high),
                     "n": m.shape[1],
                     "seeds": len(m), "seed sd": float(per_seed.std(ddof=1)) if len(m) > 1 else float("nan")})
        correct[v] = tuple(tuple(r) for r in m.tolist())
    df = pd.DataFrame(rows)
    df.attrs["correct"] = correct
    return df


def pool_interval(correct, seed: int = 0) -> Interval:
    """One model's accuracy over seeds and images, ``(seeds, N)``, with its 95% interval:
    the seed as unit (:func:`nsde.stats.inference.seed_test`) with two seeds or more, the
    images with one (Wilson for 0/1 correctness, a bootstrap for expected correctness)."""
    m = np.atleast_2d(np.asarray(correct, dtype=float))
    return accuracy_interval(m[0], seed=seed) if len(m) == 1 else seed_test(m).interval


def compare_scores(a: np.ndarray, b: np.ndarray, seed: int = 0, *, same_models: bool = False) -> Interval:
    """``mean(a) - mean(b)`` for per-image scores ``(seeds, N)`` (or ``(N,)``) on the same
    images, seeds paired by index, with the interval of :func:`nsde.stats.inference.seed_test`
    (the seed as unit; with one seed, the images). ``seed`` and ``same_models`` are kept
    for callers: two evaluations of the same trained models are paired by seed like the
    models of one seed index are."""
    return seed_test(np.atleast_2d(a), np.atleast_2d(b)).interval


def compare_tables(a: pd.DataFrame, b: pd.DataFrame, xcol: str, *, seed: int = 0,
                   same_models: bool = False) -> pd.DataFrame:
    """Row by row, is ``a`` higher or lower than ``b`` on the same images?

    Args:
        a, b: tables with per-image correctness (one seed, or pooled by :func:`pool_seeds`).
        xcol: the column to match rows on (``"intensity"`` or ``"eps"``).
        seed: seed of the bootstrap.
        same_models: ``a`` and ``b`` evaluate the same trained models (an adaptive against
            a non-adaptive attack, the ensemble against its own noise-off network): their
            seeds are resampled together, which keeps the comparison paired by seed.

    Returns:
        DataFrame indexed by the shared ``xcol`` values with columns ``difference, low,
        high`` (of ``a - b``, fractions), ``n`` (images) and ``outcome`` (:data:`OUTCOMES`).

    Raises:
        ValueError: the tables were scored on different numbers of images.
    """
    shared = [v for v in a[xcol].tolist() if v in set(b[xcol].tolist())]
    if not shared:
        raise ValueError(f"the tables share no {xcol} value: {a[xcol].tolist()} vs {b[xcol].tolist()}")
    rows = []
    for v in shared:
        sa, sb = scores(a, v), scores(b, v)
        if sa.shape[1] != sb.shape[1]:
            raise ValueError(f"a paired comparison needs the same images, but at {xcol}={v:g} one table has "
                             f"{sa.shape[1]} and the other {sb.shape[1]}")
        iv = compare_scores(sa, sb, seed=seed, same_models=same_models)
        rows.append({xcol: v, "difference": iv.estimate, "low": iv.low, "high": iv.high, "n": iv.n,
                     "outcome": outcome(iv)})
    return pd.DataFrame(rows).set_index(xcol)


def interval_at(comparison: pd.DataFrame, value: float) -> Interval:
    """The difference at one row of a :func:`compare_tables` result, as an :class:`Interval`."""
    if value not in comparison.index:
        raise KeyError(f"the comparison has no row {value!r}; rows: {list(comparison.index)}")
    r = comparison.loc[value]
    return Interval(float(r["difference"]), float(r["low"]), float(r["high"]), int(r["n"]))


def format_tables(tables: dict[str, pd.DataFrame], xcol: str, digits: int = 1) -> pd.DataFrame:
    """Side-by-side ``"acc [low, high]"`` strings (percent), one column per labelled table.

    Rows are the union of the tables' ``xcol`` values; a table without a row shows "-".
    """
    out = {}
    for label, df in tables.items():
        out[label] = {float(v): f"{100 * a:.{digits}f} [{100 * lo:.{digits}f}, {100 * hi:.{digits}f}]"
                      for v, a, lo, hi in zip(df[xcol], df["accuracy"], df["low"], df["high"])}
    res = pd.DataFrame(out).sort_index().fillna("-")
    res.index.name = xcol
    return res




def table_from_scores(xcol: str, values: Sequence[float], scores: Sequence) -> pd.DataFrame:
    """A table of per-image correctness like those of the measures: one row per setting of
    ``xcol``, ``accuracy`` (mean over seeds and images) and ``df.attrs["correct"]``
    (``(seeds, N)`` per setting). For simulated or hand-made comparisons."""
    values = [float(v) for v in values]
    mats = [np.atleast_2d(np.asarray(s, dtype=float)) for s in scores]
    if len(mats) != len(values):
        raise ValueError(f"one score matrix per setting: {len(values)} settings, {len(mats)} matrices")
    df = pd.DataFrame({xcol: values, "accuracy": [float(m.mean()) for m in mats],
                       "seeds": [m.shape[0] for m in mats], "n": [m.shape[1] for m in mats]})
    df.attrs["correct"] = {v: tuple(tuple(r) for r in m.tolist()) for v, m in zip(values, mats)}
    return df


def endpoint_tests(a: pd.DataFrame, b: pd.DataFrame, xcol: str, settings: Sequence[float], *,
                   level: float = 0.95) -> tuple[SeedTest, dict[float, SeedTest]]:
    """The primary endpoint of a comparison and its per-setting secondaries.

    The primary endpoint is the mean over ``settings`` of ``a``'s per-image score minus
    ``b``'s, seeds paired by index (:func:`nsde.stats.inference.seed_test` on the
    per-image scores averaged over the settings); the secondaries are the same test at
    each setting.

    Args:
        a, b: tables with per-image correctness (``df.attrs["correct"]``, ``(seeds, N)``
            per row) on the same images and seeds.
        xcol: the row variable (``"intensity"``, ``"eps"``).
        settings: the rows the endpoint averages over.

    Returns:
        ``(primary, {setting: test})``.

    Raises:
        ValueError: no settings, a setting missing from a table, or tables on other images.
    """
    settings = [float(v) for v in settings]
    if not settings:
        raise ValueError("an endpoint needs at least one setting")
    sa = {v: scores(a, v) for v in settings}
    sb = {v: scores(b, v) for v in settings}
    for v in settings:
        if sa[v].shape != sb[v].shape:
            raise ValueError(f"at {xcol}={v:g} the tables hold {sa[v].shape} and {sb[v].shape} scores (seeds, "
                             "images): a paired comparison needs the same seeds and images")
    primary = seed_test(mean_over_settings(list(sa.values())), mean_over_settings(list(sb.values())), level=level)
    return primary, {v: seed_test(sa[v], sb[v], level=level) for v in settings}


def informative_settings(table: pd.DataFrame, xcol: str, chance: float, *, alpha: float = 0.01) -> list[float]:
    """The rows at which a model beats chance: at every seed, an exact one-sided binomial
    test of its accuracy on the table's images against the rate ``chance`` (the share of
    the most frequent class among them) rejects at level ``alpha``.

    Args:
        table: a model's table with per-image correctness (validation images, for a rule
            declared before the test data are seen).
        xcol: the row variable.
        chance: the accuracy of always predicting the most frequent class.
        alpha: the level of each seed's test.
    """
    if not 0 < chance < 1:
        raise ValueError(f"chance must lie in (0, 1), but found {chance!r}")
    keep = []
    for v in table[xcol].tolist():
        m = scores(table, v)
        n = m.shape[1]
        ok = all(_binomtest(int(round(row.sum())), n, chance, alternative="greater").pvalue < alpha for row in m)
        if ok:
            keep.append(float(v))
    return keep
