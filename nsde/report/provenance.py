"""What built a page: commit, profile, package versions, device, precision, threads, date and
the chapter's wall time, in one small footer (:func:`footer`) at the end of every chapter."""
from __future__ import annotations

import platform
import subprocess
import time
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from nsde._infra.runtime import runtime_info

__all__ = ["PACKAGES", "commit", "versions", "footer"]

#: The packages whose versions a page names.
PACKAGES = ("nsde", "torch", "timm", "captum", "pyautoattack", "scipy", "statsmodels", "numpy")


@lru_cache(maxsize=1)
def commit() -> str:
    """The git commit of the package's checkout (``"unknown"`` outside a checkout); a
    ``+changes`` suffix when the working tree differs from it."""
    root = Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (sha + ("+changes" if dirty else "")) if sha else "unknown"


def versions(packages=PACKAGES) -> dict[str, str]:
    """``{package: version}`` of the installed packages (``"-"`` when absent)."""
    out = {}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "-"
    return out


def footer(setup, chapter: str) -> str:
    """The provenance of a chapter as a short Markdown block.

    Args:
        setup: the chapter's :class:`nsde.studies.setup.Setup` (its profile, run-time
            policy and start time).
        chapter: the chapter's name.
    """
    info = runtime_info()
    device = info.get("gpu", info["device"])
    elapsed = time.perf_counter() - getattr(setup, "started", time.perf_counter())
    pkgs = ", ".join(f"{k} {v}" for k, v in versions().items())
    return (f"```{{admonition}} How this page was built\n:class: note\n"
            f"Chapter `{chapter}`, profile `{setup.profile.name}`, commit `{commit()}`, built "
            f"{time.strftime('%Y-%m-%d %H:%M %Z')} on {device} ({platform.machine()}, {info['threads']} threads, "
            f"precision {info['precision']}) in {elapsed:.0f} s (cached results load in seconds). Python "
            f"{platform.python_version()}; {pkgs}.\n```")
