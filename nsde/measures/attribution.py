"""Attributions of spectrogram classifiers and their stability (Fig. 4 of arXiv 2409.01532).

Brogan et al., "Improving Robustness of Spectrogram Classifiers with Neural Stochastic
Differential Equations", explain a ConvNeXt and its Neural-SDE variant with Captum's
Integrated Gradients (Sundararajan et al. 2017) and IG + NoiseTunnel (SmoothGrad,
Smilkov et al. 2017, noise N(0, 0.01^2)), and state that "the logarithm of the sum of the
change in attributions is smaller for neural SDEs". This module provides:

* :func:`attribute`: one batched entry point for ``"ig"`` (zero baseline, Gauss-Legendre,
  ``n_steps=50``), ``"noisetunnel"`` (SmoothGrad over IG) and ``"saliency"`` (absolute
  gradient, Simonyan et al. 2014). A Neural SDE is random; IG needs a deterministic
  function because Captum batches the interpolation steps of one image into one forward.
  Attributions are therefore computed with ``noise="on"`` on a **fixed noise path**
  (``noise_seed``: one noise field broadcast over the batch, see
  :func:`nsde.core.models.noise_mode`), optionally averaged over ``noise_paths=K`` fixed paths
  (seeds ``noise_seed .. noise_seed+K-1``), or with ``noise="off"`` on the drift path.
  Baselines ignore both. Attributions are computed in float32 whatever the model's
  precision (IG's completeness needs it).
* :func:`normalize_attributions`, :func:`attribution_change`, :func:`topk_intersection`,
  :func:`spearman_rank`: per-image comparisons of two attribution maps.
* :func:`attribution_stability`: the paper's measure (formula not given there), defined
  here as ``log sum_j |a_j(x) - a_j(x + delta)|`` on **L1-normalised** maps
  ``a = A / sum_j |A_j|`` (so the sum lies in [0, 2] and the scale of the logits does not
  enter), for ``n_perturbations`` random perturbations ``delta ~ N(0, epsilon^2)`` per
  image (the perturbed image is clipped to [0, 1]), with the target fixed to the class
  predicted on the clean image. Also top-k intersection and Spearman rank correlation of
  ``|A|`` (the measures of Ghorbani et al. 2019).
* :func:`plot_attributions` (Fig. 4 on one shared colour scale) and :func:`plot_stability`.
"""
from __future__ import annotations

import contextlib
import math
import warnings
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from nsde._infra.cache import cached_call
from nsde._infra.checks import check_choice, check_images, check_labels, check_model_input, finite_number, positive_int
from nsde._infra.runtime import eval_mode, model_device, progress
from nsde.core.models import noise_mode
from nsde.stats.intervals import bootstrap_interval

__all__ = ["METHODS", "attribute", "explaining", "check_target", "completeness_gap", "feature_count",
           "normalize_attributions", "attribution_change", "topk_intersection", "spearman_rank", "perturb",
           "attribution_stability", "cached_attributions", "cached_stability", "stability_summary", "check_input"]

#: Attribution methods :func:`attribute` knows.
METHODS = ("ig", "noisetunnel", "saliency")
#: NoiseTunnel standard deviation used by the paper (noise N(0, 0.01^2)).
PAPER_NT_STDEV = 0.01


# --------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def explaining(model: nn.Module, noise: str = "on", noise_seed: int = 0) -> Iterator[nn.Module]:
    """The model as explanations see it: ``eval()``, float32, and a deterministic noise setting.

    Args:
        model: a classifier (an NSDE or a baseline from :func:`nsde.core.models.build_model`, or
            any ``nn.Module``).
        noise: ``"on"``: the fixed noise path ``noise_seed`` (one field broadcast over the
            batch, so the model is a deterministic function); ``"off"``: the drift path.
        noise_seed: the path's seed, an int >= 0.
    """
    check_choice("noise", noise, ("off", "on"))
    if isinstance(noise_seed, bool) or not isinstance(noise_seed, (int, np.integer)) or noise_seed < 0:
        raise ValueError(f"noise_seed must be an int >= 0, but found {noise_seed!r}")
    previous = getattr(model, "precision", None)
    if previous is not None:
        model.set_precision("fp32")
    kwargs = {"seed": int(noise_seed), "samples": 1} if noise == "on" else {}
    try:
        with eval_mode(model), noise_mode(model, noise, **kwargs):
            yield model
    finally:
        if previous is not None:
            model.set_precision(previous)


