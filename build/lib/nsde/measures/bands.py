"""Spectral power per I-ASIDE band: how a set of images or of noise fields distributes its
power over the square-ring bands of :func:`nsde.measures.iaside.band_map` (chapter 5 sets the
noise shapes' band power beside the models' spectral importance)."""
from __future__ import annotations

import numpy as np
import torch

from nsde.core.noise import make_shaper
from nsde.measures.iaside import band_map, centred_spectrum

__all__ = ["band_power", "noise_band_power"]


def band_power(x: torch.Tensor, n_bands: int = 8, *, subtract_mean: bool = False) -> np.ndarray:
    """Fraction of spectral power ``|X|^2`` in each band, pooled over a set of fields.

    Args:
        x: float fields ``(..., H, W)`` (images ``(N, C, H, W)`` or noise ``(N, H, W)``).
        n_bands: number of bands ``M``.
        subtract_mean: remove each field's mean first (drops the DC bin's power).

    Returns:
        float64 array ``(M,)`` summing to 1.
    """
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        raise ValueError(f"x must be a tensor of shape (..., H, W), got {getattr(x, 'shape', type(x))}")
    x = x.detach().double()
    if subtract_mean:
        x = x - x.mean(dim=(-2, -1), keepdim=True)
    bands = band_map(x.shape[-2], x.shape[-1], n_bands)
    power = centred_spectrum(x).abs().pow(2).reshape(-1, *x.shape[-2:]).sum(0)
    per_band = torch.zeros(n_bands, dtype=torch.float64).index_add_(0, bands.flatten(), power.flatten())
    total = per_band.sum()
    if total <= 0:
        raise ValueError("the fields have zero power")
    return (per_band / total).numpy()


def noise_band_power(shape: str, size: int, n_bands: int = 8, *, n_fields: int = 64,
                     seed: int = 0, subtract_mean: bool = False) -> np.ndarray:
    """Band power distribution of ``n_fields`` noise fields of one shape.

    The fields come from :func:`nsde.core.noise.make_shaper` applied to seeded white Gaussian
    noise ``(n_fields, size, size)``.

    Args:
        shape: a name of ``nsde.core.noise.SHAPES`` (``"white"``, ``"brownian"``, ``"pink"``, ...).
        size: field side ``H = W``.
        n_bands: number of bands ``M``.
        n_fields: number of fields pooled.
        seed: seed of the white noise.
        subtract_mean: remove each field's mean first.

    Returns:
        float64 array ``(M,)`` summing to 1.
    """
    white = torch.randn(n_fields, size, size, generator=torch.Generator().manual_seed(seed))
    return band_power(make_shaper(shape)(white), n_bands, subtract_mean=subtract_mean)
