"""Spatial noise shapers: white, Brownian sheet and power-law (1/f^beta) Gaussian fields.

The NSDE paper (Brogan et al., arXiv 2409.01532, Fig. 1) injects *shaped* noise into the
residual blocks of a ConvNeXt: the white Gaussian increment of a Brownian motion over
depth is turned into a spatially correlated field before it is added to the activations.
This module holds the spatial part, used both inside the network (``nsde.core.models``) and as
input noise by the robustness chapter.

A shaper maps white Gaussian noise ``z`` of shape ``(..., H, W)`` (any leading dims, one
independent field per leading index) to a shaped field of the same shape, linear in ``z``
and normalised to **unit mean power**: the per-element variance, averaged over the
``H x W`` positions, is exactly 1 in expectation. So ``sigma * shaper(z)`` has the same
mean power ``sigma**2`` for every shape and only the spatial correlation differs.

Shapes (``SHAPES``):

- ``"white"``: the identity, independent pixels.
- ``"brownian"``: the 2-D Brownian sheet ``B(s, t)``, the cumulative sum of ``z`` along
  ``H`` and then ``W``. Before normalisation ``Cov(B[i, j], B[k, l]) = (min(i, k) + 1) *
  (min(j, l) + 1)`` (the discrete ``min(s, s') min(t, t')``), so its variance grows from the
  top-left corner; it is divided by the constant ``sqrt((H + 1) / 2 * (W + 1) / 2)``.
- ``"pink"`` (beta = 1) and ``"brown"`` (beta = 2): stationary power-law fields whose power
  spectral density falls as ``1 / |f|^beta`` (radial frequency), built by filtering ``z`` in
  the Fourier domain with amplitude ``|f|^(-beta / 2)``; the zero-frequency (mean) term is
  removed. ``make_shaper("powerlaw", beta=b)`` gives any exponent. Note that "brown"
  power-law noise is stationary, unlike the (non-stationary) Brownian sheet.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

__all__ = ["SHAPES", "GRID_SHAPES", "Shaper", "make_shaper", "channels_last", "hwbc", "shaped_noise", "check_envelope", "pool_envelope",
           "radial_power_spectrum", "parse_grid"]

#: Named shapes accepted by :func:`make_shaper` (``"powerlaw"`` with a ``beta`` as well).
SHAPES = ("white", "brownian", "pink", "brown")

_BETAS = {"pink": 1.0, "brown": 2.0}

#: Largest ``H * W`` shaped by one dense matrix product instead of the definition (two
#: cumulative sums for the Brownian sheet, two FFTs for a power law): the crossovers
#: measured on a 2-core CPU; beyond them the dense product costs more.
_DENSE_MAX = {"brownian": 64, "power law": 256}
#: Largest ``H * W`` shaped by the dense matrix in the ``(H, W, B, C)`` layout
#: (:meth:`Shaper._apply_hwbc`); larger fields take the separable products.
_DENSE_HWBC = 16


class Shaper:
    """A linear map from white Gaussian noise ``(..., H, W)`` to unit-mean-power shaped noise.

    Args:
        name: one of ``SHAPES`` or ``"powerlaw"``.
        beta: spectral exponent of a power-law shaper (``None`` for white / brownian).
    """

    def __init__(self, name: str, beta: float | None = None):
        self.name = name
        self.beta = beta
        self._filters: dict[tuple, torch.Tensor] = {}
        self._dense: dict[tuple, torch.Tensor] = {}

    def __repr__(self) -> str:
        return f"Shaper({self.name!r}" + (f", beta={self.beta}" if self.beta is not None else "") + ")"

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        """Shape white noise.

        Args:
            z: white Gaussian noise, float tensor ``(..., H, W)`` with ``H, W >= 1``.

        Returns:
            The shaped field, same shape and dtype as ``z``, unit mean power, in the memory
            layout of ``z`` for a 4-D field stored channels-last or ``(H, W, B, C)``
            (:func:`hwbc`, the layout NSDE blocks draw their noise in).
        """
        if not isinstance(z, torch.Tensor) or z.dim() < 2:
            raise ValueError(f"a shaper needs a tensor (..., H, W), got {type(z).__name__} "
                             f"of shape {tuple(getattr(z, 'shape', ()))}")
        if self.name == "white":
            return z
        h, w = z.shape[-2:]
        if hwbc(z):
            return self._apply_hwbc(z)
        if h * w <= _DENSE_MAX["brownian" if self.name == "brownian" else "power law"]:
            return self._apply_dense(z)
        return self._apply(z)

    def _apply(self, z: torch.Tensor) -> torch.Tensor:
        """The shaper by its definition: cumulative sums, or a Fourier-domain filter."""
        h, w = z.shape[-2:]
        if self.name == "brownian":
            if channels_last(z):  # the sums run over the outer axes of the (B, H, W, C) storage
                sheet = z.permute(0, 2, 3, 1).cumsum(1).cumsum(2).permute(0, 3, 1, 2)
            else:
                sheet = z.cumsum(-2).cumsum(-1)
            return sheet.div_(math.sqrt((h + 1) / 2 * (w + 1) / 2))
        if channels_last(z):
            return self._powerlaw(z.contiguous()).contiguous(memory_format=torch.channels_last)
        return self._powerlaw(z)

    def _apply_dense(self, z: torch.Tensor) -> torch.Tensor:
        """The same linear map as one ``(H*W, H*W)`` matrix product (small fields only).

        The matrix is the shaper applied to the identity, in float64, once per size,
        device and dtype. On small fields one matrix product is several times faster than
        two FFTs or two cumulative sums, whose fixed cost per field dominates there.
        A ``(B, C, H, W)`` field stored channels-last (as bf16 activations are) is shaped in
        that layout, one ``(H*W, H*W) @ (H*W, C)`` product per image, and stays in it.
        """
        h, w = z.shape[-2:]
        key = (h, w, str(z.device), z.dtype)
        m = self._dense.get(key)
        if m is None:
            eye = torch.eye(h * w, dtype=torch.float64).view(h * w, h, w)
            m = self._apply(eye).reshape(h * w, h * w).to(device=z.device, dtype=z.dtype)
            self._dense[key] = m
            self._dense[key + ("T",)] = m.T.contiguous()
        if channels_last(z):
            b, c = z.shape[:2]
            out = torch.matmul(self._dense[key + ("T",)], z.permute(0, 2, 3, 1).reshape(b, h * w, c))
            return out.view(b, h, w, c).permute(0, 3, 1, 2)
        return (z.reshape(-1, h * w) @ m).view(z.shape)

    def _apply_hwbc(self, z: torch.Tensor) -> torch.Tensor:
        """The shaper on a ``(B, C, H, W)`` field stored as ``(H, W, B, C)``, by matrix products.

        In that layout every axis of the field is an outer axis of the storage, so a linear
        map along ``H`` is one ``(H, H) @ (H, W*B*C)`` product and one along ``W`` is ``H``
        products ``(W, W) @ (W, B*C)``. Both shapes are separable: the Brownian sheet is
        ``L_H Z L_W^T`` (``L`` lower-triangular ones: the two cumulative sums), and the
        power-law filter, a real filter that is even in each frequency coordinate, is
        diagonal in the separable Hartley basis ``cas(2 pi k n / N) / sqrt(N)``:
        ``Z -> T_H (A * (T_H Z T_W)) T_W`` with ``A`` the filter's amplitude on the full
        frequency grid (``T`` is symmetric and orthogonal). That is the same linear map as
        the definition, in ``2 (H + W)`` (Brownian) or ``4 (H + W)`` (power law) multiply-adds
        per value instead of ``H * W`` for the dense matrix; fields of at most
        :data:`_DENSE_HWBC` values take the dense matrix, one product. Computed in the
        field's dtype, outside autocast; the result keeps the layout.
        """
        b, c, h, w = z.shape
        n = b * c
        flat = z.permute(2, 3, 0, 1)  # (h, w, b, c), contiguous
        with torch.autocast(device_type=z.device.type, enabled=False):
            if h * w <= _DENSE_HWBC:
                mt = self._dense_t(h, w, z.device, z.dtype)
                out = mt @ flat.reshape(h * w, n)
            else:
                th, tw = self._axis(h, z.device, z.dtype), self._axis(w, z.device, z.dtype)
                out = torch.matmul(tw, (th @ flat.reshape(h, w * n)).view(h, w, n))
                if self.name != "brownian":
                    out.mul_(self._amplitude(h, w, z.device, z.dtype)[:, :, None])
                    out = th @ torch.matmul(tw, out).view(h, w * n)
        return out.view(h, w, b, c).permute(2, 3, 0, 1)

    def _dense_t(self, h: int, w: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """The transpose of the dense matrix of :meth:`_apply_dense` (``out = M^T z`` per column)."""
        key = (h, w, str(device), dtype, "T")
        if key not in self._dense:
            eye = torch.eye(h * w, dtype=torch.float64).view(h * w, h, w)
            self._dense[key] = self._apply(eye).reshape(h * w, h * w).T.contiguous().to(device=device, dtype=dtype)
        return self._dense[key]

    def _axis(self, n: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """The ``(n, n)`` factor along one axis: the scaled cumulative sum (Brownian sheet,
        ``1 / sqrt((n + 1) / 2)`` of the normalisation per axis) or the Hartley matrix."""
        key = (n, str(device), dtype, "axis")
        if key not in self._dense:
            if self.name == "brownian":
                t = torch.tril(torch.ones(n, n, dtype=torch.float64)) / math.sqrt((n + 1) / 2)
            else:
                k = torch.arange(n, dtype=torch.float64)
                a = 2 * math.pi * torch.outer(k, k) / n
                t = (torch.cos(a) + torch.sin(a)) / math.sqrt(n)
            self._dense[key] = t.to(device=device, dtype=dtype)
        return self._dense[key]

    def _amplitude(self, h: int, w: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """The power-law amplitude on the full ``(h, w)`` frequency grid, unit mean power."""
        key = (h, w, str(device), dtype, "amplitude")
        if key not in self._dense:
            fy = torch.fft.fftfreq(h, dtype=torch.float64)
            fx = torch.fft.fftfreq(w, dtype=torch.float64)
            f = torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
            amp = torch.zeros_like(f)
            nz = f > 0
            amp[nz] = f[nz] ** (-self.beta / 2)
            self._dense[key] = (amp / amp.pow(2).mean().sqrt()).to(device=device, dtype=dtype)
        return self._dense[key]

    def _filter(self, h: int, w: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """Amplitude ``|f|^(-beta/2)`` on the rfft2 grid, normalised on the full grid."""
        key = (h, w, str(device), dtype)
        if key not in self._filters:
            # Per-element variance of the output = mean of amp^2 over the full grid.
            amp = self._amplitude(h, w, torch.device("cpu"), torch.float64)
            self._filters[key] = amp[:, : w // 2 + 1].to(device=device, dtype=dtype)
        return self._filters[key]

    def _powerlaw(self, z: torch.Tensor) -> torch.Tensor:
        h, w = z.shape[-2:]
        if h * w == 1:  # a single pixel has no spatial structure: keep it white
            return z
        real = torch.float64 if z.dtype == torch.float64 else torch.float32
        amp = self._filter(h, w, z.device, real)
        spec = torch.fft.rfft2(z.to(real), norm="ortho") * amp
        return torch.fft.irfft2(spec, s=(h, w), norm="ortho").to(z.dtype)


def hwbc(z: torch.Tensor) -> bool:
    """Whether ``z`` is a 4-D ``(B, C, H, W)`` tensor stored as ``(H, W, B, C)`` (and not also in
    the default layout): the layout in which :class:`Shaper` shapes by matrix products."""
    return z.dim() == 4 and not z.is_contiguous() and z.permute(2, 3, 0, 1).is_contiguous()


def channels_last(z: torch.Tensor) -> bool:
    """Whether ``z`` is a 4-D tensor stored channels-last (``(B, H, W, C)`` in memory) and not
    also in the default layout (as when ``C == 1`` or ``H == W == 1``)."""
    return z.dim() == 4 and not z.is_contiguous() and z.is_contiguous(memory_format=torch.channels_last)


def make_shaper(name: str, beta: float | None = None) -> Shaper:
    """Build a noise shaper by name.

    Args:
        name: ``"white"``, ``"brownian"``, ``"pink"``, ``"brown"`` or ``"powerlaw"``.
        beta: exponent of ``"powerlaw"`` (required there, > 0); must be omitted otherwise.

    Returns:
        A callable :class:`Shaper` mapping ``(..., H, W)`` white noise to shaped noise.
    """
    if not isinstance(name, str):
        raise TypeError(f"noise shape must be a string, got {name!r}")
    if name == "powerlaw":
        if beta is None or not isinstance(beta, (int, float)) or not beta > 0 or not math.isfinite(beta):
            raise ValueError(f"the 'powerlaw' shaper needs a finite beta > 0, got beta={beta!r}")
        return Shaper("powerlaw", float(beta))
    if name not in SHAPES:
        raise ValueError(f"unknown noise shape {name!r}; expected one of {SHAPES + ('powerlaw',)}")
    if beta is not None:
        raise ValueError(f"beta={beta!r} is only accepted by the 'powerlaw' shaper, not {name!r}")
    return Shaper(name, _BETAS.get(name))


def shaped_noise(shape: tuple[int, ...], name: str = "white", *, generator: torch.Generator | None = None,
                 beta: float | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
    """Draw a shaped Gaussian field of unit mean power.

    Args:
        shape: output shape ``(..., H, W)``.
        name: a shape of ``SHAPES`` (or ``"powerlaw"`` with ``beta``).
        generator: a private ``torch.Generator`` (on ``device``) for reproducible draws.
        beta: power-law exponent for ``"powerlaw"``.
        device: where to draw.

    Returns:
        float32 tensor of ``shape``.
    """
    z = torch.randn(tuple(shape), generator=generator, device=device)
    return make_shaper(name, beta)(z)


def check_envelope(envelope, image_size: int | None = None) -> torch.Tensor:
    """Validate a noise envelope: a non-negative power map ``(B, 1, H, W)`` at input resolution.

    Args:
        envelope: expected a finite, non-negative float tensor ``(B, 1, H, W)`` (``B >= 1``),
            with a positive sum for every map.
        image_size: the model's input side; ``H`` and ``W`` must equal it when given.

    Returns:
        The envelope as float32.
    """
    if not isinstance(envelope, torch.Tensor) or envelope.ndim != 4 or envelope.shape[1] != 1:
        raise ValueError(f"a noise envelope must be a tensor (B, 1, H, W), but found "
                         f"{tuple(getattr(envelope, 'shape', ())) or type(envelope).__name__}")
    if image_size is not None and tuple(envelope.shape[-2:]) != (image_size, image_size):
        raise ValueError(f"a noise envelope must match the input size {image_size}x{image_size}, but found "
                         f"{envelope.shape[-2]}x{envelope.shape[-1]}")
    if not envelope.is_floating_point():
        raise ValueError(f"a noise envelope must be floating point, but found {envelope.dtype}")
    if not bool(torch.isfinite(envelope).all()):
        raise ValueError("the noise envelope contains NaN or infinite values")
    if bool((envelope < 0).any()):
        raise ValueError(f"a noise envelope is a power map and must be >= 0, but found a minimum of "
                         f"{float(envelope.min()):.3g}")
    if bool((envelope.flatten(1).sum(1) <= 0).any()):
        raise ValueError("every map of a noise envelope needs a positive sum (an all-zero map has no shape)")
    return envelope.float()


def pool_envelope(envelope: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """An envelope (power map) area-pooled to ``size``, as an amplitude of unit mean power.

    Args:
        envelope: non-negative ``(B, 1, H, W)`` power map (see :func:`check_envelope`).
        size: ``(h, w)`` of the feature map, at most ``(H, W)``.

    Returns:
        ``(B, 1, h, w)`` amplitude ``a >= 0`` with ``mean(a^2) = 1`` per map; a constant
        envelope gives all ones.
    """
    power = torch.nn.functional.adaptive_avg_pool2d(envelope.float(), size)
    power = power / power.mean(dim=(2, 3), keepdim=True).clamp_min(torch.finfo(torch.float32).tiny)
    return power.sqrt()


def radial_power_spectrum(field: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Radially averaged power spectrum of square fields ``(..., N, N)``.

    Args:
        field: real tensor ``(..., N, N)``; the spectrum is averaged over leading dims.

    Returns:
        ``(freq, power)``: 1-D tensors over the integer radial bins ``1 .. N // 2`` (cycles
        per image), ``freq`` in cycles per pixel.
    """
    n = field.shape[-1]
    if field.shape[-2] != n:
        raise ValueError(f"radial_power_spectrum needs square fields, got {tuple(field.shape[-2:])}")
    p = torch.fft.fft2(field.double(), norm="ortho").abs().pow(2).reshape(-1, n, n).mean(0)
    k = torch.fft.fftfreq(n, d=1.0 / n, dtype=torch.float64)
    r = torch.sqrt(k[:, None] ** 2 + k[None, :] ** 2).round().long()
    bins = torch.arange(1, n // 2 + 1)
    power = torch.stack([p[r == b].mean() for b in bins])
    return bins.double() / n, power


#: The shapes a grid may name: the spatial shapes and attribution-shaped noise.
GRID_SHAPES = SHAPES + ("attribution",)


def parse_grid(entries: Sequence[str]) -> list[tuple[str, float]]:
    """``["brownian@0.1", ...]`` as ``[("brownian", 0.1), ...]``, in order, without repeats.

    Raises:
        ValueError: an entry that is not ``shape@sigma``, an unknown shape, a sigma <= 0.
    """
    if isinstance(entries, str) or not isinstance(entries, (list, tuple)) or not entries:
        raise ValueError(f"a shape grid must be a non-empty list of 'shape@sigma' entries, but found {entries!r}")
    out = []
    for e in entries:
        shape, _, sig = str(e).partition("@")
        if shape not in GRID_SHAPES:
            raise ValueError(f"shape grid entry {e!r}: unknown noise shape {shape!r}; expected one of {GRID_SHAPES}")
        try:
            sigma = float(sig)
        except ValueError:
            raise ValueError(f"shape grid entry {e!r}: expected 'shape@sigma' with a number after '@'") from None
        if not (math.isfinite(sigma) and sigma > 0):
            raise ValueError(f"shape grid entry {e!r}: sigma must be > 0")
        if (shape, sigma) not in out:
            out.append((shape, sigma))
    return out
