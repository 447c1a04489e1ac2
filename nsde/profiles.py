"""Profiles: the one place where the scale of every experiment of the book is set.

``book/profiles.yaml`` maps a profile name (``quick``, ``default``, ``paper``) to its
settings. Every chapter takes one parameter, ``profile``, and reads its settings with
:func:`get_profile`, a :class:`Profile` whose every value has been checked against the
schema below **before any work starts**: a missing, unknown (misspelt), duplicated or
ill-typed setting, or a value out of range, stops the run with one message naming the
profile, the setting and what is allowed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import yaml

__all__ = ["ProfileError", "PROFILES_FILE", "Profile", "load_profiles", "get_profile"]

PROFILES_FILE = Path(__file__).resolve().parents[1] / "book" / "profiles.yaml"


class ProfileError(ValueError):
    """A profile file, profile name or setting is wrong. The message names the problem."""


# ----------------------------------------------------------------------------- value checks
def _int(lo: int = 0, none: bool = False) -> Callable[[Any], str | None]:
    def check(v):
        if v is None and none:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            return f"an int >= {lo}" + (" or null (all)" if none else "")
        return None
    return check


def _number(lo: float = 0.0, strict: bool = True) -> Callable[[Any], str | None]:
    def check(v):
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and (v > lo if strict else v >= lo)
        return None if ok else f"a number {'>' if strict else '>='} {lo:g}"
    return check


def _numbers(lo: float = 0.0, strict: bool = True, increasing: bool = False, at_most: float | None = None):
    def check(v):
        if not isinstance(v, list) or not v:
            return "a non-empty list of numbers (write [x] for one value)"
        item = _number(lo, strict)
        if any(item(x) for x in v) or (at_most is not None and any(x > at_most for x in v)):
            return f"a list of numbers {'>' if strict else '>='} {lo:g}" + (f" and <= {at_most:g}" if at_most else "")
        if increasing and any(b <= a for a, b in zip(v, v[1:])):
            return "a strictly increasing list of numbers"
        return None
    return check


def _choice(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    return lambda v: None if isinstance(v, str) and v in choices else f"one of {list(choices)}"


def _choices(choices: tuple[str, ...], empty: bool = True) -> Callable[[Any], str | None]:
    def check(v):
        if not isinstance(v, list) or (not v and not empty) or any(not isinstance(x, str) or x not in choices for x in v):
            return f"a list of names from {list(choices)} (write [name] for one)"
        return None
    return check


def _dataset(v) -> str | None:
    from nsde.data import check_dataset_spec

    try:
        check_dataset_spec(v)
    except ValueError as exc:
        return str(exc)
    return None


def _grid(v) -> str | None:
    from nsde.shape_study import parse_grid

    try:
        parse_grid(v)
    except ValueError as exc:
        return f"a list of 'shape@sigma' entries ({exc})"
    return None


def _archs():
    from nsde.models import ARCHS

    return ARCHS


def _shapes():
    from nsde.noise import SHAPES

    return SHAPES


def _setting(check, doc: str):
    return field(metadata={"check": check, "doc": doc})


@dataclass(frozen=True)
class Profile:
    """Every setting of a profile, checked on construction (see ``book/profiles.yaml``).

    The docstring of each setting is in the field's ``doc`` metadata; :meth:`describe`
    tabulates them.
    """

    name: str
    # --- data
    dataset: Any = _setting(_dataset, "data set: 'harmonic' (simulator), 'plaid', or a path / mapping")
    seed: int = _setting(_int(0), "seed of the data, the split and the first training run")
    n_per_class: int = _setting(_int(3), "simulated spectrograms per class")
    image_size: int = _setting(_int(32), "spectrogram side in pixels")
    # --- models and training
    arch: str = _setting(lambda v: _choice(_archs())(v), "architecture of the book's models (timm)")
    compare_arch: str = _setting(lambda v: _choice(_archs())(v), "architecture compared with `arch` in chapter 2")
    arch_lrs: list = _setting(_numbers(), "learning rates tried per architecture in chapter 2 (chosen on validation)")
    compare_more_data: int = _setting(_int(1), "chapter 2 also trains `compare_arch` on this many times the data (1: no)")
    epochs: int = _setting(_int(1), "training epochs")
    batch_size: int = _setting(_int(1), "images per training step")
    lr: float = _setting(_number(), "peak learning rate of the book's models")
    sigma: float = _setting(_number(0.0, strict=False), "NSDE noise level (noise std / activation RMS per block)")
    noise_shape: str = _setting(lambda v: _choice(_shapes())(v), "the NSDE's noise shape")
    variant_shapes: list = _setting(lambda v: _choices(_shapes())(v), "other NSDE noise shapes trained (one seed)")
    n_seeds: int = _setting(_int(1), "training seeds of the baseline and the main NSDE")
    eval_samples: int = _setting(_int(1), "noisy passes averaged by the NSDE ensemble (noise on)")
    # --- robustness (chapter 3)
    robust_n_images: Any = _setting(_int(1, none=True), "test images of the noise sweeps")
    shaped_intensities: list = _setting(_numbers(increasing=True), "intensities of the shaped-noise sweeps")
    attack_pool: Any = _setting(_int(1, none=True), "candidate test images the attacked set is drawn from")
    attack_n_images: Any = _setting(_int(1, none=True), "attacked images (all models classify them correctly)")
    attack_eps: list = _setting(_numbers(increasing=True), "L2 budgets of the non-adaptive attack")
    apgd_iters: int = _setting(_int(1), "APGD iterations")
    eot_iters: int = _setting(_int(1), "EOT draws per gradient of the adaptive attack")
    adaptive_eps: list = _setting(_numbers(increasing=True), "L2 budgets of the adaptive attacks")
    score_draws: int = _setting(_int(1), "fresh ensembles scoring each attacked image of a random model")
    aa_iters: int = _setting(_int(1), "iterations of AutoAttack-rand (the protocol: 100)")
    square_queries: int = _setting(_int(1), "queries of the Square attack")
    check_n_images: Any = _setting(_int(1, none=True), "images of the gradient-masking checks")
    # --- explanations (chapter 4)
    attr_n_images: Any = _setting(_int(1, none=True), "test images explained")
    ig_steps: int = _setting(_int(1), "Integrated Gradients steps")
    nt_samples: int = _setting(_int(1), "NoiseTunnel samples")
    abc_samples: int = _setting(_int(1), "ABC samples per image")
    stability_perturbations: int = _setting(_int(1), "perturbations per image of the stability measure")
    # --- spectral decomposition (chapter 5)
    iaside_k: Any = _setting(_int(2, none=True), "images of the I-ASIDE game")
    iaside_bands: int = _setting(_int(2), "I-ASIDE bands")
    # --- less training data (chapter 6)
    train_fractions: list = _setting(_numbers(at_most=1.0), "training-set fractions of the data-size study")
    data_size_intensities: list = _setting(_numbers(0.0, strict=False, increasing=True),
                                           "white-noise intensities of the data-size study")
    # --- noise shapes (chapter 8)
    shape_grid: list = _setting(lambda v: _grid(v), "NSDEs of the noise-shape study, as 'shape@sigma' entries")
    shaping_rounds: int = _setting(_int(0), "rounds of attribution shaping (0: uniform noise only)")
    shaping_attribution: str = _setting(_choice(("saliency", "ig")), "attribution the noise envelopes come from")
    shape_n_images: int = _setting(_int(8), "test images of the noise-shape study's measures")
    # --- real recordings (the PLAID chapter)
    plaid_epochs: int = _setting(_int(1), "training epochs on PLAID")
    plaid_n_seeds: int = _setting(_int(1), "training seeds per model on PLAID")

    def __post_init__(self) -> None:
        for f in fields(self):
            check = f.metadata.get("check")
            if check is None:
                continue
            problem = check(getattr(self, f.name))
            if problem:
                raise ProfileError(f"profile {self.name!r}: {f.name} must be {problem}, but found "
                                   f"{getattr(self, f.name)!r}" if not problem.startswith("dataset") else
                                   f"profile {self.name!r}: {problem}")
        if not set(self.adaptive_eps) <= set(self.attack_eps):
            raise ProfileError(f"profile {self.name!r}: adaptive_eps {self.adaptive_eps} must be a subset of "
                               f"attack_eps {self.attack_eps}")
        if self.lr not in self.arch_lrs:
            raise ProfileError(f"profile {self.name!r}: lr {self.lr} must be one of arch_lrs {self.arch_lrs} (chapter 2 "
                               "chooses the learning rate of each architecture from them)")

    @classmethod
    def settings(cls) -> list[str]:
        """The setting names, in file order."""
        return [f.name for f in fields(cls) if f.name != "name"]

    def describe(self, names: list[str] | None = None):
        """A ``pandas.DataFrame`` of settings (all, or ``names``) with their meaning."""
        import pandas as pd

        docs = {f.name: f.metadata.get("doc", "") for f in fields(self)}
        names = names or self.settings()
        return pd.DataFrame({"value": [str(getattr(self, n)) for n in names], "meaning": [docs[n] for n in names]},
                            index=pd.Index(names, name=f"profile {self.name!r}"))


# ----------------------------------------------------------------------------- the file
class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate keys (PyYAML keeps the last one silently)."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ProfileError(f"duplicate key {key!r} at line {key_node.start_mark.line + 1} (first at line "
                               f"{seen[key] + 1}); each setting may appear once")
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def load_profiles(path: str | Path = PROFILES_FILE) -> dict[str, Profile]:
    """Read and validate every profile of the file.

    Returns:
        ``{profile name: Profile}``.

    Raises:
        ProfileError: the file is missing, is not valid YAML, has duplicate keys, or a
            profile misses, misspells or mistypes a setting (naming it).
    """
    path = Path(path)
    if not path.is_file():
        raise ProfileError(f"profiles file not found: {path}")
    try:
        data = yaml.load(path.read_text(encoding="utf-8-sig"), Loader=_UniqueKeyLoader)
    except ProfileError as exc:
        raise ProfileError(f"{path.name}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProfileError(f"{path.name}: malformed YAML{where}: {problem}") from None
    if not isinstance(data, dict) or not data:
        raise ProfileError(f"{path.name}: expected a mapping of profile names to settings, but found "
                           f"{type(data).__name__}")
    known = Profile.settings()
    out = {}
    for name, params in data.items():
        if not isinstance(params, dict):
            raise ProfileError(f"{path.name}: profile {name!r} must be a mapping of settings, but found "
                               f"{type(params).__name__}")
        missing = [k for k in known if k not in params]
        unknown = sorted(k for k in params if k not in known)
        if unknown:
            raise ProfileError(f"{path.name}: profile {name!r} sets {', '.join(map(repr, unknown))}, which no chapter "
                               f"reads (misspelt?); the settings are: {', '.join(known)}")
        if missing:
            raise ProfileError(f"{path.name}: profile {name!r} has no value for {', '.join(map(repr, missing))}")
        try:
            out[str(name)] = Profile(name=str(name), **params)
        except ProfileError as exc:
            raise ProfileError(f"{path.name}: {exc}") from None
    return out


def get_profile(name: str, path: str | Path = PROFILES_FILE) -> Profile:
    """The validated :class:`Profile` named ``name``; a clear error for an unknown name."""
    profiles = load_profiles(path)
    if name not in profiles:
        raise ProfileError(f"unknown profile {name!r}; known profiles: {', '.join(profiles)} (defined in "
                           f"{Path(path).name})")
    return profiles[name]
