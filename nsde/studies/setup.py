"""Every chapter's opening, in one call: the profile, the run-time policy, the data and the
models the book trains (each loaded from the cache after the first chapter trains it).

    from nsde.studies.setup import setup
    S = setup(profile)               # S.profile, S.data, S.run, S.zoo, S.classifiers
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property

from nsde._infra.runtime import configure
from nsde.core.training import TrainedModel
from nsde.data import Splits, load_dataset
from nsde.studies.profiles import Profile, get_profile
from nsde.studies.protocols import Classifier, classifiers
from nsde.studies.zoo import train_zoo

__all__ = ["Setup", "setup", "load_profile_data"]


def load_profile_data(profile: Profile) -> Splits:
    """The data set a profile names, at its image size and seed."""
    return load_dataset(profile.dataset, image_size=profile.image_size, seed=profile.seed,
                        n_per_class=profile.n_per_class)


@dataclass
class Setup:
    """What a chapter works with.

    Attributes:
        profile: the validated :class:`nsde.studies.profiles.Profile`.
        data: the splits of its data set.
        run: the run-time policy in force (:func:`nsde._infra.runtime.configure`).
        started: ``time.perf_counter()`` when the chapter opened (its wall time).
    """

    profile: Profile
    data: Splits
    run: dict = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    @cached_property
    def zoo(self) -> dict[str, list[TrainedModel]]:
        """Every model of :func:`nsde.studies.zoo.train_zoo` (trained once, then loaded)."""
        return train_zoo(self.data, self.profile)

    @property
    def models_text(self) -> str:
        """What the book's models are, in words: architecture, image size, training, data."""
        p = self.profile
        return (f"{p.arch}, {p.image_size}x{p.image_size} spectrograms, {p.epochs} epochs on {len(self.data.train):,} "
                f"training images of {self.data.name}, {p.n_seeds} seeds, NSDE {p.noise_shape} noise at sigma "
                f"{p.sigma:g}, ensemble of {p.eval_samples} passes")

    @cached_property
    def classifiers(self) -> dict[str, Classifier]:
        """The three classifiers every comparison of the book is about
        (:func:`nsde.studies.protocols.classifiers`)."""
        return classifiers(self.zoo, self.profile)


def setup(profile: str, *, zoo: bool = True) -> Setup:
    """Read and check the profile, apply the run-time policy, load the data and (with
    ``zoo``) train or load the book's models.

    Args:
        profile: a profile name (``quick``, ``default``, ``paper`` or one of your own).
        zoo: train or load the models now (``False``: on first use of ``.zoo``).
    """
    started = time.perf_counter()
    p = get_profile(profile)
    run = configure(p.seed)
    s = Setup(p, load_profile_data(p), run, started)
    if zoo:
        s.zoo  # noqa: B018  (train or load now, so the chapter's first cell pays for it)
    return s
