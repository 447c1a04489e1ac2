"""Run-time plumbing shared by every chapter: device choice, seeding and progress bars.

Nothing here is specific to the paper; it keeps device and randomness handling in one
place so that every experiment of the book is reproducible from its seed.
"""
from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["default_device", "seed_everything", "progress", "set_threads"]


def default_device() -> torch.device:
    """The device experiments run on: CUDA when present, else the CPU.

    The environment variable ``NSDE_DEVICE`` (e.g. ``cpu``) overrides the choice.
    """
    name = os.environ.get("NSDE_DEVICE")
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) and return a CPU generator.

    Args:
        seed: a non-negative integer.

    Returns:
        A ``torch.Generator`` seeded with ``seed``, for code that wants a private stream.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return torch.Generator().manual_seed(seed)


def set_threads(n: int | None = None) -> int:
    """Use ``n`` intra-op CPU threads (default: all cores) and return the number set."""
    n = n or os.cpu_count() or 1
    torch.set_num_threads(n)
    return n


def progress(iterable=None, **kwargs):
    """A tqdm progress bar that stays silent under test.

    ``TQDM_DISABLE=1`` (set by the test suite) turns every bar off; otherwise bars are
    shown on stderr. Accepts every ``tqdm`` keyword argument.
    """
    from tqdm import tqdm  # text bars: render in terminals, notebooks and logs alike

    kwargs.setdefault("disable", bool(os.environ.get("TQDM_DISABLE")))
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("mininterval", 1.0)
    return tqdm(iterable, **kwargs)
