"""The book's conclusions as sentences, computed from comparisons (never typed in).

Every verdict a chapter prints comes from a function here, tested on hand-made inputs
whose right answer is known (``tests/test_verdicts.py``). The functions take the outputs
of :mod:`nsde.stats.compare` (a ``"higher" / "lower" / "no difference"`` outcome per setting,
with the interval of the difference) or plain numbers, and return Markdown prose that
chapters display with ``IPython.display.Markdown``, so that conclusions wrap and read as
text.

Vocabulary of a claim of the paper, from the outcomes over its settings (intensities or
budgets):

* **holds**: the NSDE is better at every setting;
* **holds in part**: better at some, worse at none;
* **is mixed**: better at some, worse at others;
* **does not hold**: worse at some, better at none;
* **is not supported**: no difference at any setting.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import pandas as pd

from nsde.stats.compare import outcome as _outcome
from nsde.stats.intervals import Interval

__all__ = ["english_list", "claim_word", "count_outcomes", "comparison_sentence", "claim_sentence",
           "difference_phrase", "noise_sources_sentence", "adaptive_sentence", "masking_sentence",
           "stability_sentence", "correlation_sentence", "reliability_sentence", "reliability_overall", "reliability_verdict",
           "data_size_sentence", "accuracy_cost_sentence", "abc_sentence", "short_difference", "noise_sources_verdict",
           "data_size_verdict", "shape_choice_sentence", "grid_best_sentence", "grid_verdict", "beats_chance",
           "loses_accuracy", "broken_at", "masking_summary",
           "correlation_word"]


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


def count_outcomes(outcomes: Sequence[str]) -> tuple[int, int, int]:
    """``(higher, lower, no difference)`` counts."""
    outcomes = list(outcomes)
    bad = set(outcomes) - {"higher", "lower", "no difference"}
    if bad:
        raise ValueError(f"outcomes must be 'higher', 'lower' or 'no difference', but found {sorted(bad)}")
    return outcomes.count("higher"), outcomes.count("lower"), outcomes.count("no difference")


def claim_word(outcomes: Sequence[str]) -> str:
    """The verdict on a claim that the subject is *higher*, from its outcomes (module docstring)."""
    higher, lower, _ = count_outcomes(outcomes)
    n = len(list(outcomes))
    if n == 0:
        raise ValueError("no outcomes to judge")
    if higher == n:
        return "holds"
    if higher and not lower:
        return "holds in part"
    if higher and lower:
        return "is mixed"
    if lower:
        return "does not hold"
    return "is not supported"


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


def claim_sentence(claim: str, subject: str, reference: str, comparison: pd.DataFrame, **kwargs) -> str:
    """``"The paper's claim that <claim> **holds in part** here: <comparison sentence>"``."""
    word = claim_word(comparison["outcome"].tolist())
    return f"The paper's claim that {claim} **{word}** here: {comparison_sentence(subject, reference, comparison, **kwargs)}"


def difference_phrase(iv: Interval, unit: str = "points", scale: float = 100.0, digits: int = 1) -> str:
    """``"+4.2 points [1.1, 7.5]"`` for a difference of fractions (``scale=100``)."""
    return (f"{scale * iv.estimate:+.{digits}f} {unit} [{scale * iv.low:+.{digits}f}, "
            f"{scale * iv.high:+.{digits}f}]")


def _direction(iv: Interval) -> str:
    return _outcome(iv)


def _effect(iv: Interval) -> str:
    d = _direction(iv)
    return (f"raises accuracy by {difference_phrase(iv)}" if d == "higher" else
            f"lowers accuracy by {difference_phrase(iv)}" if d == "lower" else
            f"makes no difference we can detect ({difference_phrase(iv)})")


def _relation(iv: Interval) -> str:
    return {"higher": "more accurate than", "lower": "less accurate than",
            "no difference": "not distinguishable from"}[_direction(iv)]


def noise_sources_sentence(training: Interval, test_time: Interval, total: Interval, *, condition: str) -> str:
    """Which noise helps: training with noise (NSDE noise off vs baseline), test-time noise
    (NSDE ensemble vs its own noise-off network), or both (ensemble vs baseline).

    Args:
        training: accuracy difference NSDE with noise off minus baseline.
        test_time: NSDE ensemble (noise on) minus the same NSDE with noise off.
        total: NSDE ensemble minus baseline.
        condition: where they were measured, e.g. ``"under white noise of std 0.1"``.
    """
    return (f"{condition[0].upper() + condition[1:]}: training with noise {_effect(training)}; keeping the noise "
            f"on at test time {_effect(test_time)}; the NSDE ensemble is {_relation(total)} the baseline "
            f"({difference_phrase(total)}).")


def adaptive_sentence(comparison: pd.DataFrame, *, attack: str, subject: str = "the NSDE ensemble") -> str:
    """Does the adaptive attack lower ``subject``'s accuracy below the non-adaptive one's?

    Args:
        comparison: :func:`nsde.stats.compare.compare_tables` of the adaptive against the
            non-adaptive table on the same images (``difference`` = adaptive minus
            non-adaptive, by budget).
        attack: the adaptive attack's name.
    """
    out = comparison["outcome"].tolist()
    n = len(out)
    if n == 0:
        raise ValueError("adaptive_sentence needs at least one budget to compare")
    lower = [v for v, o in zip(comparison.index, out) if o == "lower"]
    higher = [v for v, o in zip(comparison.index, out) if o == "higher"]
    if len(lower) == n:
        head = f"{attack} lowers {subject}'s accuracy at every budget"
    elif lower:
        head = f"{attack} lowers {subject}'s accuracy at {len(lower)} of {n} budgets ({english_list(map(_fmt, lower))})"
    else:
        head = f"{attack} does not lower {subject}'s accuracy at any budget beyond the scoring noise"
    worst = comparison["difference"].idxmin()
    tail = (f"; the largest drop is {-100 * comparison.loc[worst, 'difference']:.1f} points at eps {_fmt(worst)}"
            if comparison.loc[worst, "difference"] < 0 else "")
    warn = (f". It is *weaker* than the non-adaptive attack at {english_list(map(_fmt, higher))}, which points to a "
            "problem in the attack, not to robustness" if higher else "")
    return f"{head}{tail}{warn}."


def masking_sentence(checks: pd.DataFrame, attack: str) -> str:
    """One sentence on the gradient-masking checks of one attack (from :func:`nsde.measures.attacks.masking_checks`)."""
    tested = checks[checks["passed"].notna()]
    failed = tested[tested["passed"] == False]  # noqa: E712  (a column of bools and None)
    untested = checks[checks["passed"].isna()]
    if len(tested) == 0:
        return f"No gradient-masking check could be run on {attack}."
    if failed.empty:
        msg = f"{attack} passes all {len(tested)} gradient-masking checks run"
    else:
        names = english_list([f"'{c}'" for c in failed["check"]])
        msg = (f"{attack} **fails** {len(failed)} of {len(tested)} gradient-masking checks ({names}): its "
               "accuracies are an upper bound, not a measure of robustness")
    if len(untested):
        msg += f" ({len(untested)} not applicable at these budgets)"
    return msg + "."


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


def correlation_sentence(rho: float, p: float, n: int, *, x: str = "SRS", y: str = "mean robust accuracy",
                         claim: str = "higher SRS, more robust") -> str:
    """A rank correlation across models, its strength, and what it says about a claim."""
    if n < 3:
        raise ValueError(f"a rank correlation needs at least 3 models, but found {n}")
    if rho != rho:  # NaN
        return f"Across the {n} models the {x} or the {y} does not vary, so no rank correlation can be computed."
    strength = "strong" if abs(rho) >= 0.7 else "moderate" if abs(rho) >= 0.4 else "weak"
    direction = "positive" if rho > 0 else "negative"
    verdict = (f"agrees with the claim ({claim})" if rho >= 0.4 else
               f"runs against the claim ({claim})" if rho <= -0.4 else "gives no support to the claim "
               f"({claim})")
    chance = "could easily arise by chance" if p > 0.1 else "would arise by chance in few orderings of the models"
    return (f"Across the {n} models the Spearman rank correlation of {x} with {y} is {rho:+.2f}, a {strength} "
            f"{direction} association, which {verdict}. An ordering this strong {chance} (exact permutation "
            f"p = {p:.2g}; with {n} models the smallest possible p is 2/{n}! = {2 / math.factorial(n):.2g}). The "
            "models share their data and architecture, so this describes these models, not I-ASIDE in general.")


def correlation_word(rho: float) -> str:
    """The short form of :func:`correlation_sentence` for the findings page."""
    if rho != rho:
        return "not testable here"
    return ("agrees with the claim" if rho >= 0.4 else "runs against the claim" if rho <= -0.4
            else "no support for the claim")


def reliability_sentence(model: str, condition: str, auroc: Interval, vs_msp: Interval, n_incorrect: int) -> str:
    """ABC's AUROC for telling right from wrong predictions, against chance and against MSP."""
    if auroc.estimate != auroc.estimate:
        return f"{model}, {condition}: all {auroc.n} predictions are right (or all wrong), so AUROC is undefined."
    chance = ("above chance" if auroc.low > 0.5 else "below chance" if auroc.high < 0.5
              else "not distinguishable from chance")
    msp = "better than" if vs_msp.low > 0 else "worse than" if vs_msp.high < 0 else "not distinguishable from"
    return (f"{model}, {condition}: ABC's AUROC {auroc.estimate:.2f} [{auroc.low:.2f}, {auroc.high:.2f}] is "
            f"{chance} and {msp} the maximum softmax probability (difference {vs_msp.estimate:+.2f} "
            f"[{vs_msp.low:+.2f}, {vs_msp.high:+.2f}]); {n_incorrect} of {auroc.n} predictions are wrong.")