def check_input(x: Any, model: nn.Module | None = None) -> torch.Tensor:
    """Images ``(N, C, H, W)`` in [0, 1] that ``model`` (when given) accepts."""
    x = check_images(x)
    if model is not None:
        check_model_input(model, x)
    return x


@torch.no_grad()
def _num_classes(model: nn.Module, x: torch.Tensor) -> int:
    n = getattr(model, "num_classes", None)
    return int(n) if n is not None else int(model(x[:1].to(model_device(model))).shape[-1])


def check_target(target: Any, n: int, num_classes: int) -> torch.Tensor:
    """Validate ``target`` (int or ``(N,)`` ints) and return it as an int64 ``(N,)`` tensor.

    Raises:
        ValueError: when a class index lies outside ``[0, num_classes)`` or the length
            does not match ``n``.
    """
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        target = torch.full((n,), int(target), dtype=torch.int64)
    return check_labels(torch.as_tensor(target).cpu().reshape(-1) if torch.as_tensor(target).ndim > 1
                        else torch.as_tensor(target).cpu(), n, num_classes, name="target")


# --------------------------------------------------------------------------- attribute
def _attribute_once(model: nn.Module, xb: torch.Tensor, tb: torch.Tensor, method: str, *,
                    n_steps: int, internal_batch_size: int | None, nt_samples: int,
                    nt_stdevs: float) -> torch.Tensor:
    from captum.attr import IntegratedGradients, NoiseTunnel, Saliency

    baseline = torch.zeros_like(xb)
    if method == "saliency":
        return Saliency(model).attribute(xb.clone().requires_grad_(True), target=tb, abs=True)
    ig = IntegratedGradients(model)
    if method == "ig":
        return ig.attribute(xb, baselines=baseline, target=tb, n_steps=n_steps,
                            internal_batch_size=internal_batch_size)
    nt = NoiseTunnel(ig)
    return nt.attribute(xb, nt_type="smoothgrad", nt_samples=nt_samples, stdevs=nt_stdevs,
                        nt_samples_batch_size=1, baselines=baseline, target=tb,
                        n_steps=n_steps, internal_batch_size=internal_batch_size)


