"""The book's evaluation protocols as data and functions: which classifiers are compared,
which images are attacked, the gradient-masking checks, and the settings of ABC and of the
stability measure, so that chapters and studies use one definition of each.

**The compared classifiers** (:func:`classifiers`): every comparison of the book is
between three classifiers, each a :class:`Classifier` (its trained networks, one per seed,
and how they are run): the baseline; the NSDE with its noise **off** (its drift path, a
deterministic network); and the NSDE **ensemble**, its noise on, the mean softmax of
``eval_samples`` noisy passes.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from nsde._infra.checks import positive_int
from nsde.core.training import TrainedModel
from nsde.stats.compare import compare_scores, compare_tables, outcome

__all__ = ["BASELINE", "NOISE_OFF", "ENSEMBLE", "Classifier", "classifiers", "ABCSettings", "StabilitySettings",
           "abc_settings", "stability_settings",
           "masking_checks", "clean_correct_subset"]

#: The labels of the three compared classifiers.
BASELINE, NOISE_OFF, ENSEMBLE = "baseline", "NSDE, noise off", "NSDE ensemble"


@dataclass(frozen=True)
class Classifier:
    """A classifier as the book evaluates it.

    Attributes:
        label: its name on the pages.
        runs: its trained networks, one per training seed (seed ``i`` of two classifiers
            of one zoo share what the seed sets).
        noise: ``"off"`` or ``"on"`` (the NSDE's noise at test time).
        samples: noisy passes averaged in softmax when the noise is on.
    """

    label: str
    runs: tuple[TrainedModel, ...]
    noise: str = "off"
    samples: int = 1

    @property
    def n_seeds(self) -> int:
        return len(self.runs)

    @property
    def eval(self) -> dict:
        """The keyword arguments of the measures that say how it runs: ``noise, samples``."""
        return {"noise": self.noise, "samples": self.samples}


def classifiers(zoo: dict, profile) -> dict[str, Classifier]:
    """The baseline, the NSDE with its noise off and the NSDE ensemble of a zoo.

    Args:
        zoo: :func:`nsde.studies.zoo.train_zoo` of the profile.
        profile: the profile (``noise_shape``, ``eval_samples``).
    """
    nsde = tuple(zoo[f"nsde-{profile.noise_shape}"])
    return {BASELINE: Classifier(BASELINE, tuple(zoo["baseline"])),
            NOISE_OFF: Classifier(NOISE_OFF, nsde),
            ENSEMBLE: Classifier(ENSEMBLE, nsde, "on", int(profile.eval_samples))}


@dataclass(frozen=True)
class ABCSettings:
    """The book's choices for ABC (:func:`nsde.measures.abc.evaluate_abc`; chapter 4 says why).

    Each sample mutates a fraction ``n_features`` of the pixels, drawn without replacement
    with probability proportional to ``|A_j / x_j|`` (``mask_law="categorical"``), the
    denominator floored at ``floor``; ``n_mutations`` samples per image.
    """

    n_mutations: int = 50
    mask_law: str = "categorical"
    n_features: float = 0.25
    floor: float = 1e-3

    def kwargs(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class StabilitySettings:
    """The book's attribution-stability measure (:func:`nsde.measures.attribution.attribution_stability`):
    IG maps of the clean and of ``n_perturbations`` perturbed copies of each image, the
    perturbation ``N(0, epsilon^2)`` per pixel (the paper's NoiseTunnel std), top-k at
    ``topk`` of the pixels."""

    n_perturbations: int = 5
    method: str = "ig"
    epsilon: float = 0.01
    topk: float = 0.1

    def kwargs(self) -> dict:
        return asdict(self)


def abc_settings(profile) -> ABCSettings:
    """:class:`ABCSettings` at the profile's ``abc_n_mutations``."""
    return ABCSettings(n_mutations=int(profile.abc_n_mutations))


def stability_settings(profile) -> StabilitySettings:
    """:class:`StabilitySettings` at the profile's ``stability_n_perturbations``."""
    return StabilitySettings(n_perturbations=int(profile.stability_n_perturbations))


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