def reliability_overall(differences: Sequence[Interval]) -> str:
    """The verdict on open question 2 from ABC-minus-MSP AUROC differences over settings."""
    defined = [d for d in differences if d.estimate == d.estimate]
    if not defined:
        return ("No setting has both right and wrong predictions among these images, so this run cannot say "
                "whether ABC signals reliability.")
    better = sum(d.low > 0 for d in defined)
    worse = sum(d.high < 0 for d in defined)
    tail = ("on this evidence ABC adds reliability information beyond the softmax." if better > worse else
            "on this evidence ABC is a weaker reliability signal than the softmax." if worse > better else
            "on this evidence ABC is not distinguishable from the softmax as a reliability signal.")
    n = len(defined)

    def count(k: int) -> str:
        return "none" if k == 0 else "all" if k == n else f"{k}"

    return (f"Of {n} settings, ABC ranks predictions significantly better than the softmax in {count(better)} "
            f"and significantly worse in {count(worse)}; {tail}")


def reliability_verdict(differences: Sequence[Interval]) -> str:
    """The short form of :func:`reliability_overall` (for the findings page)."""
    defined = [d for d in differences if d.estimate == d.estimate]
    if not defined:
        return "not testable here"
    better, worse = sum(d.low > 0 for d in defined), sum(d.high < 0 for d in defined)
    n = len(defined)
    return (f"ABC better than softmax in {better} of {n} settings" if better > worse else
            f"ABC worse than softmax in {worse} of {n} settings" if worse > better else
            f"ABC no better than softmax ({n} settings)")


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