def attribute(model: nn.Module, x: torch.Tensor, target: int | Sequence[int] | torch.Tensor,
              method: str = "ig", *, n_steps: int = 50, internal_batch_size: int | None = 64,
              batch_size: int = 8, nt_samples: int = 10, nt_stdevs: float = PAPER_NT_STDEV,
              noise: str = "on", noise_seed: int = 0, noise_paths: int = 1, seed: int = 0,
              show_progress: bool = False) -> torch.Tensor:
    """Attributions of ``model`` for class ``target`` on a batch of images.

    The model runs in ``eval()`` and float32 (both restored afterwards) on a fixed noise
    path (:func:`explaining`).

    Args:
        model: classifier returning logits ``(B, num_classes)``.
        x: images ``(N, C, H, W)``, float32.
        target: one class index for all images, or ``(N,)`` indices.
        method: ``"ig"`` (Integrated Gradients, zero baseline), ``"noisetunnel"``
            (SmoothGrad over IG, ``nt_samples`` draws of N(0, nt_stdevs^2) input noise)
            or ``"saliency"`` (absolute input gradient).
        n_steps: IG interpolation steps (Gauss-Legendre).
        internal_batch_size: Captum's internal batch (interpolated images per forward);
            ``None`` runs all steps of a chunk in one forward.
        batch_size: images per Captum call.
        nt_samples: NoiseTunnel samples.
        nt_stdevs: NoiseTunnel noise standard deviation (0.01 as in the paper).
        noise: ``"on"`` (fixed noise paths) or ``"off"`` (drift path) for an NSDE.
        noise_seed: first fixed noise path of an NSDE.
        noise_paths: K >= 1 fixed noise paths to average over (seeds ``noise_seed + k``).
        seed: seed of NoiseTunnel's input noise (the global RNG is restored afterwards).
        show_progress: show a progress bar over image chunks.

    Returns:
        Attributions ``(N, C, H, W)`` float32 on the CPU.

    Raises:
        ValueError: unknown ``method``, target out of range, bad sizes.
    """
    check_choice("method", method, METHODS)
    x = check_input(x, model)
    n_steps = positive_int("n_steps", n_steps)
    batch_size = positive_int("batch_size", batch_size)
    nt_samples = positive_int("nt_samples", nt_samples)
    nt_stdevs = finite_number("nt_stdevs", nt_stdevs, minimum=0.0)
    noise_paths = positive_int("noise_paths", noise_paths)
    if internal_batch_size is not None:
        internal_batch_size = positive_int("internal_batch_size", internal_batch_size)
    check_choice("noise", noise, ("off", "on"))
    if noise_paths > 1 and noise == "off":
        raise ValueError("noise_paths > 1 needs noise='on' (the drift path has no noise to average over)")
    device = model_device(model)
    seeds = [int(noise_seed) + k for k in range(noise_paths)]
    total = torch.zeros_like(x)
    t = check_target(target, len(x), _num_classes(model, x))
    chunks = range(0, len(x), batch_size)
    for k, s in enumerate(seeds):
        with explaining(model, noise, s), torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed + 7919 * k)
            bar = {} if show_progress else {"disable": True}
            for i in progress(chunks, desc=method, **bar):
                xb = x[i:i + batch_size].to(device)
                a = _attribute_once(model, xb, t[i:i + batch_size].to(device), method,
                                    n_steps=n_steps, internal_batch_size=internal_batch_size,
                                    nt_samples=nt_samples, nt_stdevs=nt_stdevs)
                total[i:i + batch_size] += a.detach().float().cpu()
    return total / len(seeds)


@torch.no_grad()
def completeness_gap(model: nn.Module, x: torch.Tensor, target: Any, attributions: torch.Tensor, *,
                     noise: str = "on", noise_seed: int = 0) -> pd.DataFrame:
    """IG's completeness check: ``sum_j A_j`` against ``f_t(x) - f_t(0)`` per image.

    IG satisfies completeness exactly only for a function continuous along the path; a
    large gap means too few steps or a steep/discontinuous path (e.g. a LayerNorm right
    after a bias-free stem makes a ConvNeXt scale-invariant, hence discontinuous at the
    zero baseline; a trained stem bias removes the jump but may leave a steep start).

    Args:
        model: the attributed classifier.
        x: images ``(N, C, H, W)``.
        target: the attributed classes.
        attributions: IG attributions of ``x`` (zero baseline), single noise path.
        noise, noise_seed: the noise setting the attributions were computed with.

    Returns:
        DataFrame with ``sum_attr``, ``delta_f`` (``f_t(x) - f_t(0)``), ``gap`` (their
        difference) and ``rel_gap`` (``|gap| / max(|delta_f|, 1e-12)``).
    """
    x = check_input(x, model)
    device = model_device(model)
    with explaining(model, noise, noise_seed):
        fx = model(x.to(device)).float().cpu()
        t = check_target(target, len(x), fx.shape[-1])
        f0 = model(torch.zeros_like(x).to(device)).float().cpu()
    rows = torch.arange(len(x))
    delta = (fx[rows, t] - f0[rows, t]).double()
    s = attributions.reshape(len(x), -1).double().sum(1)
    gap = s - delta
    return pd.DataFrame({"sum_attr": s.numpy(), "delta_f": delta.numpy(), "gap": gap.numpy(),
                         "rel_gap": (gap.abs() / delta.abs().clamp_min(1e-12)).numpy()})


