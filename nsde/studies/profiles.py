"""Profiles: the one place where the scale of every experiment of the book is set.

``profiles.yaml`` (shipped in this package) maps a profile name (``quick``, ``default``,
``paper``) to its settings; a user's own profiles (``profiles.yaml`` in the current folder,
or the file ``$NSDE_PROFILES`` names) take every setting they do not set from ``default``. Every chapter takes one parameter, ``profile``, and reads its settings with
:func:`get_profile`, a :class:`Profile` whose every value has been checked against the
schema below **before any work starts**: a missing, unknown (misspelt), duplicated or
ill-typed setting, or a value out of range, stops the run with one message naming the
profile, the setting and what is allowed.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import yaml

from nsde.core.models import ARCHS
from nsde.core.noise import SHAPES, parse_grid
from nsde.data import CLASS_NAMES, DataConfig, check_dataset_spec, min_class_size, split_counts
from nsde.measures.iaside import MAX_BANDS, MIN_IMAGE_SIZE

__all__ = ["ProfileError", "PROFILES_FILE", "USER_FILE_ENV", "RENAMED", "REMOVED", "Profile", "load_profiles", "get_profile",
           "user_profiles_file"]

#: The profiles shipped with the package (package data, read without an editable install).
PROFILES_FILE = resources.files("nsde.studies") / "profiles.yaml"
#: The environment variable naming a user's own profiles file.
USER_FILE_ENV = "NSDE_PROFILES"
#: The key of a profile naming the profile whose settings it starts from.
EXTENDS = "extends"
#: Settings renamed in 0.2 (old name -> new): a profile using an old name gets a message naming the new one.
#: Settings removed in 0.2, with what took their place.
REMOVED: dict[str, str] = {
    "adaptive_eps": "the attack battery runs at every budget of attack_eps",
    "aa_iters": "the attack battery holds AutoAttack-rand's attacks (APGD-CE and APGD-DLR with EOT), every image attacked",
    "aa_n_iter": "the attack battery holds AutoAttack-rand's attacks (APGD-CE and APGD-DLR with EOT), every image attacked",
    "compare_arch": "the architecture is chosen by the regime search (results/regime_search.csv, nsde.studies.regime)",
    "arch_lrs": "the learning rate is chosen by the regime search (results/regime_search.csv, nsde.studies.regime)",
    "compare_more_data": "the data size is a knob of the regime search (results/regime_search.csv)",
}
RENAMED: dict[str, str] = {
    "robust_n_images": "noise_n_images",
    "apgd_iters": "apgd_n_iter",
    "eot_iters": "eot_iter",
    "square_queries": "square_n_queries",
    "ig_steps": "ig_n_steps",
    "abc_samples": "abc_n_mutations",
    "stability_perturbations": "stability_n_perturbations",
    "score_draws": "draws",
    "iaside_bands": "iaside_n_bands",
    "shaping_rounds": "envelope_rounds",
    "shaping_attribution": "envelope_attribution",
}


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
    try:
        check_dataset_spec(v)
    except ValueError as exc:
        return str(exc)
    return None


def _grid(v) -> str | None:
    try:
        parse_grid(v)
    except ValueError as exc:
        return f"a list of 'shape@sigma' entries ({exc})"
    return None


def _archs():
    return ARCHS


def _shapes():
    return SHAPES


def _setting(check, doc: str):
    return field(metadata={"check": check, "doc": doc})


@dataclass(frozen=True)
class Profile:
    """Every setting of a profile, checked on construction (see ``nsde/studies/profiles.yaml``).

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
    epochs: int = _setting(_int(1), "training epochs")
    batch_size: int = _setting(_int(1), "images per training step")
    lr: float = _setting(_number(), "peak learning rate of the book's models")
    sigma: float = _setting(_number(0.0, strict=False), "NSDE noise level (noise std / activation RMS per block)")
    noise_shape: str = _setting(lambda v: _choice(_shapes())(v), "the NSDE's noise shape")
    variant_shapes: list = _setting(lambda v: _choices(_shapes())(v), "other NSDE noise shapes trained (one seed)")
    n_seeds: int = _setting(_int(1), "training seeds of the baseline and the main NSDE")
    eval_samples: int = _setting(_int(1), "noisy passes averaged by the NSDE ensemble (noise on)")
    # --- robustness (chapter 3)
    noise_n_images: Any = _setting(_int(1, none=True), "test (and validation) images of the noise sweeps (null: all)")
    shaped_intensities: list = _setting(_numbers(increasing=True), "intensities of the shaped-noise sweeps")
    attack_pool: Any = _setting(_int(1, none=True), "candidate test images the attacked set is drawn from")
    attack_n_images: Any = _setting(_int(1, none=True), "attacked images (all models classify them correctly)")
    attack_eps: list = _setting(_numbers(increasing=True), "L2 budgets of the attack battery (the paper's four)")
    apgd_n_iter: int = _setting(_int(1), "APGD iterations of every attack of the battery")
    eot_iter: int = _setting(_int(1), "EOT draws per gradient of the adaptive attacks")
    draws: int = _setting(_int(1), "fresh ensembles scoring each attacked image of a random model")
    square_n_queries: int = _setting(_int(1), "queries of the Square attack (a masking check)")
    check_n_images: Any = _setting(_int(1, none=True), "images of the gradient-masking checks and the convergence study")
    check_eps: list = _setting(_numbers(increasing=True), "large L2 budgets at which robust accuracy must reach ~0")
    convergence_n_iter: list = _setting(_numbers(increasing=True), "APGD iterations of the convergence study")
    convergence_eot_iter: list = _setting(_numbers(increasing=True), "EOT draws of the convergence study")
    # --- explanations (chapter 4)
    attr_n_images: Any = _setting(_int(1, none=True), "test images explained")
    ig_n_steps: int = _setting(_int(1), "Integrated Gradients steps")
    nt_samples: int = _setting(_int(1), "NoiseTunnel samples")
    abc_n_mutations: int = _setting(_int(1), "ABC samples per image")
    stability_n_perturbations: int = _setting(_int(1), "perturbations per image of the stability measure")
    # --- spectral decomposition (chapter 5)
    iaside_k: Any = _setting(_int(2, none=True), "images of the I-ASIDE game")
    iaside_n_bands: int = _setting(_int(2), "I-ASIDE bands")
    # --- less training data (chapter 6)
    train_fractions: list = _setting(_numbers(at_most=1.0), "training-set fractions of the data-size study")
    data_size_intensities: list = _setting(_numbers(0.0, strict=False, increasing=True),
                                           "white-noise intensities of the data-size study")
    # --- noise shapes (chapter 8)
    shape_grid: list = _setting(lambda v: _grid(v), "NSDEs of the noise-shape study, as 'shape@sigma' entries")
    envelope_rounds: int = _setting(_int(0), "rounds of attribution shaping (0: uniform noise only)")
    envelope_attribution: str = _setting(_choice(("saliency", "ig")), "attribution the noise envelopes come from")
    shape_n_images: int = _setting(_int(8), "test images of the noise-shape study's measures")
    # --- real recordings (the PLAID chapter)
    plaid_epochs: int = _setting(_int(1), "training epochs on PLAID")
    plaid_n_seeds: int = _setting(_int(1), "training seeds per model on PLAID")

    def __post_init__(self) -> None:
        for f in fields(self):
            check = f.metadata.get("check")
            if check is None:
                continue
            value = getattr(self, f.name)
            problem = check(value)
            if problem:
                raise ProfileError(f"profile {self.name!r}: {f.name} must be {problem}, but found "
                                   f"{value!r}{_text_number_hint(value)}" if not problem.startswith("dataset") else
                                   f"profile {self.name!r}: {problem}")

    def check_scale(self) -> None:
        """Settings that must fit the data and each other, checked when a profile is loaded
        (not when a chapter runs): ``n_per_class`` against the split, ``iaside_n_bands``
        against the image size, ``iaside_k`` against the simulated test images.
        (Programmatic variants, ``dataclasses.replace(P, ...)``, are not checked.)

        Raises:
            ProfileError: naming the setting, its value and the bound.
        """
        split = DataConfig.split
        need = min_class_size(split)
        if self.n_per_class < need:  # chapter 1 always simulates the harmonic data with it
            tr, va, te = split_counts(self.n_per_class, split)
            raise ProfileError(f"profile {self.name!r}: n_per_class must be >= {need}, so that the "
                               f"{'/'.join(f'{round(100 * f)}' for f in split)} train/val/test split gives every "
                               f"split a sample of each class, but found {self.n_per_class} (it gives "
                               f"{tr}/{va}/{te} per class)")
        if not self.iaside_n_bands <= min(MAX_BANDS, self.image_size):
            raise ProfileError(f"profile {self.name!r}: iaside_n_bands must be at most "
                               f"{min(MAX_BANDS, self.image_size)} (I-ASIDE plays all 2^iaside_n_bands coalitions, at "
                               f"most 2^{MAX_BANDS}, and each band needs a frequency bin of the "
                               f"{self.image_size}-pixel images), but found {self.iaside_n_bands}")
        if self.image_size < MIN_IMAGE_SIZE:
            raise ProfileError(f"profile {self.name!r}: image_size must be >= {MIN_IMAGE_SIZE} for I-ASIDE, but found "
                               f"{self.image_size}")
        if self.dataset == "harmonic":
            n_test = len(CLASS_NAMES) * split_counts(self.n_per_class, split)[2]
            for name in ("iaside_k",):
                k = getattr(self, name)
                if k is not None and k > n_test:
                    raise ProfileError(f"profile {self.name!r}: {name} must be at most the {n_test} test images of "
                                       f"the harmonic data ({len(CLASS_NAMES)} classes x "
                                       f"{split_counts(self.n_per_class, split)[2]} with n_per_class "
                                       f"{self.n_per_class}), but found {k}; lower it, or write null for all")

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


