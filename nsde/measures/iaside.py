"""I-ASIDE: spectral importance decomposition and the spectral robustness score.

Luo et al., "Interpreting Global Perturbation Robustness of Image Models using Axiomatic
Spectral Importance Decomposition" (TMLR 2024, arXiv 2408.01139). The players of a
cooperative game are ``M`` square-ring bands of the centred 2D spectrum; a coalition ``S``
keeps its bands of every image and replaces the others; its value ``v(S)`` is the mean
log-probability of the true class. Exact Shapley values of the ``M`` bands give the
spectral importance distribution (SID) and the spectral robustness score (SRS), which
weighs the SID towards the low bands (the paper's claim: low frequencies carry
robustness, high frequencies carry accuracy).

The algorithm follows the authors' reference code (``xai_iaside_torch``), with these
documented choices:

* **Fixed evaluation set.** The reference scores every coalition on a fresh random draw of
  images and partners. Here one fixed set of ``K`` images and one fixed partner
  permutation (a derangement: no image is its own partner) are shared by all ``2^M``
  coalitions, so coalition values differ only through the coalition (common random
  numbers), and Shapley efficiency holds exactly.
* **Batched coalitions.** Pairs (coalition, image) are evaluated in large batches, many
  coalitions per forward pass, instead of one coalition at a time.
* **Min-max scaling over the set, as the reference** (``normalise="set"``, the default).
  The reference scales the filtered magnitudes to [0, 1] jointly over the images it
  evaluates a coalition on (its batch); here that is the fixed set of ``K`` images, so an
  image's input depends on the other images of the set. ``normalise="image"`` scales each
  filtered image on its own instead. The two differ systematically (chapter 5 shows
  both): per-image scaling stretches every band-limited image to full contrast, so a
  coalition of weak bands looks as strong as one of strong bands, which moves importance
  towards the bands that carry little power. A filtered image whose range is float
  residue (below ``1e-6`` of the set's largest input magnitude, e.g. a band empty in every
  image with zero replacement) is all zero, not stretched to [0, 1].
* **Centring.** Band ``i`` is the centred square of side ``int(d (i+1) / M)`` minus the
  centred square of side ``int(d i / M)``, ``d = min(H, W)``, both centred on the DC bin
  (``start = n // 2 - side // 2``). This equals the reference's ``(d - side) // 2`` except
  for an even size with an odd side, where the reference square can miss the DC bin.
* **Band sides in integers.** The reference computes the side as
  ``int(d * (i + 1) * (1.0 / M))`` in floating point, which is sometimes one bin short of
  the exact ``d (i + 1) / M`` when ``M`` is not a power of two (at ``d = 224``, ``M = 7``
  it moves 319 bins between bands); here the side is ``d (i + 1) // M`` in integers.
  Never different when ``M`` is a power of two (the book's ``M = 8``).
  For non-square images the last band also takes everything outside its square, so the
  bands always partition the spectrum.
* **Empty coalition.** As in the reference, the empty coalition is the all-zero image
  (``empty="zero"``). With the ``"random"`` replacement this is not the image made of the
  replacement alone, so a band that changes nothing still gets ``(v(replacement) -
  v(zeros)) / M``: the dummy axiom holds only for ``empty="replace"`` (or with zero
  replacement). Both are offered; the reference convention is the default.
* **Minimum size.** The reference asserts ``min(H, W) >= 16``; with ``M`` bands a side
  ``d < M`` would also leave bands empty, so images need ``min(H, W) >= max(16, M)``.

The model is evaluated in ``eval()`` mode with its noise **off** by default (the drift
path of a Neural SDE, ``noise="off"``); ``noise="on"`` keeps the noise on with one fixed
seeded field shared by every coalition and image, so the value function stays a
deterministic function of the coalition.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from nsde._infra.cache import cached_call
from nsde._infra.checks import check_choice, check_images, check_labels, check_model_input, positive_int
from nsde._infra.runtime import eval_mode, model_device, progress
from nsde.core.models import noise_mode

__all__ = [
    "REPLACE_MODES",
    "EMPTY_MODES",
    "MIN_IMAGE_SIZE",
    "SpectralImportance",
    "band_map",
    "all_coalitions",
    "partner_permutation",
    "centred_spectrum",
    "coalition_filter",
    "coalition_values",
    "shapley_values",
    "importance_distribution",
    "spectral_robustness_score",
    "spectral_importance",
    "cached_spectral_importance",
]

REPLACE_MODES = ("random", "zero", "gaussian")
"""How the left-out bands are filled: another image's spectrum, zeros, complex noise."""

