"""Profiles: the one place where the scale of every experiment of the book is set.

``book/profiles.yaml`` maps a profile name (``quick``, ``default``, ``paper``) to a flat
mapping of parameter names to values. Every chapter declares the parameters it reads in
its cell tagged ``parameters``; the runner passes each chapter the subset it declares.
Before any work starts, :func:`check_profiles` makes sure that every profile sets every
parameter every chapter declares, that no profile sets a parameter no chapter reads (a
misspelling), and that all profiles set the same names.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import yaml

__all__ = ["ProfileError", "PROFILES_FILE", "load_profiles", "get_profile", "check_profiles"]

PROFILES_FILE = Path(__file__).resolve().parents[1] / "book" / "profiles.yaml"

# Parameters every chapter may take without a profile setting them.
IMPLICIT = frozenset({"profile"})


class ProfileError(ValueError):
    """A profile file, profile name or parameter is wrong. The message names the problem."""


def load_profiles(path: str | Path = PROFILES_FILE) -> dict[str, dict[str, Any]]:
    """Read and validate the profiles file.

    Returns:
        ``{profile name: {parameter: value}}``.

    Raises:
        ProfileError: the file is missing, is not valid YAML, is not a mapping of
            mappings, or its profiles do not all set the same parameters.
    """
    path = Path(path)
    if not path.is_file():
        raise ProfileError(f"profiles file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProfileError(f"{path}: malformed YAML{where}: {problem}") from None
    if not isinstance(data, dict) or not data:
        raise ProfileError(f"{path}: expected a mapping of profile names to parameters, got {type(data).__name__}")
    for name, params in data.items():
        if not isinstance(params, dict):
            raise ProfileError(f"{path}: profile {name!r} must be a mapping of parameters, got {type(params).__name__}")
        for key, value in params.items():
            if not isinstance(key, str) or not key.isidentifier():
                raise ProfileError(f"{path}: profile {name!r}: parameter name {key!r} is not a Python identifier")
            if isinstance(value, dict):
                raise ProfileError(f"{path}: profile {name!r}: parameter {key!r} must be a scalar or a list, not a mapping")
    names = list(data)
    reference = set(data[names[0]])
    for name in names[1:]:
        keys = set(data[name])
        if keys != reference:
            missing = sorted(reference - keys)
            extra = sorted(keys - reference)
            detail = "; ".join(
                part for part in (
                    f"missing {', '.join(missing)} (set in {names[0]!r})" if missing else "",
                    f"sets {', '.join(extra)} (not set in {names[0]!r})" if extra else "",
                ) if part
            )
            raise ProfileError(f"{path}: profile {name!r} does not set the same parameters as {names[0]!r}: {detail}")
    return {str(k): dict(v) for k, v in data.items()}


def get_profile(name: str, path: str | Path = PROFILES_FILE) -> dict[str, Any]:
    """The parameters of profile ``name``; a clear error for an unknown name."""
    profiles = load_profiles(path)
    if name not in profiles:
        raise ProfileError(f"unknown profile {name!r}; known profiles: {', '.join(profiles)} (defined in {Path(path).name})")
    return profiles[name]


def check_profiles(profiles: Mapping[str, Mapping[str, Any]],
                   declared: Mapping[str, Mapping[str, Any]]) -> None:
    """Check that profiles and chapters agree on parameter names.

    Args:
        profiles: ``{profile: {parameter: value}}`` as from :func:`load_profiles`.
        declared: ``{chapter: {parameter: default}}``, the parameters each chapter's
            ``parameters`` cell declares.

    Raises:
        ProfileError: naming the profile, parameter and chapter at fault.
    """
    used = set().union(*(set(p) for p in declared.values())) if declared else set()
    for pname, params in profiles.items():
        for chapter, names in declared.items():
            for key in names:
                if key not in params and key not in IMPLICIT:
                    raise ProfileError(f"profile {pname!r} has no value for parameter {key!r}, which {chapter} declares")
        for key in params:
            if key not in used:
                raise ProfileError(f"profile {pname!r} sets parameter {key!r}, which no chapter declares (misspelt?)")


def chapter_parameters(profile: Mapping[str, Any], declared: Mapping[str, Any], profile_name: str) -> dict[str, Any]:
    """The values a chapter receives: the parameters it declares, plus ``profile``."""
    values = {key: profile[key] for key in declared if key in profile}
    if "profile" in declared:
        values["profile"] = profile_name
    return values
