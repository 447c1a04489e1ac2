"""ABC, attribution-based confidence (Jha et al., NeurIPS 2019), and tests of its reliability.

Brogan et al. (arXiv 2409.01532, Table 4) score predictions with ABC and report a higher
mean ABC on correct than on incorrect predictions; whether ABC actually tracks
reliability is a question of ours, not one the paper raises. This module implements ABC as published
and the standard ways to judge a confidence signal.

**ABC** (:func:`abc_confidence`). For image ``x`` with predicted (or given) class ``i``,
Integrated Gradients ``A`` (zero baseline ``b``) give a sampling law over features::

    P(x_j) = w_j / sum_k w_k,   w_j = |A_j| / max(|x_j - b_j|, floor)

(``|A_j / x_j|`` of the paper, with ``x_j - b_j`` so that any baseline works; with IG this
is the absolute path-averaged gradient). The ``floor`` (default 1e-3 on [0, 1] images)
keeps near-zero pixels from dividing by ~0; a pixel with ``x_j == b_j`` has ``A_j == 0``
and gets probability 0, which loses nothing since mutating it changes nothing. A map with
``sum w == 0`` (e.g. a constant classifier) falls back to the uniform law. ``S`` samples
are drawn by mutating features to their baseline value, and ABC is the fraction of
samples on which the prediction is still ``i``. Two open points of the paper are
parameters:

* ``mask_law="bernoulli"``: each feature independently with probability
  ``min(1, m * P_j)`` (the published algorithm is ``m = 1``: with ``sum P = 1`` it
  changes about one feature per sample); ``mask_law="categorical"``: exactly ``m`` distinct
  features per sample, drawn from ``P`` without replacement (a successive-draw law).
* ``n_features = m``: an int, or a float in (0, 1] read as a fraction of the features.

A Neural SDE is evaluated with ``noise="on"`` on the same fixed noise path
(``noise_seed``) for the prediction, the attributions and every mutated sample, so ABC
measures that one deterministic function (see :func:`nsde.measures.attribution.explaining`).

**Reliability**: :func:`auroc` (Mann-Whitney rank formula on ``scipy.stats.rankdata``
ranks, ties averaged)
of a score for separating correct from incorrect predictions, :func:`auroc_interval`
(bootstrap), :func:`risk_coverage` curves and their area :func:`aurc` (selective
classification, Geifman and El-Yaniv 2017), compared with the maximum softmax
probability (Hendrycks and Gimpel 2017) as the standard baseline signal.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from nsde._infra.cache import cached_call
from nsde._infra.checks import check_choice, positive_int
from nsde._infra.runtime import model_device, progress
from nsde.measures.attribution import attribute, check_input, check_target, explaining, feature_count
from nsde.measures.reliability import check_scores
from nsde.stats.intervals import N_BOOT, Interval, bootstrap_interval

#: Version of what ABC computes; part of its cache key.
_VERSION = 3

__all__ = ["MASK_LAWS", "sampling_probabilities", "n_mutated", "sample_masks", "abc_confidence", "evaluate_abc",
           "cached_abc", "abc_summary", "abc_by_outcome"]

#: Laws of the masks of features to mutate.
MASK_LAWS = ("bernoulli", "categorical")


# --------------------------------------------------------------------------- ABC
def sampling_probabilities(attributions: torch.Tensor, x: torch.Tensor, baseline: float | torch.Tensor = 0.0,
                           floor: float = 1e-3) -> torch.Tensor:
    """The ABC sampling law ``P_j ∝ |A_j| / max(|x_j - b_j|, floor)`` per image.

    Args:
        attributions: ``(N, C, H, W)`` (IG of the predicted class).
        x: the images, same shape.
        baseline: the IG baseline (scalar or broadcastable tensor).
        floor: > 0, lower bound of the denominator.

    Returns:
        ``(N, D)`` float64, rows summing to 1 (uniform where all weights are 0).
    """
    if attributions.shape != x.shape:
        raise ValueError(f"attributions {tuple(attributions.shape)} and x {tuple(x.shape)} differ in shape")
    if not isinstance(floor, (int, float)) or isinstance(floor, bool) or not floor > 0:
        raise ValueError(f"floor must be a number > 0, got {floor!r}")
    n = len(x)
    diff = (x.double() - torch.as_tensor(baseline, dtype=torch.float64)).abs().reshape(n, -1)
    w = attributions.double().abs().reshape(n, -1) / diff.clamp_min(float(floor))
    s = w.sum(1, keepdim=True)
    uniform = torch.full_like(w, 1.0 / w.shape[1])
    return torch.where(s > 0, w / s.clamp_min(1e-300), uniform)


def n_mutated(n_features: int | float, d: int) -> int:
    """``m`` as an int: ``n_features`` itself, or ``round(n_features * d)`` for a fraction."""
    return feature_count("n_features", n_features, d)


def sample_masks(p: torch.Tensor, n_mutations: int, *, mask_law: str = "bernoulli", n_features: int | float = 1,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Boolean masks of features to mutate, ``(N, S, D)``.

    Args:
        p: sampling law ``(N, D)``, rows summing to 1.
        n_mutations: ``S >= 1``.
        mask_law: ``"bernoulli"`` (independent, ``min(1, m P_j)``) or ``"categorical"``
            (``m`` distinct features per sample, without replacement).
        n_features: ``m`` (int, or fraction of ``D``).
        generator: CPU generator of the draws.
    """
    check_choice("mask_law", mask_law, MASK_LAWS)
    n_mutations = positive_int("n_mutations", n_mutations)
    n, d = p.shape
    m = n_mutated(n_features, d)
    if mask_law == "bernoulli":
        q = (m * p).clamp(max=1.0).float()
        return torch.rand((n, n_mutations, d), generator=generator) < q[:, None, :]
    # Zero-probability features are drawn only when the positive ones run out (tiny mass).
    w = (p + 1e-12 / d).float()
    idx = torch.multinomial(w.repeat_interleave(n_mutations, 0), m, replacement=False, generator=generator)
    mask = torch.zeros((n * n_mutations, d), dtype=torch.bool).scatter_(1, idx, True)
    return mask.reshape(n, n_mutations, d)


