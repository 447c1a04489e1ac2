"""Every chapter's opening, in one call: the profile, the run-time policy, the data and the
models the book trains (each loaded from the cache after the first chapter trains it).

    from nsde.studies.setup import setup
    S = setup(profile)               # S.profile, S.data, S.run, S.zoo, S.classifiers

and what can be checked of a profile's data before any chapter runs (:func:`check_data`,
which ``python -m nsde.runbook check`` and every build call first), and which kind of data
a profile names (:func:`data_kind`: the chapters show their simulator-only or
recordings-only cells accordingly).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property

from nsde._infra.runtime import configure
from nsde.core.training import TrainedModel
from nsde.data import DataConfig, Splits, describe_stft, load_dataset
from nsde.studies.profiles import Profile, ProfileError, get_profile
from nsde.studies.protocols import Classifier, classifiers
from nsde.studies.zoo import train_zoo

__all__ = ["Setup", "setup", "load_profile_data", "check_data", "data_kind", "DATA_KINDS"]

#: The kinds of data a profile can name: the simulator, or recordings (PLAID, your own).
DATA_KINDS = ("simulator", "recorded")


def load_profile_data(profile: Profile) -> Splits:
    """The data set a profile names, at its image size and seed."""
    return load_dataset(profile.dataset, image_size=profile.image_size, seed=profile.seed,
                        n_per_class=profile.n_per_class)


def data_kind(profile: Profile) -> str:
    """``"simulator"`` for the harmonic-signals simulator, ``"recorded"`` for recordings."""
    return "simulator" if profile.dataset == "harmonic" else "recorded"


def check_data(profile: Profile) -> str:
    """Refuse, before any chapter runs, everything about a profile's data that a chapter
    would refuse later: the simulator's configuration (image size against its STFT; the
    simulation itself is left to the first chapter), and for recordings every file (read,
    checked and turned into the cached splits the chapters then load: labels, lengths, the
    STFT settings against the recordings, the split) and the settings that depend on the
    data (``iaside_k`` against the test samples).

    Args:
        profile: a validated profile.

    Returns:
        One line saying what was checked (the data's classes, samples, rate and STFT).

    Raises:
        ProfileError: naming the profile, the file or setting and the fix.
    """
    name = profile.name
    if data_kind(profile) == "simulator":
        try:
            DataConfig(n_per_class=profile.n_per_class, image_size=profile.image_size, seed=profile.seed)
        except ValueError as exc:
            raise ProfileError(f"profile {name!r}: dataset harmonic: {exc}") from None
        return (f"profile {name!r}: the simulator's configuration ({profile.n_per_class} samples per class, "
                f"{profile.image_size}x{profile.image_size} images)")
    try:
        splits = load_profile_data(profile)
    except (ValueError, FileNotFoundError) as exc:
        raise ProfileError(f"profile {name!r}: dataset: {exc}") from None
    n_test = len(splits.test)
    if profile.iaside_k is not None and profile.iaside_k > n_test:
        raise ProfileError(f"profile {name!r}: iaside_k must be at most the {n_test} test samples of "
                           f"{splits.name}, but found {profile.iaside_k}; lower it, or write null for all")
    n = int(splits.info.get("samples", splits.image_size))
    return (f"profile {name!r}: {splits.name}, {splits.num_classes} classes, train/val/test "
            f"{len(splits.train)}/{len(splits.val)}/{n_test} samples of {splits.in_chans} channel(s), "
            f"{describe_stft(splits.stft, n, splits.sample_rate, tuple(splits.info.get('stft_fitted', ())))}")


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
        return self.describe_models()

    def describe_models(self, *, seeds: int | None = None, noise: str | None = None) -> str:
        """:attr:`models_text` for a study that departs from the profile, in words.

        Args:
            seeds: networks trained per model, when not the profile's ``n_seeds`` (chapter
                8's grid trains one per cell).
            noise: the NSDE's noise, in words, when not the profile's ``noise_shape`` at
                ``sigma``.
        """
        p = self.profile
        n = p.n_seeds if seeds is None else int(seeds)
        noise = noise if noise is not None else f"{p.noise_shape} noise at sigma {p.sigma:g}"
        return (f"{p.arch}, {p.image_size}x{p.image_size} spectrograms, {p.epochs} epochs on {len(self.data.train):,} "
                f"training images of {self.data.name}, {n} seed{'s' if n != 1 else ''}, NSDE {noise}, ensemble of "
                f"{p.eval_samples} passes")

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
