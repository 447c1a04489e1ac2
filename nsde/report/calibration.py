"""The verdict pipeline's error rates, measured by simulating it (issue: verdicts are tests).

A verdict of this book is a statistical test; this module proves its false-positive rate,
the coverage of its intervals and its power by running the very functions the chapters
run (:func:`nsde.stats.compare.endpoint_tests` then :func:`nsde.report.claims.judge`) on
simulated per-image correctness tables whose truth is known.

**The simulated tables** (:func:`simulate_tables`) have the structure of real ones: a
model ``m`` of training seed ``s`` classifies image ``i`` at setting ``j`` correctly when
the latent

    c_j + delta_m + sqrt(r_image) Z_i + sqrt(r_pair) W_mi + sqrt(r_seed) V_ms + sqrt(rest) E_msij

is positive (a probit model): ``c_j`` sets the accuracy at setting ``j`` (falling with the
noise intensity), ``Z_i`` is the image's difficulty shared by both models and every setting,
``W_mi`` how much image ``i`` suits model ``m`` (a model x image interaction), ``V_ms`` the
seed's luck (shared by every image and setting of that trained network; ``rho`` correlates
the seed effects of the two models of one seed index, which share initial weights and
data order), and ``E`` the rest. ``delta`` shifts model a's latent: 0 is the null.

**Sizes from a build** (:func:`estimate_structure`): the accuracies ``c_j``, and the
variance fractions from a build's own tables: ``r_image`` and ``r_pair`` from how often two
seeds agree on an image (tetrachoric correlations), ``r_seed`` from the spread of the
seeds' accuracies beyond what the images explain.

**Results**: :func:`calibrate` gives, at each true effect, how often each verdict word
came out, the coverage of the primary interval and the mean interval width;
:func:`power_curve` the probability of a verdict in the paper's direction against the true
effect. The fast tests (``tests/test_calibration.py``) run a few hundred replicates with a
binomial tolerance; ``benchmarks/bench_calibration.py`` runs 1,000 or more and writes
``results/calibration.csv``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import optimize as _opt
from scipy import stats as _st

from nsde.report.claims import CLAIMS, Claim, judge
from nsde.stats.compare import endpoint_tests, informative_settings, scores, table_from_scores

__all__ = ["Structure", "AUDIT", "simulate_tables", "true_difference", "estimate_structure", "calibrate",
           "power_curve", "reachable", "FALSE_POSITIVE_WORDS", "BOOK_REPS", "structure_from_tables",
           "structure_of_study", "summary", "summary_sentence",
           "plot_power"]

#: The words that claim a difference; under the null any of them is a false positive.
FALSE_POSITIVE_WORDS = ("holds", "holds in part", "is mixed", "does not hold", "higher", "lower")


@dataclass(frozen=True)
class Structure:
    """The sizes of a simulated comparison (module docstring).

    Attributes:
        accuracy: the accuracy at each setting when ``delta = 0`` (fractions).
        r_image, r_pair, r_seed: fractions of the latent variance from the image, the
            model x image interaction and the training seed; the rest is per evaluation.
        rho: correlation of the two models' seed effects at one seed index.
        settings: the setting values (intensities, budgets).
    """

    accuracy: tuple[float, ...]
    r_image: float = 0.45
    r_pair: float = 0.05
    r_seed: float = 0.02
    rho: float = 0.0
    settings: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not self.accuracy or not all(0 < p < 1 for p in self.accuracy):
            raise ValueError(f"accuracies must lie strictly between 0 and 1, but found {self.accuracy}")
        parts = (self.r_image, self.r_pair, self.r_seed)
        if min(parts) < 0 or sum(parts) >= 1:
            raise ValueError(f"variance fractions must be >= 0 and sum to less than 1, but found {parts}")
        if not -1 <= self.rho <= 1:
            raise ValueError(f"rho must lie in [-1, 1], but found {self.rho}")
        if self.settings is not None and len(self.settings) != len(self.accuracy):
            raise ValueError("one setting value per accuracy")

    @property
    def values(self) -> tuple[float, ...]:
        return self.settings if self.settings is not None else tuple(float(j) for j in range(len(self.accuracy)))


#: Sizes like those the statistical audit of the old pipeline used: accuracy falling from
#: 86% to 5% over the paper's eight intensities, a seed-to-seed spread of several points.
AUDIT = Structure(accuracy=(0.86, 0.72, 0.55, 0.40, 0.28, 0.12, 0.07, 0.05), r_image=0.45, r_pair=0.05,
                  r_seed=0.03, settings=(0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 0.75, 1.0))


def simulate_tables(structure: Structure, n_seeds: int, n_images: int, rng: np.random.Generator, *,
                    delta: float = 0.0, n_validation: int = 0) -> tuple[np.ndarray, ...]:
    """Per-image correctness ``(S, J, N)`` of model a and model b (module docstring).

    Args:
        structure: the sizes.
        n_seeds, n_images: seeds per model and test images.
        rng: the random generator.
        delta: model a's shift on the latent (probit) scale.
        n_validation: also simulate this many validation images for the same trained
            networks (the same seed effects, other images).

    Returns:
        ``(a, b)``, or ``(a, b, a_validation, b_validation)`` with ``n_validation``.
    """
    st = structure
    c = _st.norm.ppf(np.asarray(st.accuracy))[None, :, None]
    v = rng.multivariate_normal([0.0, 0.0], [[1.0, st.rho], [st.rho, 1.0]], size=n_seeds)
    rest = 1.0 - st.r_image - st.r_pair - st.r_seed

    def split(n):
        z = rng.standard_normal(n)[None, None, :]
        out = []
        for m, shift in ((0, delta), (1, 0.0)):
            w = rng.standard_normal(n)[None, None, :]
            e = rng.standard_normal((n_seeds, len(st.accuracy), n))
            latent = (c + shift + math.sqrt(st.r_image) * z + math.sqrt(st.r_pair) * w
                      + math.sqrt(st.r_seed) * v[:, m][:, None, None] + math.sqrt(rest) * e)
            out.append((latent > 0).astype(float))
        return out

    return tuple(split(n_images) + (split(n_validation) if n_validation else []))


def true_difference(structure: Structure, delta: float, settings: Sequence[int] | None = None) -> float:
    """The population value of the endpoint (mean accuracy difference of a minus b over
    ``settings``, default all) for a latent shift ``delta``: exact, from the probit model."""
    idx = range(len(structure.accuracy)) if settings is None else settings
    c = _st.norm.ppf(np.asarray(structure.accuracy))[list(idx)]
    return float(np.mean(_st.norm.cdf(c + delta) - _st.norm.cdf(c)))


#: Largest latent shift (probit units) the simulation considers: beyond it, accuracies are 0 or 1.
_MAX_SHIFT = 6.0


def reachable(structure: Structure, effect: float) -> bool:
    """Whether a true endpoint difference of ``effect`` exists at these accuracies (a model
    at 97% everywhere cannot be 5 points better than another)."""
    return true_difference(structure, -_MAX_SHIFT) < effect < true_difference(structure, _MAX_SHIFT) or effect == 0


def _delta_for(structure: Structure, effect: float) -> float:
    """The latent shift whose true endpoint difference is ``effect``."""
    if effect == 0:
        return 0.0
    return float(_opt.brentq(lambda d: true_difference(structure, d) - effect, -_MAX_SHIFT, _MAX_SHIFT))


def _tetrachoric(p11: float, p1: float, p2: float) -> float:
    """The latent correlation of two probit indicators with marginals ``p1, p2`` and joint
    ``P(both) = p11``."""
    if not (0 < p1 < 1 and 0 < p2 < 1):
        return 0.0
    a, b = _st.norm.ppf(p1), _st.norm.ppf(p2)

    def joint(r):
        return _st.multivariate_normal(mean=[0, 0], cov=[[1, r], [r, 1]]).cdf([a, b]) - p11

    lo, hi = joint(-0.99), joint(0.99)
    if lo >= 0:
        return -0.99
    if hi <= 0:
        return 0.99
    return float(_opt.brentq(joint, -0.99, 0.99))


def estimate_structure(a: np.ndarray, b: np.ndarray, settings: Sequence[float] | None = None) -> Structure:
    """The :class:`Structure` of a build's own comparison, by moments.

    Args:
        a, b: per-image correctness ``(S, J, N)`` (0/1, or expected correctness) of the two
            compared models on the same images, ``S >= 2`` seeds.
        settings: the setting values.

    Returns:
        A :class:`Structure` with ``delta = 0`` accuracies (both models pooled).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 3 or a.shape[0] < 2:
        raise ValueError(f"need two (seeds >= 2, settings, images) tables of one shape, but found {a.shape}, {b.shape}")
    s, j, n = a.shape
    p = np.clip((a.mean((0, 2)) + b.mean((0, 2))) / 2, 0.01, 0.99)
    same, cross = [], []  # latent correlations of two seeds of one model, of the two models
    for k in range(j):
        if not 0.02 < p[k] < 0.98:
            continue
        for m in (a, b):
            x = (m[:, k] > 0.5).astype(float)
            for s1 in range(s):
                for s2 in range(s1 + 1, s):
                    same.append(_tetrachoric(float((x[s1] * x[s2]).mean()), x[s1].mean(), x[s2].mean()))
        xa, xb = (a[:, k] > 0.5).astype(float), (b[:, k] > 0.5).astype(float)
        for s1 in range(s):
            for s2 in range(s):
                if s1 != s2:
                    cross.append(_tetrachoric(float((xa[s1] * xb[s2]).mean()), xa[s1].mean(), xb[s2].mean()))
    r_image = float(np.clip(np.mean(cross) if cross else 0.45, 0.0, 0.9))
    r_pair = float(np.clip((np.mean(same) if same else r_image) - r_image, 0.0, 0.9 - r_image))
    # seed spread: the variance of per-seed accuracy beyond what finite images explain
    per_seed = np.concatenate([a.mean(2), b.mean(2)])  # (2S, J)
    noise = (per_seed.mean(0) * (1 - per_seed.mean(0))) * (1 - r_image - r_pair) / n
    excess = np.clip(per_seed.var(0, ddof=1) - noise, 0.0, None)
    slope = _st.norm.pdf(_st.norm.ppf(p)) ** 2  # d accuracy / d latent, squared
    r_seed = float(np.clip(np.mean(excess / np.maximum(slope, 1e-3)), 0.0, 0.95 - r_image - r_pair))
    return Structure(tuple(float(x) for x in p), r_image, r_pair, r_seed, 0.0,
                     tuple(settings) if settings is not None else None)