EMPTY_MODES = ("zero", "replace")
"""The empty coalition's image: all zeros (reference) or the replacement spectrum alone."""

NORMALISE_MODES = ("set", "image")
"""Min-max scaling of filtered images: over the evaluation set per coalition (reference) or per image."""

#: A filtered image's range below this fraction of the largest input magnitude is float residue.
RESIDUE = 1e-6

MIN_IMAGE_SIZE = 16
"""The reference code's minimum image side (``assert dim >= 16``)."""

MAX_BANDS = 16
"""Exact Shapley values need ``2^M`` coalitions; beyond 16 bands that is > 65,536 x K passes."""


# ----------------------------------------------------------------------------- checks
def _check_bands(n_bands: int, exact: bool = True) -> None:
    if isinstance(n_bands, bool) or not isinstance(n_bands, (int, np.integer)):
        raise TypeError(f"n_bands must be an int, got {type(n_bands).__name__}")
    if n_bands < 2:
        raise ValueError(f"n_bands must be >= 2 (a game needs two players), got {n_bands}")
    if exact and n_bands > MAX_BANDS:
        raise ValueError(f"n_bands={n_bands} needs 2^{n_bands} coalitions; at most {MAX_BANDS} are supported")


def _check_size(height: int, width: int, n_bands: int) -> None:
    d = min(height, width)
    need = max(MIN_IMAGE_SIZE, n_bands)
    if d < need:
        raise ValueError(
            f"images of size {height}x{width} are too small: I-ASIDE needs min(H, W) >= "
            f"max({MIN_IMAGE_SIZE}, n_bands) = {need} (the reference's minimum, and one bin per band)"
        )


def _check_replace(replace: str) -> None:
    if replace not in REPLACE_MODES:
        raise ValueError(f"unknown replace mode {replace!r}; choose one of {REPLACE_MODES}")


def _check_empty(empty: str) -> None:
    if empty not in EMPTY_MODES:
        raise ValueError(f"unknown empty-coalition mode {empty!r}; choose one of {EMPTY_MODES}")


def _check_images(x: torch.Tensor, name: str = "x") -> None:
    check_images(x, name, unit_range=False)


# ------------------------------------------------------------------------------ bands
def band_map(height: int, width: int, n_bands: int = 8) -> torch.Tensor:
    """The band index of every bin of the centred (``fftshift``-ed) 2D spectrum.

    Band ``i`` (0 = lowest frequencies) is the square ring between the centred squares of
    sides ``d i // M`` and ``d (i+1) // M``, ``d = min(H, W)``; for non-square
    sizes band ``M - 1`` also covers the bins outside its square.

    Args:
        height: spectrum height ``H``.
        width: spectrum width ``W``.
        n_bands: number of bands ``M`` (>= 2).

    Returns:
        int64 tensor ``(H, W)`` with values in ``[0, M)``; every band is non-empty.
    """
    _check_bands(n_bands, exact=False)
    _check_size(height, width, n_bands)
    d = min(height, width)
    out = torch.full((height, width), n_bands - 1, dtype=torch.int64)
    # paint from the outermost square inwards: each smaller square overwrites the larger
    for i in range(n_bands - 1, -1, -1):
        side = d * (i + 1) // n_bands
        r0, c0 = height // 2 - side // 2, width // 2 - side // 2
        out[r0:r0 + side, c0:c0 + side] = i
    return out


