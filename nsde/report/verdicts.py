"""The book's secondary sentences, computed from comparisons (never typed in).

The verdict on each of the paper's claims is :func:`nsde.report.claims.judge`'s, with its
own sentence (:meth:`nsde.report.claims.Verdict.sentence`). The functions here word what
surrounds the verdicts: the per-setting outcomes of a comparison (``"higher" / "lower" /
"no difference"``, :mod:`nsde.stats.compare`), a rank correlation across models, the noise
shape grid, the masking checks, and the facts the nbval tests check. Each is tested on
hand-made inputs whose right answer is known (``tests/test_verdicts.py``) and returns
Markdown prose that chapters display with ``IPython.display.Markdown``.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import pandas as pd

from nsde.stats.compare import outcome as _outcome
from nsde.stats.intervals import Interval

__all__ = ["english_list", "comparison_sentence", "difference_phrase", "stability_sentence", "correlation_sentence",
           "data_size_sentence", "shape_choice_sentence", "grid_best_sentence", "grid_verdict", "beats_chance",
           "loses_accuracy", "masking_summary", "correlation_word"]


def english_list(items: Sequence[str], conjunction: str = "and", serial: bool = False) -> str:
    """``[] -> ""``, ``[a] -> "a"``, ``[a, b] -> "a and b"``, ``[a, b, c] -> "a, b and c"``
    (``"a, b, and c"`` with ``serial=True``, for lists of clauses)."""
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    comma = "," if serial and len(items) > 2 else ""
    return f"{', '.join(items[:-1])}{comma} {conjunction} {items[-1]}"


def _other(k: int) -> str:
    return "the other one" if k == 1 else f"the other {k}"


def _fmt(v: float) -> str:
    return f"{v:g}"


def _at(k: int, n: int, values: Sequence[float], unit: str, units: str) -> str:
    where = f" ({english_list([_fmt(v) for v in values])})" if k < n else ""
    return f"at {k} of {n} {unit if n == 1 else units}{where}" if k < n else \
        (f"at the {unit}" if n == 1 else f"at all {n} {units}")


def comparison_sentence(subject: str, reference: str, comparison: pd.DataFrame, *, unit: str = "intensity",
                        units: str = "intensities", higher: str = "more accurate than",
                        lower: str = "less accurate than") -> str:
    """One sentence counting where ``subject`` is above, below or level with ``reference``.

    Args:
        subject, reference: the compared models, as the reader should read them.
        comparison: a :func:`nsde.stats.compare.compare_tables` result (index: the settings,
            column ``outcome``).
        unit, units: the setting's name, singular and plural.
        higher, lower: the relation words.

    Example:
        ``"The NSDE is more accurate than the baseline at 2 of 8 intensities (0.05 and
        0.1) and not distinguishable at the other 6."``; with no difference anywhere,
        ``"The NSDE is not distinguishable from the baseline at any of the 8 intensities."``
    """
    out = comparison["outcome"].tolist()
    idx = list(comparison.index)
    n = len(out)
    hi = [v for v, o in zip(idx, out) if o == "higher"]
    lo = [v for v, o in zip(idx, out) if o == "lower"]
    rest = n - len(hi) - len(lo)
    everywhere = f"at the {unit}" if n == 1 else f"at any of the {n} {units}"
    if not hi and not lo:
        return f"{subject} is not distinguishable from {reference} {everywhere}."
    parts = []
    if hi:
        parts.append(f"{higher} {reference} {_at(len(hi), n, hi, unit, units)}")
    if lo:
        parts.append(f"{lower} {'it' if hi else reference} {_at(len(lo), n, lo, unit, units)}")
    if rest:
        parts.append(f"not distinguishable at {_other(rest)}")
    return f"{subject} is {english_list(parts, serial=True)}."


def difference_phrase(iv: Interval, unit: str = "points", scale: float = 100.0, digits: int = 1) -> str:
    """``"+4.2 points [1.1, 7.5]"`` for a difference of fractions (``scale=100``)."""
    return (f"{scale * iv.estimate:+.{digits}f} {unit} [{scale * iv.low:+.{digits}f}, "
            f"{scale * iv.high:+.{digits}f}]")


def _direction(iv: Interval) -> str:
    return _outcome(iv)


def stability_sentence(difference: Interval, *, measure: str, lower_is_stable: bool, subject: str = "the NSDE",
                       reference: str = "the baseline", paper: str | None = None) -> str:
    """Is ``subject``'s attribution more stable than ``reference``'s under one measure?

    Args:
        difference: per-image mean of (subject - reference) of the measure.
        measure: its name.
        lower_is_stable: whether a lower value means more stable (the log change) or higher
            (top-k overlap, Spearman).
        paper: what the paper reports, appended when given.
    """
    d = _direction(difference)
    if d == "no difference":
        verdict = f"not distinguishable between {subject} and {reference}"
    else:
        more = (d == "lower") == lower_is_stable
        verdict = f"{'more' if more else 'less'} stable for {subject} than for {reference}"
    text = (f"By the {measure}, attributions are {verdict} ({subject} minus {reference}: "
            f"{difference.estimate:+.3f} [{difference.low:+.3f}, {difference.high:+.3f}], {difference.n} images)")
    return text + (f"; the paper reports {paper}." if paper else ".")


def _correlation_outcome(rho: float, p: float, alpha: float) -> str:
    """``agrees with``, ``runs against`` or ``inconclusive``: the sign of ``rho`` counts only
    where the exact permutation test rejects independence at level ``alpha``."""
    if p > alpha:
        return "inconclusive"
    return "agrees with" if rho > 0 else "runs against"


def correlation_sentence(rho: float, p: float, n: int, *, x: str = "SRS", y: str = "mean robust accuracy",
                         claim: str = "higher SRS, more robust", alpha: float = 0.05) -> str:
    """A rank correlation across models as a test of a claim: the sign of ``rho`` is read
    only where its exact permutation p is at most ``alpha``; otherwise the sentence says
    that the data cannot tell.

    Args:
        rho: Spearman's rank correlation of ``x`` with ``y`` across the models.
        p: its exact two-sided permutation p.
        n: the number of models (at least 3).
        claim: the claim a positive correlation supports, named in the sentence.
        alpha: the test's level.
    """
    if n < 3:
        raise ValueError(f"a rank correlation needs at least 3 models, but found {n}")
    if rho != rho:  # NaN
        return f"Across the {n} models the {x} or the {y} does not vary, so no rank correlation can be computed."
    strength = "strong" if abs(rho) >= 0.7 else "moderate" if abs(rho) >= 0.4 else "weak"
    direction = "positive" if rho > 0 else "negative"
    floor = 2 / math.factorial(n)
    outcome = _correlation_outcome(rho, p, alpha)
    if outcome == "inconclusive":
        why = (f"with {n} models no ordering can reach it (the smallest possible p is 2/{n}! = {floor:.2g})"
               if floor > alpha else f"an ordering this strong could arise by chance (the smallest possible p "
               f"with {n} models is 2/{n}! = {floor:.2g})")
        verdict = (f"The test is **inconclusive** about the claim ({claim}): the exact permutation p = {p:.2g} "
                   f"is above {alpha:g}; {why}.")
    else:
        verdict = (f"The association **{outcome} the claim** ({claim}): the exact permutation p = {p:.2g} is at "
                   f"most {alpha:g} (the smallest possible p with {n} models is 2/{n}! = {floor:.2g}).")
    return (f"Across the {n} models the Spearman rank correlation of {x} with {y} is {rho:+.2f}, a {strength} "
            f"{direction} association. {verdict} The models share their data and architecture, so this "
            "describes these models, not I-ASIDE in general.")


def correlation_word(rho: float, p: float, *, alpha: float = 0.05) -> str:
    """The short form of :func:`correlation_sentence` for the findings page: ``agrees with
    the claim``, ``runs against the claim`` or ``inconclusive`` (p above ``alpha``)."""
    if rho != rho:
        return "not testable here"
    outcome = _correlation_outcome(rho, p, alpha)
    return outcome if outcome == "inconclusive" else f"{outcome} the claim"


def data_size_sentence(table: pd.DataFrame, intensity: float) -> str:
    """The less-data verdict at one input-noise level, from :func:`nsde.studies.data_size.data_size_table`."""
    rows = table[table["intensity"] == intensity].sort_values("train images")
    if rows.empty:
        raise ValueError(f"the table has no rows at intensity {intensity}")
    what = "clean test images" if intensity == 0 else f"white input noise of std {_fmt(intensity)}"
    outcomes = [_outcome(Interval(0.0, lo, hi, 1)) for lo, hi in zip(rows["difference low"], rows["difference high"])]
    better = [n for n, o in zip(rows["train images"], outcomes) if o == "higher"]
    worse = [n for n, o in zip(rows["train images"], outcomes) if o == "lower"]
    n = len(rows)
    parts = []
    if better:
        parts.append(f"better than the baseline with {english_list(map(str, better))} training images")
    if worse:
        parts.append(f"worse{'' if better else ' than the baseline'} with {english_list(map(str, worse))}"
                     f"{'' if better else ' training images'}")
    same = n - len(better) - len(worse)
    if same:
        where = ("the other size" if same == 1 else f"the other {same} sizes") if parts else \
            ("the one size" if same == 1 else f"any of the {same} sizes")
        parts.append(f"not distinguishable {'' if parts else 'from the baseline '}at {where}")
    small, full = rows.iloc[0], rows.iloc[-1]
    trend = (f" From {int(full['train images'])} to {int(small['train images'])} training images the baseline "
             f"changes by {100 * (small['baseline'] - full['baseline']):+.1f} points and the NSDE by "
             f"{100 * (small['nsde'] - full['nsde']):+.1f}." if n > 1 else "")
    return f"On {what} the NSDE is {english_list(parts, serial=True)}.{trend}"


def shape_choice_sentence(comparison: pd.DataFrame, a: str, b: str, *, clean_a: Interval, clean_b: Interval) -> str:
    """Which of two noise shapes is better, measure by measure, and at what clean-accuracy cost.

    Args:
        comparison: :func:`nsde.studies.noise_shapes.compare_cells` of ``a`` against ``b``
            (column ``better``: "a", "b" or "no difference"; index: the measures).
        a, b: the two shapes' names as the reader should read them.
        clean_a, clean_b: each one's clean-accuracy difference from the baseline.
    """
    wins_a = [m for m, w in comparison["better"].items() if w == "a"]
    wins_b = [m for m, w in comparison["better"].items() if w == "b"]
    n = len(comparison)
    if wins_a and not wins_b:
        head = f"{a} is better than {b} on {len(wins_a)} of {n} measures ({english_list(wins_a)}) and worse on none"
    elif wins_b and not wins_a:
        head = f"{b} is better than {a} on {len(wins_b)} of {n} measures ({english_list(wins_b)}) and worse on none"
    elif wins_a and wins_b:
        head = (f"neither shape wins: {a} is better on {english_list(wins_a)}, {b} on {english_list(wins_b)}")
    else:
        head = f"{a} and {b} are not distinguishable on any of the {n} measures"
    cost = (f"Against the baseline's clean accuracy, {a} is at {difference_phrase(clean_a)} and {b} at "
            f"{difference_phrase(clean_b)}.")
    return f"{head[0].upper()}{head[1:]}. {cost}"


def _worse_cells(counts: pd.DataFrame) -> list[str]:
    """``["brownian@0.1 (1 measure)", ...]``: the grid entries worse than the baseline on some measure."""
    worse = counts[counts["worse"] > 0]
    return [f"{shape}@{sigma:g} ({int(r['worse'])} measure{'s' if int(r['worse']) != 1 else ''})"
            for (shape, sigma), r in worse.iterrows()]


def grid_best_sentence(counts: pd.DataFrame) -> str:
    """The noise-shape grid's leader, from :func:`nsde.studies.noise_shapes.grid_counts` (columns
    ``better, worse, net``): the entries with the best net count (measures better minus
    measures worse than the baseline), and every entry worse than the baseline on some
    measure (results against the noise are said too)."""
    if counts.empty:
        return "The grid is empty."
    worse = _worse_cells(counts)
    against = (f" Worse than the baseline beyond the 95% intervals: {english_list(worse)}." if worse else
               " No entry is worse than the baseline on any measure beyond the 95% intervals.")
    if counts["better"].max() == 0:
        return "No noise shape or level beats the baseline on any measure beyond the 95% intervals." + against
    top = counts["net"].max()
    leaders = counts[counts["net"] == top]
    names = [f"{shape} noise at sigma {sigma:g}" for shape, sigma in leaders.index]
    detail = english_list([f"{shape}@{sigma:g} better on {int(r['better'])} and worse on {int(r['worse'])}"
                           for (shape, sigma), r in leaders.iterrows()])
    return (f"Across the grid, the best balance against the baseline (measures better minus worse) is "
            f"{english_list(names)}: {detail}." + against)


def grid_verdict(counts: pd.DataFrame) -> str:
    """The short form of :func:`grid_best_sentence` (for the findings page): the leader, and
    the entries worse than the baseline on some measure."""
    worse = _worse_cells(counts) if not counts.empty else []
    tail = f"; worse on some measure: {', '.join(worse)}" if worse else ""
    if counts.empty or counts["better"].max() == 0:
        return "no shape beats the baseline" + tail
    top = counts[counts["net"] == counts["net"].max()]
    return "best net: " + ", ".join(f"{shape}@{sigma:g}" for shape, sigma in top.index) + tail


def beats_chance(accuracy: float, n_classes: int, factor: float) -> str:
    """A checked fact: ``"beats chance (6%) by at least 2x: True"``.

    Where ``factor`` times chance is out of reach or nearly so (two classes: 2 x 50% is
    100%), the bar is halfway from chance to perfect accuracy instead, and the sentence says so.

    Args:
        accuracy: the accuracy in [0, 1].
        n_classes: classes (>= 2); chance is ``1 / n_classes``.
        factor: how many times chance the accuracy must exceed (> 0).
    """
    if n_classes < 2 or factor <= 0:
        raise ValueError(f"need >= 2 classes and a factor > 0, but found {n_classes} and {factor}")
    chance = 1 / n_classes
    halfway = (1 + chance) / 2
    if factor * chance <= halfway:
        return f"beats chance ({chance:.0%}) by at least {factor:g}x: {accuracy > factor * chance}"
    return (f"beats chance ({chance:.0%}) by at least halfway to 100%, {halfway:.0%} ({factor:g}x chance is out of "
            f"reach with {n_classes} classes): {accuracy > halfway}")


def loses_accuracy(tables: Mapping[str, pd.DataFrame], xcol: str = "intensity") -> str:
    """A checked fact: every table's accuracy is lower at its last row than at its first."""
    first, last = (next(iter(tables.values()))[xcol].iloc[i] for i in (0, -1))
    ok = all(t["accuracy"].iloc[-1] < t["accuracy"].iloc[0] for t in tables.values())
    return f"every classifier is less accurate at {xcol} {last:g} than at {first:g}: {ok}"


def masking_summary(checks: pd.DataFrame) -> str:
    """One paragraph on the non-inferiority masking checks (:func:`nsde.studies.attack_study.masking_checks`):
    how many passed, failed or could not tell, and which failed."""
    if checks.empty:
        return "No gradient-masking check could be run."
    counts = checks["result"].value_counts()
    failed = checks[checks["result"] == "failed"]
    names = sorted({f"{r.classifier}: {r.check}" for r in failed.itertuples()})
    text = (f"Of {len(checks)} checks (each at one budget), {counts.get('passed', 0)} passed, "
            f"{counts.get('failed', 0)} failed and {counts.get('cannot tell', 0)} cannot tell at these sizes.")
    if names:
        text += (" Failed: " + english_list(names) + ". An attack that fails its check is weaker than the battery: "
                 "the robust accuracies are counted at the battery's worst case, not at that attack's.")
    return text
