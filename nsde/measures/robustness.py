"""Robustness to random input noise (Table 2 of Brogan et al., arXiv 2409.01532).

Accuracy when additive noise of standard deviation ``intensity`` (on spectrograms scaled to
[0, 1]) is added to every test image. The noise is white Gaussian (the paper's) or shaped
by :func:`nsde.core.noise.make_shaper` (Brownian sheet, 1/f ...; every shape has unit mean
power, so ``intensity`` means the same noise power for every shape). The noisy image is
clipped back to [0, 1]; the SNR reported is measured on the perturbation actually
delivered (after clipping).

All models are scored on the *same* noisy images: :func:`noisy_inputs` is the one seeded
source of them (the data-size study uses it too), and every table keeps the per-image
correctness in ``df.attrs["correct"]`` for paired comparisons (:mod:`nsde.stats.compare`).
Adversarial attacks are in :mod:`nsde.measures.attacks`.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
import torch

from nsde._infra.cache import cached_call
from nsde._infra.checks import check_choice, check_xy, nonnegative_int, number_list, positive_int, unwrap_model
from nsde._infra.runtime import derive_seed, progress
from nsde.core.noise import SHAPES, make_shaper
from nsde.measures.evaluation import correctness
from nsde.stats.compare import pool_seeds
from nsde.stats.intervals import accuracy_interval, bootstrap_interval

__all__ = ["PAPER_INTENSITIES", "sample_noise", "add_noise", "noisy_inputs", "snr_db", "noise_accuracy",
           "noise_seeds", "noise_auc"]

#: The paper's Table 2 noise intensities (standard deviation on [0, 1] spectrograms).
PAPER_INTENSITIES = (0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 0.75, 1.0)
# bump to invalidate cached results after a change of method
_NOISE_VERSION = 4  # 4: noisy images seeded by the intensity's value


def _intensity(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value < 0:
        raise ValueError(f"noise intensity must be a finite number >= 0, but found {value!r}")
    return float(value)


def sample_noise(size: Sequence[int], intensity: float, input_noise: str = "white",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Additive noise of standard deviation ``intensity`` (before any clipping).

    Args:
        size: the image batch shape ``(N, C, H, W)``.
        intensity: noise standard deviation, >= 0 (the mean power is ``intensity**2``).
        input_noise: a name in ``nsde.core.noise.SHAPES`` ("white" is plain i.i.d. Gaussian).
        generator: the CPU generator of the draw (seeded by the caller).

    Returns:
        float32 tensor of ``size`` on the CPU.
    """
    intensity = _intensity(intensity)
    shaper = make_shaper(check_choice("input_noise", input_noise, SHAPES))
    z = torch.randn(tuple(size), generator=generator, dtype=torch.float32)
    return intensity * shaper(z)