def _replicate(structure: Structure, claim: Claim, n_seeds: int, n_images: int, rng, delta: float,
               chance: float | None):
    values = list(structure.values)
    tables = simulate_tables(structure, n_seeds, n_images, rng, delta=delta, n_validation=n_images if chance else 0)
    ta, tb, *val = [table_from_scores("setting", values, [m[:, k] for k in range(len(values))]) for m in tables]
    kept = values
    if chance:  # the chance rule, on the validation images, as the chapters apply it
        kept = [v for v in values if all(v in informative_settings(t, "setting", chance) for t in val)]
        if not kept:
            return None, []
    primary, per_setting = endpoint_tests(ta, tb, "setting", kept)
    verdict = judge(replace(claim, paper_effect=None), primary, settings=per_setting, included=kept)
    return verdict, [values.index(k) for k in kept]


def calibrate(structure: Structure, *, n_seeds: int, n_images: int, effects: Sequence[float] = (0.0,),
              claim: Claim | str = "table2", reps: int = 200, seed: int = 0, chance: float | None = None) -> pd.DataFrame:
    """Run the verdict pipeline on simulated tables at each true effect.

    Args:
        structure: the sizes (:class:`Structure`, e.g. :func:`estimate_structure` of a build).
        n_seeds, n_images: the build's sizes.
        effects: true endpoint differences (fractions) of model a minus model b.
        claim: the claim whose verdict rule is run (its direction and margin).
        reps: replicates per effect.
        seed: seed of the simulation.
        chance: apply the chance rule at this rate (as :mod:`nsde.studies.noise_study`
            does, on as many simulated validation images); ``None``: every setting counts.

    Returns:
        One row per effect that these accuracies allow (:func:`reachable`; an effect
        beyond them has no row): ``effect, reps, claims a difference`` (the rate of
        :data:`FALSE_POSITIVE_WORDS`), ``in the paper's direction``, one column per verdict
        word with its rate, ``coverage`` (of the primary 95% interval), ``mean width``,
        ``seeds, images``.
    """
    claim = CLAIMS[claim] if isinstance(claim, str) else claim
    rng = np.random.default_rng(seed)
    rows = []
    for effect in effects:
        if not reachable(structure, effect):
            continue  # no pair of models at these accuracies differs by this much
        delta = _delta_for(structure, effect)
        words, covered, widths, toward, judged = [], 0, [], 0, 0
        for _ in range(reps):
            v, kept = _replicate(structure, claim, n_seeds, n_images, rng, delta, chance)
            if v is None:
                words.append("no informative setting")
                continue
            judged += 1
            words.append(v.word)
            covered += v.primary.low <= true_difference(structure, delta, kept) <= v.primary.high
            widths.append(v.primary.high - v.primary.low)
            toward += v.word in ("holds", "holds in part") or (claim.direction == 0 and v.word == claim.higher)
        counts = pd.Series(words).value_counts()
        row = {"effect": effect, "reps": reps, "seeds": n_seeds, "images": n_images,
               "claims a difference": float(sum(counts.get(w, 0) for w in FALSE_POSITIVE_WORDS)) / reps,
               "in the paper's direction": toward / reps, "coverage": covered / judged if judged else float("nan"),
               "mean width": float(np.mean(widths)) if widths else float("nan")}
        row.update({w: float(counts.get(w, 0)) / reps for w in sorted(set(words))})
        rows.append(row)
    return pd.DataFrame(rows)


