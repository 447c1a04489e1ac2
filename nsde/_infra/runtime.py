"""Run-time policy shared by every experiment: devices, threads, numeric precision, seeds.

Every choice that makes a number depend on the machine lives here, once:

* **Device** (:func:`default_device`): CUDA when present, else the CPU; ``NSDE_DEVICE``
  overrides it, and asking for CUDA on a machine without it is an error that says so.
* **Threads** (:func:`configure`): a fixed number of intra-op CPU threads, ``2`` unless
  ``NSDE_THREADS`` says otherwise, whatever the machine's core count. ``NSDE_THREADS`` is
  the one control: :func:`configure` sets torch's thread count from it, so
  ``OMP_NUM_THREADS`` (and ``MKL_NUM_THREADS``) have no effect on the numbers (a differing
  ``OMP_NUM_THREADS`` gets a warning saying so). Floating-point sums split over threads
  round differently with 1 and 2 threads, so trained weights depend on the count (by about
  1e-2 in bf16): a fixed count makes a seed give the same numbers on any machine with the
  same instruction set, and the thread count of a CPU training run is part of the trained
  model's cache key (weights trained with 1 thread are never loaded by a 2-thread run).
  The book's checked outputs are rounded or thresholded so that they hold for any thread
  count.
* **Precision** (:func:`precision`): ``"bf16"`` (autocast to bfloat16, channels-last
  memory layout) where the hardware computes bfloat16 natively (CUDA, or a CPU with
  AVX-512 BF16 / AMX), else ``"fp32"``; ``NSDE_PRECISION=fp32|bf16|auto`` overrides. On a
  CPU, ConvNeXts stay in fp32 under ``auto``: their depthwise convolutions and LayerNorms
  train about 20% *slower* in bf16 there (``benchmarks/bench_precision.py``), while ResNets
  train 1.8x and attack 3x faster.
  The precision is part of every trained model's cache key (weights trained in one
  precision are never loaded as the other's), and models apply it in their own forward
  pass (:meth:`nsde.core.models.NoisyClassifier.set_precision`). Attributions run in float32.
* **Optimiser kernel** (:func:`optimizer_options`): AdamW's fused kernel (one pass over
  each parameter) wherever this PyTorch has one for the device; the per-tensor loop of
  elementwise operations it replaces took about a seventh of a ResNet-10-T step on a
  2-core CPU (``benchmarks/bench_peak.py``). Same update, rounded differently: part of the
  training version.
* **Seeds** (:func:`seed_everything`, :func:`derive_seed`): one seed per experiment,
  derived seeds for sub-streams (epochs, stages, noise passes).

:func:`check_environment` checks the three variables at once (the book's runner calls it
before the first chapter); a bad value raises :class:`SettingError` naming the variable.
"""
from __future__ import annotations

import contextlib
import functools
import os
import random
import warnings
from typing import Iterator

import numpy as np
import torch
import torch.nn as nn

__all__ = ["DEFAULT_THREADS", "PRECISIONS", "SettingError", "configure", "check_environment", "threads",
           "default_device", "model_device", "precision", "optimizer_options", "seed_everything", "derive_seed",
           "eval_mode", "progress", "runtime_info"]

#: Intra-op CPU threads used when ``NSDE_THREADS`` is not set.
DEFAULT_THREADS = 2
#: Values of ``NSDE_PRECISION`` (``auto`` picks ``bf16`` where the hardware has it).
PRECISIONS = ("auto", "bf16", "fp32")


class SettingError(ValueError):
    """An environment variable of the run-time policy (``NSDE_THREADS``, ``NSDE_DEVICE``,
    ``NSDE_PRECISION``) has a value this machine cannot honour. The message names it."""


def threads() -> int:
    """The intra-op CPU thread count of the policy: ``NSDE_THREADS``, else :data:`DEFAULT_THREADS`.

    Raises:
        SettingError: ``NSDE_THREADS`` is not a positive integer.
    """
    raw = os.environ.get("NSDE_THREADS", "").strip()
    if not raw:
        return DEFAULT_THREADS
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise SettingError(f"NSDE_THREADS must be a positive integer, got {raw!r}; unset it for "
                           f"{DEFAULT_THREADS} threads")
    return n



def configure(seed: int | None = None) -> dict:
    """Apply the run-time policy: thread count, and the seeds when ``seed`` is given.

    The thread count comes from ``NSDE_THREADS`` (default :data:`DEFAULT_THREADS`) and
    overrides ``OMP_NUM_THREADS``. Every chapter calls this first. Returns :func:`runtime_info`.
    """
    n = threads()
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    if omp and omp != str(n):
        warnings.warn(f"OMP_NUM_THREADS={omp} has no effect: nsde runs {n} CPU threads, set by NSDE_THREADS "
                      f"(default {DEFAULT_THREADS}); set NSDE_THREADS to change it", stacklevel=2)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    import pandas as pd

    pd.set_option("display.max_colwidth", 200)  # tables print their full text (the book's pages wrap it)
    if seed is not None:
        seed_everything(seed)
    return runtime_info()