def add_noise(x: torch.Tensor, intensity: float, input_noise: str = "white",
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Add noise to ``x`` (values in [0, 1]) and clip back to [0, 1].

    Returns:
        ``(noisy, delivered)``: the clipped noisy images and the perturbation actually
        applied (``noisy - x``), both shaped like ``x``.
    """
    noise = sample_noise(x.shape, intensity, input_noise, generator).to(x.device, x.dtype)
    noisy = (x + noise).clamp(0.0, 1.0)
    return noisy, noisy - x


def noisy_inputs(x: torch.Tensor, intensities: Iterable[float], input_noise: str = "white",
                 seed: int = 0) -> list[tuple[float, torch.Tensor, torch.Tensor]]:
    """The seeded noisy versions of ``x`` that every model is scored on.

    The draw for an intensity comes from ``derive_seed(seed, round(1e6 * intensity))``: it
    depends on the intensity's value, not on its place in the list, so every chapter that
    asks for the same intensity with the same seed gets the same noisy images (and the
    cache keys, which name the intensities, stay valid). Intensity 0 gives ``x``.

    Returns:
        ``[(intensity, noisy, delivered), ...]`` in the order of ``intensities``.
    """
    out = []
    for intensity in number_list("intensities", intensities, minimum=0.0):
        gen = torch.Generator().manual_seed(derive_seed(seed, round(1e6 * intensity)))
        noisy, delivered = add_noise(x, intensity, input_noise, gen) if intensity > 0 else (x, torch.zeros_like(x))
        out.append((intensity, noisy, delivered))
    return out


def snr_db(signal: torch.Tensor, perturbation: torch.Tensor) -> float:
    """``10 log10(mean(signal^2) / mean(perturbation^2))`` in dB (``inf`` for no noise).

    Raises:
        ValueError: ``perturbation`` is not shaped like ``signal`` (one perturbation per value).
    """
    for name, t in (("signal", signal), ("perturbation", perturbation)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, but found {type(t).__name__}")
    if signal.shape != perturbation.shape:
        raise ValueError(f"perturbation must have the shape of signal {tuple(signal.shape)} (the change of every "
                         f"value), but found shape {tuple(perturbation.shape)}")
    if signal.numel() == 0:
        raise ValueError("signal is empty")
    p_s = float(signal.double().pow(2).mean())
    p_n = float(perturbation.double().pow(2).mean())
    if p_n == 0.0:
        return math.inf
    return 10.0 * math.log10(p_s / p_n)


def noise_accuracy(trained: Any, x: torch.Tensor, y: torch.Tensor, intensities: Iterable[float],
                   input_noise: str = "white", noise: str = "off", samples: int = 1, draws: int = 1,
                   seed: int = 0, *, key: str | None = None, batch_size: int = 256,
                   refresh: bool = False) -> pd.DataFrame:
    """Accuracy under additive random noise, one row per intensity (Table 2).

    Every model is scored on the images of :func:`noisy_inputs` with the same ``seed``.
    The model runs in ``eval()`` with its noise ``noise`` (``"off"``: drift only;
    ``"on"``: the mean softmax of ``samples`` noisy passes); a random model's correctness
    per image is the mean of ``draws`` independent scorings (:func:`nsde.measures.evaluation.correctness`).

    Args:
        trained: a ``TrainedModel`` (its ``.key`` keys the cache) or an ``nn.Module``.
        x: images ``(N, C, H, W)`` float32 in [0, 1].
        y: labels ``(N,)`` int64, within the model's classes.
        intensities: a list of noise standard deviations, each >= 0.
        input_noise: shape of the input noise, a name in ``nsde.core.noise.SHAPES``.
        noise: the model's noise during evaluation, ``"off"`` or ``"on"``.
        samples: noisy passes averaged per prediction when ``noise="on"``.
        draws: independent scorings averaged per image (random models only).
        seed: seed of the input noise and of the model's noise draws.
        key: cache key of a plain module (cached only when a key is known).
        batch_size: images per forward pass.
        refresh: recompute even when cached.

    Returns:
        DataFrame with columns ``intensity, accuracy, low, high, snr_db, n`` (accuracy in
        [0, 1] with its 95% interval; ``snr_db`` measured after clipping).
        ``df.attrs["correct"]`` maps each intensity to the per-image correctness (a tuple
        of ``N`` floats in [0, 1]) for paired comparisons.
    """
    model, key = unwrap_model(trained, key)
    x, y = check_xy(x, y, model)
    intensities = number_list("intensities", intensities, minimum=0.0)
    check_choice("input_noise", input_noise, SHAPES)
    check_choice("noise", noise, ("off", "on"))
    samples, draws = positive_int("samples", samples), positive_int("draws", draws)
    seed = nonnegative_int("seed", seed)

    def compute() -> dict:
        rows, per_image = [], []
        for intensity, noisy, delivered in progress(noisy_inputs(x, intensities, input_noise, seed),
                                                    desc=f"noise {input_noise}/{noise}"):
            hits = correctness(model, noisy, y, noise=noise, samples=samples, draws=draws, seed=seed,
                               batch_size=batch_size)
            iv = accuracy_interval(hits, seed=seed)
            rows.append(dict(intensity=intensity, accuracy=iv.estimate, low=iv.low, high=iv.high,
                             snr_db=snr_db(x, delivered), n=len(y)))
            per_image.append(hits)
        return {"rows": rows, "correct": per_image}

    if key is None:
        out = compute()
    else:
        out = cached_call("robustness", noise_accuracy, compute, model=key, tensors=(x, y),
                          arguments=dict(intensities=intensities, input_noise=input_noise, noise=noise, samples=samples,
                                         draws=draws, seed=seed), version=_NOISE_VERSION, name="noise_accuracy.pt",
                          refresh=refresh)
    df = pd.DataFrame(out["rows"], columns=["intensity", "accuracy", "low", "high", "snr_db", "n"])
    # tuples, not arrays: pandas compares attrs when it merges or concatenates tables
    df.attrs["correct"] = {i: tuple(np.asarray(c, dtype=float).tolist()) for i, c in zip(intensities, out["correct"])}
    return df


def noise_seeds(runs: Sequence[Any], x: torch.Tensor, y: torch.Tensor, intensities: Iterable[float],
                **kwargs) -> pd.DataFrame:
    """:func:`noise_accuracy` for every training seed of one model, pooled
    (:func:`nsde.stats.compare.pool_seeds`): the accuracy averaged over seeds, an interval that
    resamples seeds and images, and the seeds' spread.

    Args:
        runs: the ``TrainedModel`` of each seed.
        x, y, intensities, **kwargs: as for :func:`noise_accuracy`.
    """
    intensities = list(intensities)
    tables = [noise_accuracy(t, x, y, intensities, **kwargs) for t in runs]
    pooled = pool_seeds(tables, "intensity", seed=kwargs.get("seed", 0))
    pooled["snr_db"] = tables[0]["snr_db"].to_numpy()
    return pooled


def noise_auc(table: pd.DataFrame, seed: int = 0):
    """Area under the accuracy-intensity curve of a :func:`noise_accuracy` table, normalised
    by the intensity range (the mean accuracy over the swept range), with a bootstrap
    interval over images.

    The trapezoidal area of each image's correctness curve is a per-image score, so the
    interval resamples images and the result can be compared paired between models.

    For a table pooled over seeds, each image's curve is first averaged over the seeds.

    Returns:
        ``(Interval, per_image_scores)``.
    """
    xs = table["intensity"].to_numpy(dtype=float)
    if len(xs) < 2 or np.any(np.diff(xs) <= 0):
        raise ValueError(f"an area under the curve needs >= 2 increasing intensities, but found {xs.tolist()}")
    c = np.array([np.atleast_2d(table.attrs["correct"][v]).mean(0) for v in table["intensity"]], dtype=float)
    per_image = np.trapezoid(c, xs, axis=0) / (xs[-1] - xs[0])  # (I, N) -> (N,), seeds averaged
    return bootstrap_interval(per_image, seed=seed), per_image