def all_coalitions(n_bands: int) -> torch.Tensor:
    """Every coalition of ``M`` bands as a boolean table.

    Returns:
        bool tensor ``(2^M, M)``; row ``c`` keeps band ``i`` iff bit ``i`` of ``c`` is set,
        so row 0 is the empty coalition and row ``2^M - 1`` the grand coalition.
    """
    _check_bands(n_bands)
    c = torch.arange(2**n_bands)
    return ((c[:, None] >> torch.arange(n_bands)) & 1).bool()


def partner_permutation(n: int, seed: int = 0) -> torch.Tensor:
    """A seeded random derangement of ``range(n)``: image ``i`` takes the spectrum of
    image ``partner[i] != i`` (for ``n >= 2``) in the ``"random"`` replacement mode.

    Returns:
        int64 tensor ``(n,)``.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if n == 1:
        return torch.zeros(1, dtype=torch.int64)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    partner = torch.empty(n, dtype=torch.int64)
    partner[order] = order.roll(-1)  # one cycle through a random order: no fixed points
    return partner


def centred_spectrum(x: torch.Tensor) -> torch.Tensor:
    """``fftshift(fft2(x))`` over the last two dimensions (complex, same shape as ``x``)."""
    return torch.fft.fftshift(torch.fft.fft2(x, dim=(-2, -1)), dim=(-2, -1))


def _replacement_spectra(spec: torch.Tensor, replace: str, partner: torch.Tensor | None,
                         seed: int, noise_std: float) -> torch.Tensor:
    """Spectra that fill the left-out bands, one per image: ``(N, C, H, W)`` complex."""
    if replace == "random":
        if partner is None:
            if spec.shape[0] < 2:
                raise ValueError(f"replace='random' fills the left-out bands of each image with another image's "
                                 f"spectrum, so it needs at least 2 images, but found {spec.shape[0]}; pass more "
                                 "images (or k >= 2), or use replace='zero' or 'gaussian'")
            partner = partner_permutation(spec.shape[0], seed)
        partner = torch.as_tensor(partner)
        n = spec.shape[0]
        if partner.shape != (n,) or partner.min() < 0 or partner.max() >= n:
            raise ValueError(f"partner must hold {n} indices in [0, {n}), got {partner.tolist()}")
        return spec[partner.to(spec.device)]
    if replace == "zero":
        return torch.zeros_like(spec)
    g = torch.Generator().manual_seed(seed)
    re = torch.randn(spec.shape, generator=g) * noise_std
    im = torch.randn(spec.shape, generator=g) * noise_std
    return torch.complex(re, im).to(device=spec.device, dtype=spec.dtype)


def _magnitude(spec: torch.Tensor, repl: torch.Tensor, keep: torch.Tensor, bands: torch.Tensor) -> torch.Tensor:
    """Unscaled filtered images: kept bands of ``spec``, the rest from ``repl``, inverse FFT,
    magnitude. ``spec, repl`` complex ``(B, C, H, W)``, ``keep`` bool ``(B, M)``."""
    mask = keep[:, bands].unsqueeze(1)  # (B, 1, H, W)
    mixed = torch.where(mask, spec, repl)
    return torch.fft.ifft2(torch.fft.ifftshift(mixed, dim=(-2, -1)), dim=(-2, -1)).abs()


def _scale(img: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, keep: torch.Tensor, residue: float,
           empty: str) -> torch.Tensor:
    """Min-max scale ``img`` to [0, 1] with per-item ``lo``/``hi`` ``(B,)``; a range below
    ``residue`` gives an all-zero image, and so does an empty coalition with ``empty="zero"``."""
    lo, span = lo.view(-1, 1, 1, 1), (hi - lo).view(-1, 1, 1, 1)
    ok = span > residue
    img = torch.where(ok, (img - lo) / span.clamp_min(torch.finfo(img.dtype).tiny), torch.zeros_like(img))
    if empty == "zero":
        img[~keep.any(1)] = 0.0
    return img.clamp_(0, 1)


def _synthesise(spec: torch.Tensor, repl: torch.Tensor, keep: torch.Tensor,
                bands: torch.Tensor, empty: str = "zero", residue: float = 0.0) -> torch.Tensor:
    """Filtered images scaled per image (``normalise="image"``): ``(B, C, H, W)`` in [0, 1]."""
    img = _magnitude(spec, repl, keep, bands)
    flat = img.flatten(1)
    return _scale(img, flat.amin(1), flat.amax(1), keep, residue, empty)


def _set_ranges(spec: torch.Tensor, repl: torch.Tensor, coalitions: torch.Tensor, bands: torch.Tensor,
                batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per coalition, the min and max of the unscaled filtered images over the whole set."""
    n, n_s = spec.shape[0], coalitions.shape[0]
    lo = torch.full((n_s,), math.inf, device=spec.device, dtype=torch.float32)
    hi = torch.full((n_s,), -math.inf, device=spec.device, dtype=torch.float32)
    for start in range(0, n_s * n, batch_size):
        pair = torch.arange(start, min(start + batch_size, n_s * n), device=spec.device)
        ci, ii = pair // n, pair % n
        flat = _magnitude(spec[ii], repl[ii], coalitions[ci], bands).flatten(1).float()
        lo.scatter_reduce_(0, ci, flat.amin(1), reduce="amin")
        hi.scatter_reduce_(0, ci, flat.amax(1), reduce="amax")
    return lo, hi