def default_device() -> torch.device:
    """The device experiments run on: CUDA when present, else the CPU.

    ``NSDE_DEVICE`` (``cpu``, ``cuda``, ``cuda:1`` ...) overrides the choice.

    Raises:
        ValueError: ``NSDE_DEVICE`` names a device this machine does not have.
    """
    name = os.environ.get("NSDE_DEVICE", "").strip()
    if name:
        try:
            device = torch.device(name)
        except RuntimeError:
            raise SettingError(f"NSDE_DEVICE={name!r} is not a device name (try 'cpu' or 'cuda')") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise SettingError(f"NSDE_DEVICE={name!r} asks for CUDA, but this machine has no CUDA device; "
                               "unset NSDE_DEVICE or set it to 'cpu'")
        if device.type not in ("cpu", "cuda"):
            raise SettingError(f"NSDE_DEVICE={name!r}: only 'cpu' and 'cuda' devices are supported")
        if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            raise SettingError(f"NSDE_DEVICE={name!r}, but this machine has {torch.cuda.device_count()} CUDA "
                               f"device(s) (cuda:0 to cuda:{torch.cuda.device_count() - 1})")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def model_device(model: nn.Module) -> torch.device:
    """The device of a module's first parameter (the CPU for a module without parameters)."""
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _cpu_has_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without oneDNN
        return False


def precision(device: torch.device | str | None = None, arch: str | None = None) -> str:
    """``"bf16"`` or ``"fp32"``: the numeric precision models run in on ``device``.

    ``NSDE_PRECISION`` = ``auto`` (default), ``bf16`` or ``fp32``. ``auto`` gives ``bf16``
    on CUDA devices that support it and on CPUs with native bfloat16 instructions, except
    for ConvNeXts (``arch``) on a CPU, which train faster in fp32 there.

    Raises:
        ValueError: an unknown ``NSDE_PRECISION``, or ``bf16`` forced on hardware without it.
    """
    device = torch.device(device) if device is not None else default_device()
    wanted = os.environ.get("NSDE_PRECISION", "auto").strip().lower() or "auto"
    if wanted not in PRECISIONS:
        raise SettingError(f"NSDE_PRECISION must be one of {PRECISIONS}, got {wanted!r}")
    if device.type == "cuda":
        native = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    else:
        native = _cpu_has_bf16()
    if wanted == "bf16" and not native:
        raise SettingError(f"NSDE_PRECISION=bf16, but the {device.type} of this machine has no native bfloat16; "
                           "use NSDE_PRECISION=fp32 or auto")
    if wanted == "fp32":
        return "fp32"
    if wanted == "auto" and device.type == "cpu" and arch is not None and arch.startswith("convnext"):
        return "fp32"
    return "bf16" if native else "fp32"


def check_environment(archs: tuple[str, ...] = ()) -> dict:
    """Check ``NSDE_THREADS``, ``NSDE_DEVICE`` and ``NSDE_PRECISION`` without changing anything.

    Args:
        archs: the architectures that will run (their precision is checked too).

    Returns:
        ``{"threads": n, "device": str, "precision": {arch: "bf16"|"fp32"}}``.

    Raises:
        SettingError: the first variable this machine cannot honour (naming it and the fix).
    """
    n = threads()
    device = default_device()
    return {"threads": n, "device": str(device),
            "precision": {a: precision(device, a) for a in (archs or (None,))}}


def optimizer_options(device: torch.device | str | None = None) -> dict:
    """Keyword arguments for ``torch.optim.AdamW`` on ``device``: ``{"fused": True}`` where this
    PyTorch has a fused AdamW kernel for the device (CPU since 2.4, CUDA), else ``{}``."""
    device = torch.device(device) if device is not None else default_device()
    return {"fused": True} if _has_fused_adamw(device.type) else {}


@functools.lru_cache(maxsize=None)
def _has_fused_adamw(device_type: str) -> bool:
    try:
        p = torch.zeros(1, device=device_type, requires_grad=True)
        p.grad = torch.zeros_like(p)
        torch.optim.AdamW([p], lr=0.0, fused=True).step()
        return True
    except (RuntimeError, ValueError, TypeError):
        return False


def runtime_info(device: torch.device | None = None) -> dict:
    """Device, threads, precision and library versions: the provenance of a run."""
    device = device or default_device()
    info = {"device": str(device), "threads": torch.get_num_threads(), "precision": precision(device),
            "fused_adamw": bool(optimizer_options(device)), "torch": torch.__version__}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) and return a CPU generator.

    Args:
        seed: a non-negative integer.

    Returns:
        A ``torch.Generator`` seeded with ``seed``, for code that wants a private stream.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return torch.Generator().manual_seed(seed)


def derive_seed(*ints: int) -> int:
    """A 31-bit seed derived from a tuple of non-negative ints (seed, epoch, stage, ...).

    Distinct tuples give independent-looking seeds (``numpy.random.SeedSequence``).
    """
    return int(np.random.SeedSequence([int(i) for i in ints]).generate_state(1)[0] & 0x7FFFFFFF)


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``model.eval()`` for the duration of the block; every submodule's previous mode is
    restored (not only the top level's)."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, training in modes:
            m.training = training


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