@torch.no_grad()
def abc_confidence(model: nn.Module, x: torch.Tensor, *, target: Any = None,
                   attributions: torch.Tensor | None = None, n_mutations: int = 50,
                   mask_law: str = "bernoulli", n_features: int | float = 1, floor: float = 1e-3,
                   baseline: float = 0.0, noise: str = "on", noise_seed: int = 0, n_steps: int = 50,
                   internal_batch_size: int | None = 64, batch_size: int = 256, seed: int = 0,
                   show_progress: bool = False) -> torch.Tensor:
    """Attribution-based confidence of each prediction (Jha et al. 2019).

    Args:
        model: classifier returning logits.
        x: images ``(N, C, H, W)`` in [0, 1].
        target: the labels whose stability is scored; default: the model's predictions.
        attributions: IG attributions of ``target`` (zero baseline); computed when None.
        n_mutations: S >= 1 mutated samples per image.
        mask_law, n_features: how features are drawn (see the module docstring).
        floor: denominator floor of :func:`sampling_probabilities`.
        baseline: value mutated features take (the IG baseline, 0).
        noise, noise_seed: ``"on"`` with the fixed noise path ``noise_seed`` of an NSDE, or
            ``"off"`` (drift path).
        n_steps, internal_batch_size: IG settings when ``attributions`` is None.
        batch_size: mutated images per forward.
        seed: seed of the feature draws.
        show_progress: progress bar over image chunks.

    Returns:
        ``(N,)`` float32 in [0, 1]: fraction of samples whose prediction equals ``target``.
    """
    x = check_input(x, model)
    n_mutations = positive_int("n_mutations", n_mutations)
    batch_size = positive_int("batch_size", batch_size)
    check_choice("mask_law", mask_law, MASK_LAWS)
    n_mutated(n_features, x[0].numel())  # validate early
    device = model_device(model)
    with explaining(model, noise, noise_seed):
        logits = model(x.to(device))
        if target is None:
            target = logits.argmax(1).cpu()
        target = check_target(target, len(x), int(logits.shape[-1]))
    if attributions is None:
        with torch.enable_grad():
            attributions = attribute(model, x, target, "ig", n_steps=n_steps,
                                     internal_batch_size=internal_batch_size, noise=noise, noise_seed=noise_seed)
    elif attributions.shape != x.shape:
        raise ValueError(f"attributions must have the shape of x {tuple(x.shape)}, but found "
                         f"{tuple(attributions.shape)}")
    p = sampling_probabilities(attributions, x, baseline, floor)
    gen = torch.Generator().manual_seed(seed)
    per_chunk = max(1, batch_size // n_mutations)
    flat = x.reshape(len(x), -1)
    out = torch.empty(len(x), dtype=torch.float32)
    bar = {} if show_progress else {"disable": True}
    with explaining(model, noise, noise_seed):
        for i in progress(range(0, len(x), per_chunk), desc="ABC", **bar):
            xi, pi = flat[i:i + per_chunk], p[i:i + per_chunk]
            mask = sample_masks(pi, n_mutations, mask_law=mask_law, n_features=n_features, generator=gen)
            mutated = torch.where(mask, torch.as_tensor(baseline, dtype=xi.dtype), xi[:, None, :])
            mutated = mutated.reshape(-1, *x.shape[1:])
            preds = torch.cat([model(mutated[j:j + batch_size].to(device)).argmax(1).cpu()
                               for j in range(0, len(mutated), batch_size)]).reshape(len(xi), n_mutations)
            out[i:i + per_chunk] = (preds == target[i:i + per_chunk, None]).float().mean(1)
    return out


def evaluate_abc(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, n_mutations: int = 50,
                 mask_law: str = "categorical", n_features: int | float = 0.25, floor: float = 1e-3,
                 noise: str = "on", noise_seed: int = 0, n_steps: int = 50, internal_batch_size: int | None = 64,
                 batch_size: int = 256, seed: int = 0, show_progress: bool = False) -> dict[str, Any]:
    """Predict, attribute (IG of the predicted class) and score ABC on one noise path.

    Args:
        model: classifier; ``x`` images ``(N, C, H, W)`` and ``y`` true labels ``(N,)``.
        Other arguments: as in :func:`abc_confidence`.

    Returns:
        dict of CPU tensors: ``probs`` ``(N, C)`` softmax, ``pred`` ``(N,)``, ``correct``
        ``(N,)`` bool, ``msp`` ``(N,)`` maximum softmax probability, ``attributions``
        ``(N, C, H, W)``, ``abc`` ``(N,)``.
    """
    x = check_input(x, model)
    y = check_target(y, len(x), getattr(model, "num_classes", None) or int(1e9))
    device = model_device(model)
    with explaining(model, noise, noise_seed), torch.no_grad():
        probs = torch.cat([torch.softmax(model(x[i:i + batch_size].to(device)).float(), -1).cpu()
                           for i in range(0, len(x), batch_size)])
    pred = probs.argmax(1)
    attributions = attribute(model, x, pred, "ig", n_steps=n_steps, internal_batch_size=internal_batch_size,
                             noise=noise, noise_seed=noise_seed, show_progress=show_progress)
    abc = abc_confidence(model, x, target=pred, attributions=attributions, n_mutations=n_mutations, mask_law=mask_law,
                         n_features=n_features, floor=floor, noise=noise, noise_seed=noise_seed,
                         batch_size=batch_size, seed=seed, show_progress=show_progress)
    return {"probs": probs, "pred": pred, "correct": pred == y.cpu(), "msp": probs.max(1).values,
            "attributions": attributions, "abc": abc}


def cached_abc(trained, x: torch.Tensor, y: torch.Tensor, **kwargs) -> dict[str, Any]:
    """:func:`evaluate_abc` of ``trained.model``, cached under the model's key, a hash of
    ``(x, y)`` and the keyword arguments."""
    return cached_call("explanations", evaluate_abc, lambda: evaluate_abc(trained.model, x, y, **kwargs),
                       model=trained, tensors=(x, torch.as_tensor(y)), arguments=kwargs,
                       version=_VERSION)




def abc_summary(abc, correct, *, level: float = 0.95, n_boot: int = N_BOOT, seed: int = 0) -> dict[str, Interval | None]:
    """Mean ABC of correct and of incorrect predictions with bootstrap intervals (Table 4).

    Returns:
        ``{"correct": Interval | None, "incorrect": Interval | None}`` (None: no such prediction).
    """
    s, c = check_scores(abc, correct)
    out: dict[str, Interval | None] = {}
    for name, sel in (("correct", c), ("incorrect", ~c)):
        out[name] = bootstrap_interval(s[sel], level=level, n_boot=n_boot, seed=seed) if sel.any() else None
    return out


def abc_by_outcome(abc, correct) -> pd.DataFrame:
    """Mean ABC on the correct and on the incorrect predictions, per training seed (Table 4).

    Args:
        abc: one array of per-image ABC per seed (or a single array for one seed).
        correct: the matching per-image correctness (bool) of each seed's predictions.

    Returns:
        One row per seed: ``correct, incorrect`` (mean ABC, NaN where a seed has no such
        prediction), ``contrast`` (correct minus incorrect), ``n correct, n incorrect``.
    """
    abc = [abc] if np.ndim(abc[0]) == 0 else list(abc)
    correct = [correct] if np.ndim(correct[0]) == 0 else list(correct)
    if len(abc) != len(correct):
        raise ValueError(f"one correctness array per ABC array: {len(abc)} and {len(correct)}")
    rows = []
    for a, c in zip(abc, correct):
        s, c = check_scores(a, c)
        right = float(s[c].mean()) if c.any() else float("nan")
        wrong = float(s[~c].mean()) if (~c).any() else float("nan")
        rows.append({"correct": right, "incorrect": wrong, "contrast": right - wrong, "n correct": int(c.sum()),
                     "n incorrect": int((~c).sum())})
    return pd.DataFrame(rows)