# --------------------------------------------------------------------------- comparisons
def normalize_attributions(a: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Each map divided by its L1 norm: ``a_i / sum_j |a_ij|`` (an all-zero map stays zero).

    Args:
        a: attributions ``(N, ...)``.
        eps: guard for all-zero maps.

    Returns:
        Float32 tensor shaped like ``a``; each row has L1 norm 1 (or 0).
    """
    flat = a.reshape(len(a), -1).float()
    norm = flat.abs().sum(1, keepdim=True)
    return (flat / norm.clamp_min(eps)).reshape(a.shape)


def attribution_change(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``sum_j |a_j - b_j|`` of the L1-normalised maps, per image ``(N,)`` in [0, 2]."""
    if a.shape != b.shape:
        raise ValueError(f"attribution shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    d = normalize_attributions(a) - normalize_attributions(b)
    return d.reshape(len(a), -1).abs().sum(1)


def feature_count(name: str, value: int | float, d: int) -> int:
    """A number of features out of ``d``: an int as given, or a fraction ``(0, 1]`` of ``d``.

    Used for the ``topk`` of the stability measures and the ``n_features`` mutated by ABC.
    """
    if isinstance(value, float):
        if not 0 < value <= 1:
            raise ValueError(f"{name} as a fraction must be in (0, 1], got {value}")
        return max(1, int(round(value * d)))
    k = positive_int(name, value)
    if k > d:
        raise ValueError(f"{name}={k} exceeds the number of features {d}")
    return k


def topk_intersection(a: torch.Tensor, b: torch.Tensor, topk: int | float = 0.1) -> torch.Tensor:
    """Fraction of the ``k`` features of largest ``|a|`` that are also among the top ``k`` of ``|b|``.

    Args:
        a, b: attributions ``(N, ...)`` of the same shape.
        topk: ``k`` as an int, or as a fraction of the features (float in (0, 1]).

    Returns:
        ``(N,)`` float32 in [0, 1] (1: same top-k set).
    """
    if a.shape != b.shape:
        raise ValueError(f"attribution shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    fa, fb = a.reshape(len(a), -1).abs(), b.reshape(len(b), -1).abs()
    k = feature_count("topk", topk, fa.shape[1])
    ia = torch.zeros_like(fa, dtype=torch.bool).scatter_(1, fa.topk(k, 1).indices, True)
    ib = torch.zeros_like(fb, dtype=torch.bool).scatter_(1, fb.topk(k, 1).indices, True)
    return (ia & ib).sum(1).float() / k


def spearman_rank(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation of ``|a|`` and ``|b|`` per image ``(N,)`` (``scipy.stats.spearmanr``,
    ties averaged). A constant map has no ranking; its correlation is NaN."""
    from scipy.stats import spearmanr

    if a.shape != b.shape:
        raise ValueError(f"attribution shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    fa = a.reshape(len(a), -1).abs().double().numpy()
    fb = b.reshape(len(b), -1).abs().double().numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: NaN, documented above
        rho = [spearmanr(u, v).statistic for u, v in zip(fa, fb)]
    return torch.tensor(rho, dtype=torch.float32)


def perturb(x: torch.Tensor, epsilon: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """``clip(x + delta, 0, 1)`` with ``delta ~ N(0, epsilon^2)`` i.i.d. per pixel (CPU draw)."""
    if not isinstance(epsilon, (int, float)) or isinstance(epsilon, bool) or not math.isfinite(epsilon) or epsilon < 0:
        raise ValueError(f"epsilon must be a finite number >= 0, but found {epsilon!r}")
    delta = torch.randn(x.shape, generator=generator, dtype=torch.float32)
    return (x.float() + float(epsilon) * delta.to(x.device)).clamp(0.0, 1.0)


def attribution_stability(model: nn.Module, x: torch.Tensor, *, method: str = "ig",
                          n_perturbations: int = 5, epsilon: float = 0.01, topk: int | float = 0.1,
                          target: Any = None, attributions: torch.Tensor | None = None,
                          seed: int = 0, log_floor: float = 1e-12, **attr_kwargs) -> pd.DataFrame:
    """How much attributions move under small random input perturbations.

    For image ``i`` and perturbation ``p`` the target is held at the class predicted on
    the clean image (on the same noise path), and the attributions of ``x_i`` and
    ``perturb(x_i)`` are compared.

    Args:
        model: classifier returning logits.
        x: clean images ``(N, C, H, W)`` in [0, 1].
        method: a name of :data:`METHODS`.
        n_perturbations: perturbations per image, >= 1.
        epsilon: standard deviation of the Gaussian perturbation.
        topk: ``k`` of :func:`topk_intersection` (int or fraction of features).
        target: class indices ``(N,)``; default: the model's predictions on ``x`` with the
            noise setting of ``attr_kwargs`` (``noise="on"``, ``noise_seed=0`` by default).
        attributions: precomputed clean attributions (same method and keywords), to save
            one pass.
        seed: seed of the perturbations.
        log_floor: ``log_change = log(max(change, log_floor))``; identical maps get the
            minimum ``log(log_floor)`` instead of ``-inf``.
        **attr_kwargs: passed to :func:`attribute` (``n_steps``, ``noise``, ``noise_seed``, ...).

    Returns:
        DataFrame, one row per (image, perturbation): ``image, perturbation, change``
        (L1 distance of normalised maps, in [0, 2]), ``log_change``, ``topk``, ``spearman``.
    """
    x = check_input(x, model)
    n_perturbations = positive_int("n_perturbations", n_perturbations)
    if target is None:
        with explaining(model, attr_kwargs.get("noise", "on"), attr_kwargs.get("noise_seed", 0)), torch.no_grad():
            target = model(x.to(model_device(model))).argmax(1).cpu()
    if attributions is None:
        attributions = attribute(model, x, target, method, seed=seed, **attr_kwargs)
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for p in range(n_perturbations):
        xp = perturb(x, epsilon, gen)
        ap = attribute(model, xp, target, method, seed=seed + 1 + p, **attr_kwargs)
        change = attribution_change(attributions, ap)
        rows.append(pd.DataFrame({
            "image": np.arange(len(x)), "perturbation": p,
            "change": change.numpy(),
            "log_change": np.log(np.maximum(change.double().numpy(), log_floor)),
            "topk": topk_intersection(attributions, ap, topk).numpy(),
            "spearman": spearman_rank(attributions, ap).numpy(),
        }))
    return pd.concat(rows, ignore_index=True)


_VERSION = 3  # bump when attributions or stability change what they compute


def cached_attributions(trained, x: torch.Tensor, target, methods: Sequence[str] = METHODS, **kwargs) -> dict:
    """:func:`attribute` of ``trained.model`` for each method, cached (model key, images,
    targets and keyword arguments).

    Returns:
        ``{method: attributions (N, C, H, W)}``.
    """
    target = torch.as_tensor(target)
    return cached_call("explanations", attribute, lambda: {m: attribute(trained.model, x, target, m, **kwargs)
                                                           for m in methods},
                       model=trained, tensors=(x, target),
                       arguments={**kwargs, "method": list(methods)}, version=_VERSION)


def cached_stability(trained, x: torch.Tensor, **kwargs) -> pd.DataFrame:
    """:func:`attribution_stability` of ``trained.model``, cached (model key, images, arguments)."""
    return cached_call("explanations", attribution_stability, lambda: attribution_stability(trained.model, x, **kwargs),
                       model=trained, tensors=(x,), arguments=kwargs,
                       passes_to=(attribute,), version=_VERSION)


def stability_summary(tables: Mapping[str, pd.DataFrame], *, level: float = 0.95, n_boot: int = 2000,
                      seed: int = 0) -> pd.DataFrame:
    """Mean of each stability measure per model with a bootstrap interval over images.

    Perturbations of one image are averaged first, so the bootstrap resamples images
    (the independent units).

    Returns:
        DataFrame indexed by model name with, per measure, ``<measure>`` (the formatted
        ``mean [low, high]``) columns and the raw means in ``<measure>_mean``.
    """
    out = {}
    for name, df in tables.items():
        per_image = df.groupby("image")[["log_change", "topk", "spearman"]].mean()
        row = {}
        for col in ["log_change", "topk", "spearman"]:
            vals = per_image[col].dropna().to_numpy()
            if vals.size == 0:
                row[col], row[f"{col}_mean"] = "n/a", float("nan")
                continue
            iv = bootstrap_interval(vals, level=level, n_boot=n_boot, seed=seed)
            row[col] = f"{iv.estimate:.3f} [{iv.low:.3f}, {iv.high:.3f}]"
            row[f"{col}_mean"] = iv.estimate
        row["images"] = len(per_image)
        out[name] = row
    return pd.DataFrame.from_dict(out, orient="index")


# --------------------------------------------------------------------------- plots


