"""The book's evaluation protocols as data and functions: which classifiers are compared,
which images are attacked, and the settings of ABC and of the
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

from nsde._infra.checks import positive_int
from nsde.core.training import TrainedModel

__all__ = ["Classifier", "classifiers", "ABCSettings", "StabilitySettings", "abc_settings", "stability_settings",
           "clean_correct_subset"]

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