def _text_number_hint(value: Any) -> str:
    """``"; write 0.002 (YAML reads 2e-3 as text)"`` when ``value`` (or an item of it) is a
    number YAML read as a string (YAML 1.1 needs a dot in a float: ``2.0e-3``, not ``2e-3``)."""
    items = value if isinstance(value, list) else [value]
    texts = [v for v in items if isinstance(v, str)]
    numbers = []
    for v in texts:
        try:
            numbers.append(float(v))
        except ValueError:
            return ""
    if not texts or not all(math.isfinite(x) for x in numbers):
        return ""
    import numpy as np

    def plain(x: float) -> str:
        return np.format_float_positional(x, trim="-")

    fixed = [plain(float(v)) if isinstance(v, str) else str(v) for v in items]
    written = f"[{', '.join(fixed)}]" if isinstance(value, list) else fixed[0]
    return f"; write {written} (YAML reads {texts[0]} as text)"


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


def _read(text: str, label: str) -> dict:
    """Parse one profiles file (YAML, no duplicate keys) into ``{name: mapping}``."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except ProfileError as exc:
        raise ProfileError(f"{label}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProfileError(f"{label}: malformed YAML{where}: {problem}") from None
    if not isinstance(data, dict) or not data:
        raise ProfileError(f"{label}: expected a mapping of profile names to settings, but found "
                           f"{type(data).__name__}")
    for name, params in data.items():
        if not isinstance(params, dict):
            raise ProfileError(f"{label}: profile {name!r} must be a mapping of settings, but found "
                               f"{type(params).__name__}")
    return {str(k): v for k, v in data.items()}


def _build(name: str, params: dict, label: str, bases: dict[str, dict], implicit_base: str | None) -> dict:
    """The complete settings of profile ``name``: its own, over those of the profile it extends."""
    known = Profile.settings()
    params = dict(params)
    base_name = params.pop(EXTENDS, implicit_base)
    removed = sorted(k for k in params if k in REMOVED)
    if removed:
        raise ProfileError(f"{label}: profile {name!r} sets {', '.join(map(repr, removed))}, removed in 0.2: "
                           + "; ".join(f"{k}: {REMOVED[k]}" for k in removed) + "; delete the setting")
    renamed = sorted(k for k in params if k in RENAMED)
    if renamed:
        raise ProfileError(f"{label}: profile {name!r} uses the old setting name(s) "
                           + ", ".join(f"{k!r} (now {RENAMED[k]!r})" for k in renamed)
                           + "; rename them (the settings take the names of the arguments they feed)")
    unknown = sorted(k for k in params if k not in known)
    if unknown:
        raise ProfileError(f"{label}: profile {name!r} sets {', '.join(map(repr, unknown))}, which no chapter "
                           f"reads (misspelt?); the settings are: {', '.join(known)}")
    if base_name is not None:
        if base_name not in bases:
            raise ProfileError(f"{label}: profile {name!r} extends {base_name!r}, which is not defined; "
                               f"known profiles: {', '.join(bases)}")
        params = {**bases[base_name], **params}
    missing = [k for k in known if k not in params]
    if missing:
        raise ProfileError(f"{label}: profile {name!r} has no value for {', '.join(map(repr, missing))}"
                           + ("" if base_name else f" (or write `{EXTENDS}: default` to take the others from "
                                                   "the default profile)"))
    return params


def _validated(name: str, params: dict, label: str) -> Profile:
    try:
        profile = Profile(name=name, **params)
        profile.check_scale()
        return profile
    except ProfileError as exc:
        raise ProfileError(f"{label}: {exc}") from None


def user_profiles_file() -> Path | None:
    """The user's own profiles file: ``$NSDE_PROFILES`` when set (it must exist), else
    ``profiles.yaml`` in the current folder when there is one, else ``None``."""
    env = os.environ.get(USER_FILE_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ProfileError(f"{USER_FILE_ENV}={env}: no such profiles file")
        return path.resolve()
    here = Path.cwd() / "profiles.yaml"
    return here.resolve() if here.is_file() else None


def load_profiles(path: str | Path | None = None) -> dict[str, Profile]:
    """Read and validate profiles.

    Args:
        path: one profiles file whose profiles are complete (or name the profile they
            ``extends``, in that file or among the shipped ones). ``None``: the profiles
            shipped with the package (:data:`PROFILES_FILE`) and, when there is one, the
            user's own file (:func:`user_profiles_file`), whose profiles take every setting
            they do not set from ``default`` (or from the profile they ``extends``).

    Returns:
        ``{profile name: Profile}``.

    Raises:
        ProfileError: a file is missing, is not valid YAML, has duplicate keys, or a
            profile misses, misspells, mistypes or uses the old name of a setting (naming it).
    """
    shipped = _read(PROFILES_FILE.read_text(encoding="utf-8-sig"), PROFILES_FILE.name)
    bases = {name: _build(name, params, PROFILES_FILE.name, {}, None) for name, params in shipped.items()}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ProfileError(f"profiles file not found: {path}")
        sources, implicit, out_names = [(path, _read(path.read_text(encoding="utf-8-sig"), path.name))], None, []
    else:
        user = user_profiles_file()
        sources = [] if user is None else [(user, _read(user.read_text(encoding="utf-8-sig"), user.name))]
        implicit = "default"
        out_names = list(bases)
    own: dict[str, dict] = {}
    labels = {name: PROFILES_FILE.name for name in bases}
    for src, data in sources:
        for name, params in data.items():
            if path is None and name in bases:
                raise ProfileError(f"{src.name}: profile {name!r} is already defined by the package; give yours "
                                   f"another name (and `{EXTENDS}: {name}` to start from it)")
            own[name] = _build(name, params, src.name, {**bases, **own}, implicit)
            labels[name] = src.name
            out_names.append(name)
    everything = {**bases, **own}
    return {name: _validated(name, everything[name], labels[name]) for name in out_names}


def get_profile(name: str, path: str | Path | None = None) -> Profile:
    """The validated :class:`Profile` named ``name``; a clear error for an unknown name."""
    profiles = load_profiles(path)
    if name not in profiles:
        where = Path(path).name if path is not None else ", ".join(
            [PROFILES_FILE.name] + ([str(user_profiles_file())] if user_profiles_file() else []))
        raise ProfileError(f"unknown profile {name!r}; known profiles: {', '.join(profiles)} (defined in {where})")
    return profiles[name]