def coalition_filter(x: torch.Tensor, coalitions: torch.Tensor, n_bands: int = 8, *,
                     replace: str = "random", partner: torch.Tensor | None = None,
                     seed: int = 0, noise_std: float = 0.5, empty: str = "zero",
                     normalise: str = "set") -> torch.Tensor:
    """Images seen by the model for every coalition: kept bands of the image, left-out
    bands replaced, inverse FFT, magnitude, min-max to [0, 1] over the set of ``N`` images
    per coalition (``normalise="set"``, the reference) or per image (``"image"``).

    Args:
        x: float images ``(N, C, H, W)``.
        coalitions: bool ``(S, M)`` (rows of :func:`all_coalitions`).
        n_bands: number of bands ``M``.
        replace: ``"random"`` (spectrum of the partner image, the reference default),
            ``"zero"`` or ``"gaussian"`` (complex noise, real and imaginary parts
            ``N(0, noise_std^2)`` as in the reference, std 0.5).
        partner: int64 ``(N,)`` partner indices for ``"random"``; default
            :func:`partner_permutation` ``(N, seed)``.
        seed: seed of the partner permutation or the Gaussian spectra.
        noise_std: std of the Gaussian replacement's real and imaginary parts.
        empty: ``"zero"`` (reference: the empty coalition is the all-zero image) or
            ``"replace"`` (the empty coalition is the replacement alone).
        normalise: ``"set"`` (reference) or ``"image"``.

    Returns:
        float tensor ``(S, N, C, H, W)`` in [0, 1].
    """
    _check_images(x)
    _check_replace(replace)
    _check_empty(empty)
    check_choice("normalise", normalise, NORMALISE_MODES)
    coalitions = torch.as_tensor(coalitions).bool()
    if coalitions.ndim != 2 or coalitions.shape[1] != n_bands:
        raise ValueError(f"coalitions must have shape (S, {n_bands}), but found {tuple(coalitions.shape)}")
    bands = band_map(x.shape[-2], x.shape[-1], n_bands).to(x.device)
    spec = centred_spectrum(x)
    repl = _replacement_spectra(spec, replace, partner, seed, noise_std)
    n_s, n = coalitions.shape[0], x.shape[0]
    keep = coalitions.to(x.device).repeat_interleave(n, 0)
    residue = RESIDUE * float(x.abs().max())
    img = _magnitude(spec.repeat(n_s, 1, 1, 1), repl.repeat(n_s, 1, 1, 1), keep, bands)
    if normalise == "set":
        per_set = img.view(n_s, n, -1)
        lo = per_set.amin(dim=(1, 2)).repeat_interleave(n)
        hi = per_set.amax(dim=(1, 2)).repeat_interleave(n)
    else:
        lo, hi = img.flatten(1).amin(1), img.flatten(1).amax(1)
    return _scale(img, lo, hi, keep, residue, empty).view(n_s, n, *x.shape[1:])