def power_curve(structure: Structure, *, n_seeds: int, n_images: int, effects: Sequence[float],
                claim: Claim | str = "table2", reps: int = 200, seed: int = 0, chance: float | None = None) -> pd.DataFrame:
    """``effect, power``: how often the verdict goes the paper's way at each true effect."""
    cal = calibrate(structure, n_seeds=n_seeds, n_images=n_images, effects=effects, claim=claim, reps=reps, seed=seed,
                    chance=chance)
    return cal[["effect", "in the paper's direction", "coverage"]].rename(columns={"in the paper's direction": "power"})


#: Replicates per true effect of the calibration a book page runs (the benchmark runs more).
BOOK_REPS = 400


def structure_from_tables(a: pd.DataFrame, b: pd.DataFrame, xcol: str, settings: Sequence[float]) -> Structure:
    """:func:`estimate_structure` of two models' tables (per-image correctness
    ``(seeds, N)`` per row, as the measures return them) at ``settings``."""
    if not settings:
        raise ValueError("no settings to estimate the structure from")
    ta = np.stack([scores(a, v) for v in settings], axis=1)
    tb = np.stack([scores(b, v) for v in settings], axis=1)
    return estimate_structure(ta, tb, list(settings))


def structure_of_study(a: pd.DataFrame, b: pd.DataFrame, xcol: str,
                       informative: Sequence[float]) -> tuple[Structure, str]:
    """The structure to calibrate a build's verdict at: :func:`structure_from_tables` at the
    ``informative`` settings (those the verdict uses), or, where no setting is informative
    (every compared model at chance: the verdict has no setting to test), at every setting
    of the tables, so that the page still shows what the build's sizes could detect.

    Returns:
        ``(structure, basis)``: ``basis`` says which settings it was estimated from.
    """
    if informative:
        return structure_from_tables(a, b, xcol, informative), f"the informative settings ({len(informative)})"
    every = sorted(float(v) for v in a[xcol].unique() if float(v) > 0) or sorted(float(v) for v in a[xcol].unique())
    return (structure_from_tables(a, b, xcol, every),
            f"every setting ({len(every)}: none is informative in this build, so its verdict tests none)")


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """A :func:`calibrate` table as the book shows it: per true effect (points), how often a
    difference was announced, how often in the paper's direction, the coverage and the
    mean interval width (points)."""
    out = pd.DataFrame({"true difference (points)": 100 * table["effect"],
                        "announces a difference": table["claims a difference"],
                        "says the claim holds (power)": table["in the paper's direction"],
                        "coverage of the 95% interval": table["coverage"],
                        "mean interval width (points)": 100 * table["mean width"], "replicates": table["reps"]})
    return out.round(3).set_index("true difference (points)")


def summary_sentence(table: pd.DataFrame) -> str:
    """Whether the null row meets the nominal rates (three binomial standard errors)."""
    null = table[table["effect"] == 0]
    if null.empty:
        return "no null row was simulated"
    r = null.iloc[0]
    n = int(r["reps"])
    fp_ok = r["claims a difference"] <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / n)
    cov_ok = r["coverage"] >= 0.95 - 3 * math.sqrt(0.05 * 0.95 / n)
    return (f"under no true difference, announces one at most at the nominal 5% (within 3 standard errors of "
            f"{n} replicates): {fp_ok}; the 95% interval covers at its nominal rate: {cov_ok}")


def plot_power(table: pd.DataFrame, ax=None):
    """Power (the verdict goes the paper's way) against the true difference, in points."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    ax.plot(100 * table["effect"], table["in the paper's direction"], marker="o")
    ax.axhline(0.05, color="grey", ls="--", lw=1)
    ax.axhline(0.8, color="grey", ls=":", lw=1)
    ax.set_xlabel("true difference, NSDE minus baseline (points)")
    ax.set_ylabel("probability the claim is said to hold")
    ax.set_ylim(0, 1)
    return ax