def accuracy_cost_sentence(difference: Interval, *, paper_difference: float, seeds: tuple[int, int]) -> str:
    """Table 1: what the noise costs in clean accuracy, beside the paper's difference (points)."""
    d = _direction(difference)
    what = {"higher": "gains", "lower": "loses", "no difference": "shows no clean-accuracy cost we can detect"}[d]
    head = (f"The NSDE (noise on) {what} " + (f"{abs(100 * difference.estimate):.1f} points of clean accuracy"
                                             if d != "no difference" else ""))
    return (f"{head.rstrip()} against the baseline: {difference_phrase(difference)} over {seeds[0]} and {seeds[1]} "
            f"training seeds and {difference.n} test images; the paper reports {paper_difference:+.2f} points.")


def abc_sentence(nsde: Interval | None, baseline: Interval | None, difference: Interval | None, *,
                 paper: tuple[float, float]) -> str:
    """Table 4: mean ABC on correct predictions, NSDE against baseline, beside the paper's.

    ``None`` intervals mean a model made no correct prediction on the images scored.
    """
    if nsde is None or baseline is None or difference is None:
        return (f"One of the models makes no correct prediction on these images, so mean ABC on correct predictions "
                f"cannot be compared; the paper reports {paper[0]:.3f} and {paper[1]:.3f}.")
    d = _direction(difference)
    word = {"higher": "higher for the NSDE", "lower": "lower for the NSDE",
            "no difference": "not distinguishable between the two models"}[d]
    return (f"Mean ABC on correct predictions is {nsde.estimate:.3f} [{nsde.low:.3f}, {nsde.high:.3f}] for the NSDE "
            f"and {baseline.estimate:.3f} [{baseline.low:.3f}, {baseline.high:.3f}] for the baseline, so it is {word} "
            f"(difference {difference.estimate:+.3f} [{difference.low:+.3f}, {difference.high:+.3f}]); the paper "
            f"reports {paper[0]:.3f} and {paper[1]:.3f}.")


