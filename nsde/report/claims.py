"""The paper's claims, each with one primary endpoint declared here before any data is seen,
and the verdict on a claim: the test of its primary endpoint (Brogan et al., arXiv 2409.01532).

A claim names what is compared (the NSDE against the baseline on one measure), the
direction the paper reports, the paper's own effect on the same endpoint (computed from
:mod:`nsde.report.paper`, never typed here) and an equivalence margin: the smallest
difference this book would call meaningful, declared per claim before the data.

**The verdict** (:func:`judge`) is the test of the primary endpoint, a
:class:`nsde.stats.inference.SeedTest` whose unit is the training seed:

* **holds**: the endpoint differs from 0 in the paper's direction (its 95% interval
  excludes 0 on that side) and every setting does too (Holm-adjusted, family-wise 5%);
* **holds in part**: the endpoint does, but only some settings do on their own, none
  against;
* **is mixed**: settings differ significantly in both directions;
* **does not hold**: the endpoint differs from 0 against the paper's direction;
* **equivalent**: no difference, shown: the two one-sided tests put it inside the margin;
* **inconclusive**: none of these: the data cannot tell. The sentence then says which
  effects the interval cannot exclude, and whether the paper's own effect is one of them.

Settings enter the primary endpoint only when the baseline beats chance there on the
validation split (:func:`nsde.report.claims.informative_settings`); the others are shown
and said to be uninformative. The false-positive rate, the coverage and the power of this
whole pipeline are measured by simulation in :mod:`nsde.report.calibration`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from nsde.report import paper
from nsde.stats.inference import SeedTest, holm, simultaneous

__all__ = ["WORDS", "Claim", "CLAIMS", "Verdict", "judge", "paper_table2_effect", "paper_table3_effect",
           "settings_table"]

#: Verdict words, from the strongest support of the paper to the strongest against.
WORDS = ("holds", "holds in part", "is mixed", "equivalent", "inconclusive", "does not hold")
#: Family-wise level of every verdict.
ALPHA = 0.05


def _paper_effect(table: dict, xcol: str, what: str, settings: Sequence[float]) -> float:
    """The paper's NSDE-minus-ConvNeXt accuracy (fraction) averaged over ``settings`` of one
    of its tables."""
    rows = dict(zip(table[xcol], zip(table["ConvNeXt-Base"], table["Neural SDE"])))
    missing = [s for s in settings if s not in rows]
    if missing or not settings:
        raise ValueError(f"the paper's {what} has no {xcol} {missing}; it has {table[xcol]}")
    return float(np.mean([rows[s][1] - rows[s][0] for s in settings])) / 100


def paper_table2_effect(intensities: Sequence[float]) -> float:
    """The paper's NSDE-minus-ConvNeXt accuracy (fraction) averaged over ``intensities`` of
    its Table 2."""
    return _paper_effect(paper.TABLE2, "intensity", "Table 2", intensities)


def paper_table3_effect(budgets: Sequence[float]) -> float:
    """The paper's NSDE-minus-ConvNeXt robust accuracy (fraction) averaged over ``budgets``
    of its Table 3."""
    return _paper_effect(paper.TABLE3, "eps", "Table 3", budgets)


def _table1_effect(_settings=()) -> float:
    t1 = paper.TABLE1
    return (t1["Neural SDE"]["test"] - t1["ConvNeXt-Base"]["test"]) / 100


def _table4_effect(_settings=()) -> float:
    t4 = paper.TABLE4
    return ((t4["Neural SDE"]["correct"] - t4["Neural SDE"]["incorrect"])
            - (t4["ConvNeXt-Base"]["correct"] - t4["ConvNeXt-Base"]["incorrect"]))


@dataclass(frozen=True)
class Claim:
    """One claim of the paper (or one question the book asks) and its primary endpoint.

    Attributes:
        key: the id used by the findings page.
        text: the claim, as a clause ("the NSDE is more accurate under random noise").
        source: where the paper makes it ("Table 2, Sec. 4.2"), "<place>, our reading" for our
            reading of a statement, or "not in the paper: <what it is>".
        chapter: the chapter that tests it.
        endpoint: the primary endpoint, in words.
        direction: +1 the paper reports the NSDE higher, -1 lower, 0 no direction (a question).
        margin: the equivalence margin (in the endpoint's units: fractions for accuracies).
        paper_effect: the paper's own value of the endpoint, from its settings (``None``:
            the paper gives no number).
        scale, unit: how the endpoint is printed (``100, "points"`` for accuracies).
        subject, reference: what is compared, as the reader should read it.
    """

    key: str
    text: str
    source: str
    chapter: str
    endpoint: str
    direction: int
    margin: float
    paper_effect: Callable[[Sequence[float]], float] | None = None
    scale: float = 100.0
    unit: str = "points"
    subject: str = "the NSDE ensemble"
    reference: str = "the baseline"
    higher: str = "higher"
    lower: str = "lower"

    @property
    def head(self) -> str:
        """Whose claim this is, as a sentence opening: the paper's (with its place), our
        reading of a statement of the paper, or a claim the book tests on its own."""
        if self.source.startswith("not in the paper"):
            return f"The claim that {self.text} ({self.source})"
        if self.source.endswith("our reading"):
            return f"Our reading of {self.source.rsplit(',', 1)[0]}, that {self.text}"
        return f"The paper's claim ({self.source}) that {self.text}"

    def fmt(self, value: float, signed: bool = True) -> str:
        digits = 1 if self.scale == 100 else 3
        return f"{self.scale * value:{'+' if signed else ''}.{digits}f}{(' ' + self.unit) if self.unit else ''}"


_ACC = dict(scale=100.0, unit="points")

#: Every claim the book judges, in the order of the findings page.
CLAIMS: dict[str, Claim] = {c.key: c for c in [
    Claim("table1", "the NSDE costs a few points of clean accuracy", "Table 1", "02_training",
          "test accuracy, NSDE ensemble minus baseline", -1, 0.02, _table1_effect, **_ACC),
    Claim("table2", "the NSDE is more accurate under random noise", "Table 2", "03_robustness",
          "accuracy under white noise, NSDE ensemble minus baseline, averaged over the paper's intensities "
          "where the baseline beats chance", +1, 0.02, paper_table2_effect, **_ACC),
    Claim("table3", "the NSDE keeps more accuracy under APGD-CE (the paper's non-adaptive attack)", "Table 3",
          "03_robustness", "robust accuracy under non-adaptive APGD-CE, NSDE ensemble minus baseline, averaged "
          "over the paper's budgets", +1, 0.02, paper_table3_effect, **_ACC),
    Claim("table3-adaptive", "the NSDE keeps more accuracy against the strongest attack adaptive to its noise",
          "not in the paper: Table 3's claim under an adaptive attack", "03_robustness",
          "worst-case robust accuracy over the attack battery, NSDE ensemble minus baseline, averaged over the "
          "paper's budgets", +1, 0.02, paper_table3_effect, **_ACC),
    Claim("noise-training", "training with noise makes the network more accurate under random noise",
          "not in the paper", "03_robustness", "accuracy under white noise, NSDE with its noise off minus the "
          "baseline, over the Table 2 intensities", 0, 0.02, None, subject="the NSDE's noise-off network", **_ACC),
    Claim("noise-test-time", "keeping the noise on at test time makes the NSDE more accurate under random noise",
          "not in the paper", "03_robustness", "accuracy under white noise, NSDE ensemble minus its own "
          "noise-off network, over the Table 2 intensities", 0, 0.02, None, reference="its noise-off network",
          **_ACC),
    Claim("noise-training-attack", "training with noise makes the network more robust to the strongest attack",
          "not in the paper", "03_robustness", "worst-case robust accuracy over the battery, NSDE with its noise off "
          "minus the baseline, over the paper's budgets", 0, 0.02, None, subject="the NSDE's noise-off network",
          **_ACC),
    Claim("noise-test-time-attack", "keeping the noise on at test time makes the NSDE more robust to the strongest "
          "attack", "not in the paper", "03_robustness", "worst-case robust accuracy over the battery, NSDE ensemble "
          "minus its own noise-off network, over the paper's budgets", 0, 0.02, None,
          reference="its noise-off network", **_ACC),
    Claim("fig4", "attributions change less for the NSDE under small perturbations", "Sec. 4.2",
          "04_explanations", "log sum of IG attribution changes under N(0, 0.01^2) perturbations, NSDE minus "
          "baseline (lower: more stable)", -1, 0.1, None, scale=1.0, unit="", subject="the NSDE"),
    Claim("table4", "ABC is higher on correct than on incorrect predictions, more so for the NSDE",
          "Table 4, Sec. 4.3",
          "04_explanations", "ABC on correct minus on incorrect predictions, NSDE minus baseline", +1, 0.05,
          _table4_effect, scale=1.0, unit="", subject="the NSDE"),
    Claim("abc-reliability", "ABC tells right from wrong predictions better than the softmax", "not in the paper: "
          "our question about ABC, Jha et al. 2019", "04_explanations", "AUROC of ABC minus AUROC of the maximum "
          "softmax probability, per seed", 0, 0.05, None, scale=1.0, unit="", subject="ABC",
          reference="the softmax"),
    Claim("iaside", "a higher spectral robustness score goes with more robustness", "I-ASIDE (Luo et al. 2024), "
          "tested on these models", "05_spectral", "Spearman correlation across models of SRS and mean robust "
          "accuracy", +1, 0.0, None, scale=1.0, unit=""),
    Claim("less-data", "the NSDE helps more when training data are scarce", "Sec. 5, our reading",
          "06_less_data", "NSDE-minus-baseline accuracy at the smallest training set minus the same at the full "
          "one, averaged over the input-noise levels", +1, 0.02, None,
          subject="the NSDE's advantage at the smallest training set", reference="its advantage at the full one",
          **_ACC),
    Claim("noise-shape", "which noise shape, and how much noise, helps most", "Sec. 5 (future work)",
          "08_noise_shapes", "per grid cell, each measure's difference from the baseline (one trained network "
          "each)", 0, 0.02, None, subject="the noise-shape grid", **_ACC),
]}


@dataclass(frozen=True)
class Verdict:
    """The verdict on one claim: its word, the primary endpoint's test, the settings.

    Attributes:
        claim: the :class:`Claim`.
        word: one of :data:`WORDS` (or ``"higher"``, ``"lower"`` for a claim without direction).
        primary: the test of the primary endpoint.
        settings: per-setting secondary tests (``None`` for a single-setting endpoint):
            ``estimate, low, high`` (simultaneous, Bonferroni), ``p`` (Holm-adjusted),
            ``outcome`` (``"higher"``, ``"lower"``, ``"no difference"``), indexed by setting.
        included: the settings the primary endpoint averages over.
        excluded: the settings left out because the baseline is at chance there.
        paper: the paper's own value of the endpoint over ``included`` (``None``: none).
        what: the unit of the settings ("intensity", "budget").
    """

    claim: Claim
    word: str
    primary: SeedTest
    settings: pd.DataFrame | None = None
    included: tuple = ()
    excluded: tuple = ()
    paper: float | None = None
    what: str = "setting"

    @property
    def mde(self) -> float:
        """The minimal detectable effect (80% power, the verdict's level) of the endpoint."""
        return self.primary.mde(0.8, ALPHA)

    @property
    def interval_text(self) -> str:
        c, t = self.claim, self.primary
        bare = replace(c, unit="")
        return f"{c.fmt(t.estimate)} [{bare.fmt(t.low)}, {bare.fmt(t.high)}]"

    @property
    def sizes_text(self) -> str:
        t = self.primary
        seeds = f"{t.n_seeds} training seed{'s' if t.n_seeds != 1 else ''}" + (" per model" if t.n_seeds > 1 else "")
        return seeds + (f", {t.n_images} images" if t.n_images else "")

    @property
    def short(self) -> str:
        """A few words for the findings page: the word, the estimate and its interval."""
        return f"{self.word}: {self.interval_text}"

    def sentence(self) -> str:
        """The verdict as Markdown prose, with its numbers, sizes and power."""
        c, t = self.claim, self.primary
        subject = c.subject[0].upper() + c.subject[1:]
        head = (f"{c.head}: **{self.word}** here" if c.direction else
                f"Whether {c.text}: **{self.word}**")
        body = (f"{subject} minus {c.reference}: {self.interval_text} (95% interval; {self.sizes_text}"
                + (f"; {c.endpoint}" if self.settings is not None else "") + ")")
        parts = [f"{head}. {body}."]
        if not t.df > 0:
            parts = [f"{head}. {subject} minus {c.reference}: {c.fmt(t.estimate)} with one value per model, so no "
                     f"interval or test can be computed ({self.sizes_text})."]
            return " ".join(parts)
        if t.n_seeds == 1:
            parts.append("With one training seed per model this is about these two trained networks, not the "
                         "method.")
        if self.paper is not None:
            rel = ("which this interval excludes" if t.excludes(self.paper) else "which this interval contains")
            parts.append(f"The paper's own difference on this endpoint is {c.fmt(self.paper)}, {rel}.")
        if self.word == "equivalent":
            parts.append(f"The two one-sided tests put the difference inside the declared margin of "
                         f"±{c.fmt(c.margin, signed=False)} (p = {t.equivalence_p(c.margin):.3f}).")
        elif self.word == "inconclusive":
            parts.append(f"The data cannot exclude differences from {c.fmt(t.low)} to {c.fmt(t.high)}; at these "
                         f"sizes the smallest difference detectable with 80% power is "
                         f"{c.fmt(self.mde, signed=False)}.")
        else:
            parts.append(f"(Minimal detectable difference at 80% power: {c.fmt(self.mde, signed=False)}.)")
        if self.settings is not None and len(self.settings) > 1:
            hi = [v for v, o in self.settings["outcome"].items() if o == "higher"]
            lo = [v for v, o in self.settings["outcome"].items() if o == "lower"]
            n = len(self.settings)
            detail = [f"{c.higher} at {self.what} {_list(hi)}" if hi else "",
                      f"{c.lower} at {self.what} {_list(lo)}" if lo else ""]
            detail = " and ".join(d for d in detail if d)
            parts.append(f"Setting by setting (Holm-adjusted over {n} {_plural(self.what)}): "
                         + (f"{c.subject} is {detail}, not distinguishable at the others." if detail else
                            f"no {self.what} differs on its own."))
        if self.excluded:
            parts.append(f"Left out as uninformative (a compared classifier is at chance there on the validation "
                         f"split): {self.what} {_list(self.excluded)}.")
        return " ".join(parts)


def _plural(word: str) -> str:
    return word[:-1] + "ies" if word.endswith("y") else word + "s"


def _list(values) -> str:
    items = [f"{v:g}" if isinstance(v, (int, float, np.floating)) else str(v) for v in values]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def settings_table(tests: dict, alpha: float = ALPHA) -> pd.DataFrame:
    """Per-setting secondary tests: simultaneous intervals and Holm decisions."""
    keys = list(tests)
    reject, p_adj = holm([tests[k].p for k in keys], alpha)
    sim = simultaneous([tests[k] for k in keys], 1 - alpha)
    rows = []
    for k, r, p, s in zip(keys, reject, p_adj, sim):
        out = "higher" if r and s.estimate > 0 else "lower" if r and s.estimate < 0 else "no difference"
        rows.append({"setting": k, "estimate": s.estimate, "low": s.low, "high": s.high, "p": float(p),
                     "outcome": out})
    return pd.DataFrame(rows).set_index("setting")


def judge(claim: Claim | str, primary: SeedTest, *, settings: dict | None = None, included: Sequence = (),
          excluded: Sequence = (), what: str = "setting") -> Verdict:
    """The verdict on ``claim`` from the test of its primary endpoint (module docstring).

    Args:
        claim: a :class:`Claim` or its key in :data:`CLAIMS`.
        primary: the test of the primary endpoint (subject minus reference).
        settings: ``{setting: SeedTest}`` of the same comparison at each included setting
            (secondary, Holm-adjusted); ``None`` for a single-setting endpoint.
        included, excluded: the settings averaged, and those left out as uninformative.
        what: the name of a setting ("intensity", "budget").
    """
    claim = CLAIMS[claim] if isinstance(claim, str) else claim
    table = settings_table(settings) if settings else None
    hi = int((table["outcome"] == "higher").sum()) if table is not None else 0
    lo = int((table["outcome"] == "lower").sum()) if table is not None else 0
    sig = primary.p < ALPHA
    d = claim.direction or 1
    toward = sig and np.sign(primary.estimate) == d
    if claim.direction == 0 and sig:
        word = claim.higher if primary.estimate > 0 else claim.lower
    elif toward:
        n = len(table) if table is not None else 0
        good, bad = (hi, lo) if d > 0 else (lo, hi)
        word = "is mixed" if bad else "holds" if table is None or good == n else "holds in part"
    elif sig:
        word = "does not hold"
    elif hi and lo:
        word = "is mixed"
    elif primary.equivalent(claim.margin, ALPHA):
        word = "equivalent"
    else:
        word = "inconclusive"
    paper_value = claim.paper_effect(list(included)) if claim.paper_effect is not None else None
    return Verdict(claim, word, primary, table, tuple(included), tuple(excluded), paper_value, what)