# -------------------------------------------------------------------------- the game
def coalition_values(model: nn.Module, x: torch.Tensor, y: torch.Tensor, n_bands: int = 8, *,
                     replace: str = "random", seed: int = 0, noise: str = "off",
                     samples: int = 1, noise_std: float = 0.5, empty: str = "zero",
                     normalise: str = "set", batch_size: int = 512, coalitions: torch.Tensor | None = None,
                     show_progress: bool = True) -> torch.Tensor:
    """Value ``v(S)`` = mean log-softmax of the true class over the ``N`` images, for
    every coalition, evaluated in batches of ``batch_size`` (coalition, image) pairs.

    Args:
        model: classifier mapping ``(B, C, H, W)`` to logits ``(B, classes)``.
        x: float images ``(N, C, H, W)`` in [0, 1] (the fixed evaluation set).
        y: int64 true labels ``(N,)``.
        n_bands: number of bands ``M``.
        replace: replacement mode, see :func:`coalition_filter`.
        seed: seed of the partner permutation / Gaussian spectra and, with
            ``noise="on"``, of the model's fixed noise field.
        noise: ``"off"`` (default: drift path of a Neural SDE) or ``"on"``.
        samples: noisy passes averaged per input when ``noise="on"``.
        noise_std: std of the Gaussian replacement.
        empty: the empty coalition's image, see :func:`coalition_filter`.
        normalise: min-max scaling, ``"set"`` (reference) or ``"image"``, see :func:`coalition_filter`.
        batch_size: (coalition, image) pairs per forward pass; pairs run coalition-major,
            so one batch holds several coalitions when ``batch_size > N``.
        coalitions: bool ``(S, M)``; default all ``2^M`` coalitions.
        show_progress: show a progress bar (silent under ``TQDM_DISABLE``).

    Returns:
        float64 tensor ``(S,)`` of coalition values (CPU).
    """
    _check_images(x)
    check_model_input(model, x)
    _check_replace(replace)
    _check_empty(empty)
    _check_bands(n_bands)
    check_choice("noise", noise, ("off", "on"))
    check_choice("normalise", normalise, NORMALISE_MODES)
    y = check_labels(y, x.shape[0], getattr(model, "num_classes", None))
    batch_size = positive_int("batch_size", batch_size)
    samples = positive_int("samples", samples)
    if coalitions is None:
        coalitions = all_coalitions(n_bands)
    coalitions = torch.as_tensor(coalitions).bool()
    if coalitions.ndim != 2 or coalitions.shape[1] != n_bands:
        raise ValueError(f"coalitions must have shape (S, {n_bands}), but found {tuple(coalitions.shape)}")
    device = model_device(model)
    n, n_s = x.shape[0], coalitions.shape[0]
    x = x.to(device, torch.float32)
    bands = band_map(x.shape[-2], x.shape[-1], n_bands).to(device)
    spec = centred_spectrum(x)
    repl = _replacement_spectra(spec, replace, None, seed, noise_std)
    y_dev = y.to(device).long()
    keep_all = coalitions.to(device)
    sums = torch.zeros(n_s, dtype=torch.float64, device=device)
    total = n_s * n
    starts = range(0, total, batch_size)
    residue = RESIDUE * float(x.abs().max())
    if normalise == "set":
        set_lo, set_hi = _set_ranges(spec, repl, keep_all, bands, batch_size)
    kwargs = {"seed": seed, "samples": samples} if noise == "on" else {}
    with eval_mode(model), noise_mode(model, noise, **kwargs), torch.inference_mode():
        bar = progress(starts, desc="I-ASIDE coalitions", **({} if show_progress else {"disable": True}))
        for start in bar:
            pair = torch.arange(start, min(start + batch_size, total), device=device)
            ci, ii = pair // n, pair % n
            if normalise == "set":
                imgs = _scale(_magnitude(spec[ii], repl[ii], keep_all[ci], bands), set_lo[ci], set_hi[ci],
                              keep_all[ci], residue, empty)
            else:
                imgs = _synthesise(spec[ii], repl[ii], keep_all[ci], bands, empty, residue)
            logp = F.log_softmax(model(imgs).float(), dim=1)
            score = logp.gather(1, y_dev[ii, None]).squeeze(1).double()
            sums.index_add_(0, ci, score)
    return (sums / n).cpu()