def short_difference(iv: Interval | None, subject: str = "NSDE", *, scale: float = 100.0,
                     unit: str = "points") -> str:
    """A few words for the findings page: ``"NSDE higher (+4.1 points)"``, ``"no difference"``.

    Args:
        iv: a difference (subject minus reference), or ``None`` (not comparable).
        subject: what is higher or lower.
        scale, unit: how the estimate is shown (fractions as percentage points by default;
            ``scale=1, unit=""`` for plain numbers such as ABC).
    """
    if iv is None:
        return "not comparable"
    size = f"{scale * iv.estimate:+.{1 if scale != 1 else 3}f}{(' ' + unit) if unit else ''}"
    return {"higher": f"{subject} higher ({size})", "lower": f"{subject} lower ({size})",
            "no difference": "no difference"}[_direction(iv)]


def noise_sources_verdict(training: Interval, test_time: Interval) -> str:
    """The short form of :func:`noise_sources_sentence`."""
    return (f"training with noise: {short_difference(training, 'noise-trained')}; test-time noise: "
            f"{short_difference(test_time, 'noise on')}")


def data_size_verdict(table: pd.DataFrame) -> str:
    """The short form of the less-data verdicts over all (size, intensity) rows."""
    better = int((table["difference low"] > 0).sum())
    worse = int((table["difference high"] < 0).sum())
    n = len(table)
    if not better and not worse:
        return f"no difference at any of {n} (size, noise) settings"
    parts = [f"better at {better}" if better else "", f"worse at {worse}" if worse else ""]
    return f"NSDE {' and '.join(p for p in parts if p)} of {n} (size, noise) settings"


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


def grid_best_sentence(counts: pd.DataFrame) -> str:
    """The noise-shape grid's leader, from :func:`nsde.studies.noise_shapes.grid_counts` (columns
    ``better, worse, net``): the entries with the best net count (measures better minus
    measures worse than the baseline)."""
    if counts.empty:
        return "The grid is empty."
    if counts["better"].max() == 0:
        return "No noise shape or level beats the baseline on any measure beyond the 95% intervals."
    top = counts["net"].max()
    leaders = counts[counts["net"] == top]
    names = [f"{shape} noise at sigma {sigma:g}" for shape, sigma in leaders.index]
    detail = english_list([f"{shape}@{sigma:g} better on {int(r['better'])} and worse on {int(r['worse'])}"
                           for (shape, sigma), r in leaders.iterrows()])
    return (f"Across the grid, the best balance against the baseline (measures better minus worse) is "
            f"{english_list(names)}: {detail}.")


def grid_verdict(counts: pd.DataFrame) -> str:
    """The short form of :func:`grid_best_sentence`."""
    if counts.empty or counts["better"].max() == 0:
        return "no shape beats the baseline"
    top = counts[counts["net"] == counts["net"].max()]
    return "best net: " + ", ".join(f"{shape}@{sigma:g}" for shape, sigma in top.index)


def beats_chance(accuracy: float, n_classes: int, factor: float) -> str:
    """A checked fact: ``"beats chance (6%) by at least 2x: True"``."""
    if n_classes < 2 or factor <= 0:
        raise ValueError(f"need >= 2 classes and a factor > 0, but found {n_classes} and {factor}")
    return f"beats chance ({1 / n_classes:.0%}) by at least {factor:g}x: {accuracy > factor / n_classes}"


def loses_accuracy(tables: Mapping[str, pd.DataFrame], xcol: str = "intensity") -> str:
    """A checked fact: every table's accuracy is lower at its last row than at its first."""
    first, last = (next(iter(tables.values()))[xcol].iloc[i] for i in (0, -1))
    ok = all(t["accuracy"].iloc[-1] < t["accuracy"].iloc[0] for t in tables.values())
    return f"every classifier is less accurate at {xcol} {last:g} than at {first:g}: {ok}"


def broken_at(tables: Mapping[str, pd.DataFrame], eps: float, at_most: float) -> str:
    """A checked fact: at budget ``eps`` every table's accuracy is at most ``at_most``."""
    ok = all(float(t.set_index("eps").loc[eps, "accuracy"]) <= at_most for t in tables.values()
             if eps in set(t["eps"]))
    return f"at the budget eps {eps:g} every classifier keeps at most {at_most:.0%} accuracy: {ok}"


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
