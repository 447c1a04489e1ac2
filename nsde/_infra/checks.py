"""Input checks shared by the public functions of :mod:`nsde` (internal).

Every public function that takes images, labels, counts or lists of numbers validates them
here, before any work starts, and raises one error that names the argument, what was
expected and what was found ("expected X, but found Y").
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np
import torch
import torch.nn as nn

__all__ = ["positive_int", "nonnegative_int", "finite_number", "check_choice", "check_images", "check_labels",
           "check_xy", "number_list", "model_classes", "model_channels", "output_classes", "check_model_input",
           "check_model_values", "unwrap_model"]

#: Tolerance on the [0, 1] range of images (float rounding of normalised spectrograms).
RANGE_TOL = 1e-5


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int >= 1, or a ``ValueError`` naming ``name``."""
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, but found {value!r}")
    return int(value)


def nonnegative_int(name: str, value: Any) -> int:
    """``value`` as an int >= 0, or a ``ValueError`` naming ``name``."""
    if not _is_int(value) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, but found {value!r}")
    return int(value)


def finite_number(name: str, value: Any, minimum: float | None = None) -> float:
    """``value`` as a finite float (``>= minimum`` when given), or a ``ValueError`` naming ``name``."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        and math.isfinite(value) and (minimum is None or value >= minimum)
    if not ok:
        bound = "" if minimum is None else f" >= {minimum:g}"
        raise ValueError(f"{name} must be a finite number{bound}, but found {value!r}")
    return float(value)


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``, else a ``ValueError`` listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, but found {value!r}")
    return value


def check_images(x: Any, name: str = "x", *, unit_range: bool = True) -> torch.Tensor:
    """Validate a batch of images and return it as float32.

    Args:
        x: expected a floating-point tensor ``(N, C, H, W)`` with ``N >= 1``, finite values,
            in [0, 1] when ``unit_range``.
        name: the argument's name, for the error message.
        unit_range: require values in [0, 1] (spectrogram images).

    Raises:
        TypeError: not a tensor, or not floating point (uint8 images must be scaled first).
        ValueError: wrong number of dimensions, empty, NaN/inf, or outside [0, 1].
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, C, H, W), but found {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{name} must have shape (N, C, H, W), but found shape {tuple(x.shape)}")
    if x.device.type == "meta":
        raise ValueError(f"{name} is on the meta device, so it holds no values; create it on the CPU or a GPU "
                         "(e.g. torch.rand(..., device='cpu'))")
    if not x.is_floating_point():
        hint = " (divide uint8 images by 255)" if x.dtype == torch.uint8 else ""
        raise TypeError(f"{name} must be a floating-point tensor with values in [0, 1], but found dtype "
                        f"{x.dtype}{hint}")
    if len(x) == 0:
        raise ValueError(f"{name} is empty (N = 0)")
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        where = tuple(int(i) for i in torch.nonzero(~finite)[0])
        raise ValueError(f"{name} contains NaN or infinite values (first at index {where})")
    if unit_range:
        lo, hi = float(x.min()), float(x.max())
        if lo < -RANGE_TOL or hi > 1 + RANGE_TOL:
            raise ValueError(f"{name} must hold values in [0, 1] (spectrograms scaled per image), but found "
                             f"values in [{lo:.4g}, {hi:.4g}]")
    return x.float()


def check_labels(y: Any, n: int, num_classes: int | None = None, name: str = "y") -> torch.Tensor:
    """Validate class labels and return them as int64 ``(n,)``.

    Raises:
        TypeError: not integer labels.
        ValueError: wrong length or shape, or a label outside ``[0, num_classes)``.
    """
    t = torch.as_tensor(y) if not isinstance(y, torch.Tensor) else y
    if t.dtype.is_floating_point or t.dtype == torch.bool or t.dtype.is_complex:
        raise TypeError(f"{name} must hold integer class indices, but found dtype {t.dtype}")
    if t.ndim != 1 or len(t) != n:
        raise ValueError(f"{name} must have shape ({n},) (one label per image), but found shape {tuple(t.shape)}")
    t = t.long()
    if num_classes is not None:
        bad = (t < 0) | (t >= num_classes)
        if bool(bad.any()):
            raise ValueError(f"{name} holds class {int(t[bad][0])}, outside [0, {num_classes}) for a model with "
                             f"{num_classes} classes")
    return t


def check_xy(x: Any, y: Any, model: nn.Module | None = None, *, unit_range: bool = True
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and labels checked together (and against ``model``'s input channels and classes)."""
    x = check_images(x, unit_range=unit_range)
    if model is not None:
        check_model_input(model, x)
    classes = output_classes(model, x) if model is not None else None
    y = check_labels(y, len(x), classes)
    return x, y


def number_list(name: str, values: Any, *, minimum: float | None = None, strictly_positive: bool = False,
                increasing: bool = False, allow_empty: bool = False) -> list[float]:
    """A list of finite numbers, refusing scalars and strings with a message that says so.

    Args:
        name: the argument's name.
        values: a list, tuple or 1-D array of numbers.
        minimum: every value must be >= this.
        strictly_positive: every value must be > 0.
        increasing: values must be strictly increasing.
        allow_empty: accept an empty list.
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        one = values.decode() if isinstance(values, bytes) else values
        raise TypeError(f"{name} must be a list of numbers, but found {values!r} ({type(values).__name__}); "
                        f"write [{one}] for a single value")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
            raise ValueError(f"{name} must hold finite numbers, but found {v!r}")
        out.append(float(v))
    if not out and not allow_empty:
        raise ValueError(f"{name} is empty")
    if minimum is not None and any(v < minimum for v in out):
        raise ValueError(f"{name} values must be >= {minimum:g}, but found {out}")
    if strictly_positive and any(v <= 0 for v in out):
        raise ValueError(f"{name} values must be > 0, but found {out}")
    if increasing and any(b <= a for a, b in zip(out, out[1:])):
        raise ValueError(f"{name} must be strictly increasing, but found {out}")
    return out


def model_classes(model: nn.Module) -> int | None:
    """The number of output classes of a model from :func:`nsde.core.models.build_model` (else None)."""
    n = getattr(model, "num_classes", None)
    return int(n) if _is_int(n) else None


def model_channels(model: nn.Module) -> int | None:
    """The number of input channels of a model from :func:`nsde.core.models.build_model` (else None)."""
    n = getattr(model, "in_chans", None)
    return int(n) if _is_int(n) else None


@torch.no_grad()
def output_classes(model: nn.Module, x: torch.Tensor) -> int:
    """The number of classes ``model`` scores: its ``num_classes``, else the width of its
    output on the first image of ``x`` (computed in ``eval()``, so BatchNorm statistics
    stay as they are).

    Raises:
        ValueError: the model's output is not a batch of logits ``(N, classes)``.
    """
    n = model_classes(model)
    if n is not None:
        return n
    from nsde._infra.runtime import eval_mode, model_device

    with eval_mode(model):
        out = model(x[:1].to(model_device(model)))
    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"the model must return logits of shape (N, classes), but it returns {shape}")
    return int(out.shape[1])


def check_model_values(model: nn.Module) -> None:
    """Raise when ``model`` has parameters or buffers on the meta device (no values)."""
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        if t.device.type == "meta":
            raise ValueError(f"the model's {name} is on the meta device, so it has no values to compute with; "
                             "build the model on the CPU or a GPU, or load its weights first "
                             "(model.to_empty(device='cpu') then load_state_dict)")


def check_model_input(model: nn.Module, x: torch.Tensor) -> None:
    """Raise when ``model`` has no values (meta device) or ``x`` has another number of
    channels than ``model`` takes."""
    check_model_values(model)
    c = model_channels(model)
    if c is not None and x.shape[1] != c:
        raise ValueError(f"the model takes {c}-channel images, but x has {x.shape[1]} channels "
                         f"(shape {tuple(x.shape)})")


def unwrap_model(trained: Any, key: str | None = None) -> tuple[nn.Module, str | None]:
    """The ``nn.Module`` and cache key of a ``TrainedModel`` (``.model``, ``.key``) or of a module."""
    model = getattr(trained, "model", trained)
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a TrainedModel or an nn.Module, but found {type(trained).__name__}")
    return model, key if key is not None else getattr(trained, "key", None)