def shapley_values(values: torch.Tensor | np.ndarray, n_bands: int | None = None) -> np.ndarray:
    """Exact Shapley values of the ``M`` bands from the values of all ``2^M`` coalitions.

    ``psi_i = sum_{S not containing i} [v(S + i) - v(S)] / (M * C(M - 1, |S|))``.

    Args:
        values: ``(2^M,)`` coalition values indexed by bitmask (bit ``i`` = band ``i``).
        n_bands: ``M``; inferred from the length when omitted.

    Returns:
        float64 array ``(M,)``; ``psi.sum() == v(all) - v(empty)`` (efficiency).
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    m = int(round(math.log2(v.size))) if v.size > 0 else -1
    if m < 0 or 2**m != v.size:
        raise ValueError(f"values must have 2^M entries, got {v.size}")
    if n_bands is not None and n_bands != m:
        raise ValueError(f"values has 2^{m} entries but n_bands={n_bands}")
    _check_bands(m)
    idx = np.arange(v.size)
    size = np.array([bin(c).count("1") for c in idx])
    weight = np.array([1.0 / (m * math.comb(m - 1, s)) if s < m else 0.0 for s in range(m + 1)])
    psi = np.empty(m)
    for i in range(m):
        without = idx[(idx >> i) & 1 == 0]
        psi[i] = np.sum(weight[size[without]] * (v[without | (1 << i)] - v[without]))
    return psi


def importance_distribution(psi: Sequence[float] | np.ndarray) -> np.ndarray:
    """Spectral importance distribution ``(psi - min psi) / sum(psi - min psi)``.

    Returns:
        float64 array ``(M,)`` summing to 1 (uniform when every ``psi`` is equal).
    """
    p = np.asarray(psi, dtype=np.float64).reshape(-1)
    if p.size < 2 or not np.all(np.isfinite(p)):
        raise ValueError(f"psi must be >= 2 finite values, got {p!r}")
    p = p - p.min()
    s = p.sum()
    return p / s if s > 0 else np.full(p.size, 1.0 / p.size)


def spectral_robustness_score(sid: Sequence[float] | np.ndarray, beta: float = 0.75) -> float:
    """Spectral robustness score ``|b_hat . sid - eta| / |1 - eta|`` with ``b_k = beta^k``
    (``k = 0`` the lowest band), ``b_hat = b / |b|_2``, ``eta = |b|_1 / (M |b|_2)``.

    A uniform SID scores 0; mass on the low bands raises the score.

    Args:
        sid: spectral importance distribution ``(M,)`` (normalised to sum 1 here).
        beta: decay of the band weights, in (0, 1).
    """
    v = np.asarray(sid, dtype=np.float64).reshape(-1)
    if v.size < 2 or np.any(v < 0) or not np.all(np.isfinite(v)) or v.sum() <= 0:
        raise ValueError(f"sid must be >= 2 non-negative values with a positive sum, got {v!r}")
    if not 0 < beta < 1:
        raise ValueError(f"beta must be in (0, 1), got {beta}")
    v = v / v.sum()
    b = beta ** np.arange(v.size)
    l2 = np.sqrt(np.sum(b**2))
    eta = b.sum() / (v.size * l2)
    return float(abs(np.dot(b / l2, v) - eta) / abs(1 - eta))


@dataclass
class SpectralImportance:
    """Result of :func:`spectral_importance` (arrays are float64 NumPy arrays)."""

    shapley: np.ndarray          # (M,) Shapley values psi (log-probability units)
    sid: np.ndarray              # (M,) spectral importance distribution, sums to 1
    srs: float                   # spectral robustness score
    values: np.ndarray           # (2^M,) coalition values v(S), indexed by bitmask
    n_bands: int
    n_images: int
    replace: str
    noise: str
    empty: str = "zero"
    normalise: str = "set"
    beta: float = 0.75
    seconds: float = float("nan")
    meta: dict = field(default_factory=dict)

    @property
    def v_all(self) -> float:
        return float(self.values[-1])

    @property
    def v_empty(self) -> float:
        return float(self.values[0])

    def to_dict(self) -> dict:
        return asdict(self)


def _select(x: torch.Tensor, y: torch.Tensor, k: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    n = x.shape[0]
    if k is None:
        return x, y
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive int or None, got {k!r}")
    if k > n:
        raise ValueError(f"k={k} images requested but the data hold only {n}")
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:k].sort().values
    return x[idx], y[idx]


def spectral_importance(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, n_bands: int = 8,
                        k: int | None = None, replace: str = "random", noise: str = "off",
                        samples: int = 1, beta: float = 0.75, seed: int = 0,
                        noise_std: float = 0.5, empty: str = "zero", normalise: str = "set",
                        batch_size: int = 512, show_progress: bool = True) -> SpectralImportance:
    """I-ASIDE decomposition of one model: coalition values, Shapley values, SID, SRS.

    Args:
        model: classifier ``(B, C, H, W) -> logits``; run in ``eval()`` with its noise
            ``noise`` (``"off"`` by default, the deterministic drift path).
        x: float images ``(N, C, H, W)`` in [0, 1].
        y: int64 labels ``(N,)``.
        n_bands: number of bands ``M`` (>= 2).
        k: number of images of the fixed evaluation set, drawn without replacement with
            ``seed`` (``None``: all ``N``).
        replace: ``"random"`` (reference default), ``"zero"`` or ``"gaussian"``.
        noise: ``"off"`` or ``"on"`` (fixed seeded noise field).
        samples: noisy passes per input with ``noise="on"``.
        beta: SRS band-weight decay.
        seed: seed of the image draw, partner permutation, Gaussian spectra, noise field.
        noise_std: std of the Gaussian replacement.
        empty: ``"zero"`` (reference: the empty coalition is the all-zero image, which
            breaks the dummy axiom in the ``"random"`` mode, since removing every band then
            differs from replacing every band) or ``"replace"`` (consistent game).
        normalise: ``"set"`` (reference: min-max over the ``k`` images per coalition) or
            ``"image"`` (per image).
        batch_size: (coalition, image) pairs per forward pass.
        show_progress: show a progress bar.
    """
    import time

    _check_images(x)
    _check_bands(n_bands)
    _check_size(x.shape[-2], x.shape[-1], n_bands)
    _check_replace(replace)
    xs, ys = _select(x, torch.as_tensor(y), k, seed)
    t0 = time.perf_counter()
    values = coalition_values(model, xs, ys, n_bands, replace=replace, seed=seed, noise=noise,
                              samples=samples, noise_std=noise_std, empty=empty, normalise=normalise,
                              batch_size=batch_size, show_progress=show_progress).numpy()
    seconds = time.perf_counter() - t0
    psi = shapley_values(values, n_bands)
    sid = importance_distribution(psi)
    return SpectralImportance(shapley=psi, sid=sid, srs=spectral_robustness_score(sid, beta),
                              values=values, n_bands=n_bands, n_images=xs.shape[0], replace=replace,
                              noise=noise, empty=empty, normalise=normalise, beta=beta, seconds=seconds)


def cached_spectral_importance(trained, x: torch.Tensor, y: torch.Tensor, **kwargs) -> SpectralImportance:
    """:func:`spectral_importance` of ``trained.model``, cached under ``trained.key``, a
    hash of ``(x, y)`` and the keyword arguments (``batch_size``/``show_progress`` excluded).

    Args:
        trained: a ``nsde.core.training.TrainedModel`` (``.model``, ``.key``).
        x, y: images and labels as for :func:`spectral_importance`.
        **kwargs: keyword arguments of :func:`spectral_importance`.
    """
    out = cached_call("spectral", spectral_importance, lambda: spectral_importance(trained.model, x, y, **kwargs).to_dict(),
                      model=trained.key, tensors=(x, torch.as_tensor(y)), arguments=kwargs, version=3, name="iaside.pt")
    return SpectralImportance(**out)
