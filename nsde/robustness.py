"""Robustness of spectrogram classifiers: random noise (Table 2) and APGD-CE (Table 3).

Reproduces the two robustness experiments of Brogan et al., "Improving Robustness of
Spectrogram Classifiers with Neural Stochastic Differential Equations" (arXiv 2409.01532),
and adds what a randomised model needs for an honest evaluation:

* **Random noise** (:func:`noise_accuracy`): accuracy when additive noise of standard
  deviation ``intensity`` (on spectrograms scaled to [0, 1]) is added to every test image.
  The noise is white Gaussian (the paper's) or shaped by :func:`nsde.noise.make_shaper`
  (Brownian sheet, 1/f ...; every shape has unit mean power, so ``intensity`` means the
  same noise power for every shape). The noisy image is clipped back to [0, 1]; the SNR
  reported is measured on the perturbation actually delivered (after clipping).
* **APGD-CE** (:func:`attack_table`): AutoAttack's own APGD-CE (Croce and Hein 2020,
  package ``pyautoattack``) under L2 budgets. On the Neural SDE it runs either
  *non-adaptively* (one noise draw per gradient, what the paper did) or *adaptively*
  with Expectation over Transformation (EOT, Athalye et al. 2018): the gradient of each
  step is the mean of ``eot_iter`` per-draw gradients (:func:`eot_gradient` is the same
  estimator, exposed for tests). ``attack="autoattack-rand"`` runs AutoAttack's
  ``version='rand'`` protocol (APGD-CE then APGD-DLR, both with EOT).
* **Gradient-masking checks** (:func:`masking_checks`): accuracy non-increasing in the
  budget, zero at a large budget, not raised by more iterations or restarts
  (:func:`iteration_check`), and no better white-box than a transfer attack from the
  baseline (:func:`transfer_table`).

Randomness is handled deliberately. Attack code calls ``model.eval()``, which would turn
a ``"train"``-mode noise off, so attacks run inside ``noise_mode(model, "on")`` (which
survives ``eval()``); APGD reseeds the global torch RNG, which does not touch the NSDE
noise (it draws from a private generator) and which :func:`apgd_attack` restores for the
caller afterwards (``torch.random.fork_rng``). Robust accuracy of a randomised model is
scored on the returned images with the noise on and a ``score_samples``-pass ensemble.
"""
from __future__ import annotations

import contextlib
import math
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from .cache import cached
from .cache import tensor_hash as _tensor_hash
from .runtime import progress
from .stats import bootstrap_interval, wilson_interval

__all__ = [
    "PAPER_INTENSITIES",
    "PAPER_EPS",
    "ATTACKS",
    "sample_noise",
    "add_noise",
    "snr_db",
    "noise_accuracy",
    "eps_per_pixel",
    "eot_gradient",
    "apgd_attack",
    "autoattack_rand",
    "score",
    "run_attack",
    "attack_table",
    "transfer_table",
    "iteration_check",
    "masking_checks",
    "eval_subset",
    "format_tables",
    "compare_tables",
    "plot_noise_curves",
    "plot_attack_curves",
]

#: The paper's Table 2 noise intensities (standard deviation on [0, 1] spectrograms).
PAPER_INTENSITIES = (0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 0.75, 1.0)
#: The paper's Table 3 L2 budgets.
PAPER_EPS = (0.05, 0.1, 0.15, 0.2)
#: Attacks :func:`run_attack` knows.
ATTACKS = ("apgd-ce", "autoattack-rand")
_MODES = ("off", "on", "train")
# bump to invalidate cached results after a change of method
_NOISE_VERSION = 2  # 2: per-image correctness kept for paired comparisons
_ATTACK_VERSION = 2


# --------------------------------------------------------------------------- helpers
def _unwrap(trained: Any, key: str | None) -> tuple[nn.Module, str | None]:
    """The ``nn.Module`` and cache key of a ``TrainedModel`` or of a plain module."""
    if isinstance(trained, nn.Module):
        return trained, key
    model = getattr(trained, "model", None)
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a TrainedModel or an nn.Module, got {type(trained).__name__}")
    return model, key if key is not None else getattr(trained, "key", None)


def _check_xy(x: torch.Tensor, y: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError(f"x must be a (N, C, H, W) tensor, got {getattr(x, 'shape', type(x))}")
    if not isinstance(y, torch.Tensor) or y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"y must be a (N,) tensor matching x, got {getattr(y, 'shape', type(y))}")
    if len(x) == 0:
        raise ValueError("x is empty")


def _check_mode(mode: str) -> None:
    if mode not in _MODES:
        raise ValueError(f"noise mode must be one of {_MODES}, got {mode!r}")


def _noise_context(model: nn.Module, mode: str, seed: int | None = None, samples: int = 1):
    """``nsde.models.noise_mode`` for models that have noise; a no-op for those that don't."""
    _check_mode(mode)
    if not hasattr(model, "set_noise"):
        return contextlib.nullcontext()
    try:
        from .models import noise_mode
    except ImportError:  # nsde.models absent: drive set_noise directly
        return _set_noise_context(model, mode, seed, samples)
    return noise_mode(model, mode, seed=seed, samples=samples)


@contextlib.contextmanager
def _set_noise_context(model: nn.Module, mode: str, seed: int | None, samples: int):
    previous = model.get_noise() if hasattr(model, "get_noise") else None
    model.set_noise(mode, seed=seed, samples=samples)
    try:
        yield model
    finally:
        if previous is not None:
            model.set_noise(*previous)
        else:
            model.set_noise("train")


def _reseed_noise(model: nn.Module, seed: int) -> None:
    """Restart a randomised model's private noise generator, so results repeat per seed."""
    if hasattr(model, "reseed_noise"):
        model.reseed_noise(seed)


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def _predict_labels(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Argmax predictions ``(N,)`` int64 on the CPU under the model's current noise mode."""
    device = _device_of(model)
    was_training = model.training
    model.eval()
    out = [model(x[i:i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(x), batch_size)]
    model.train(was_training)
    return torch.cat(out)


# --------------------------------------------------------------------------- noise
def _shaper(shape: str):
    """The callable that shapes white noise ``(..., H, W)`` into ``shape`` noise."""
    if not isinstance(shape, str):
        raise TypeError(f"noise shape must be a string, got {type(shape).__name__}")
    try:
        from . import noise as noise_mod
    except ImportError:  # the noise module is optional for white noise
        noise_mod = None
    if noise_mod is None:
        if shape == "white":
            return lambda z: z
        raise ValueError(f"unknown noise shape {shape!r}: nsde.noise is unavailable, only 'white' works")
    if shape not in noise_mod.SHAPES:
        raise ValueError(f"unknown noise shape {shape!r}; known: {list(noise_mod.SHAPES)}")
    return noise_mod.make_shaper(shape)


def _check_intensity(intensity: float) -> float:
    if not isinstance(intensity, (int, float)) or isinstance(intensity, bool) or not math.isfinite(intensity):
        raise ValueError(f"noise intensity must be a finite number, got {intensity!r}")
    if intensity < 0:
        raise ValueError(f"noise intensity must be >= 0, got {intensity}")
    return float(intensity)


def sample_noise(size: Sequence[int], intensity: float, shape: str = "white",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Additive noise of standard deviation ``intensity`` (before any clipping).

    Args:
        size: the image batch shape ``(N, C, H, W)``.
        intensity: noise standard deviation, >= 0 (the mean power is ``intensity**2``).
        shape: a name in ``nsde.noise.SHAPES`` ("white" is plain i.i.d. Gaussian).
        generator: the CPU generator of the draw (seeded by the caller).

    Returns:
        float32 tensor of ``size`` on the CPU.
    """
    intensity = _check_intensity(intensity)
    shaper = _shaper(shape)
    z = torch.randn(tuple(size), generator=generator, dtype=torch.float32)
    return intensity * shaper(z)


def add_noise(x: torch.Tensor, intensity: float, shape: str = "white",
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Add noise to ``x`` (values in [0, 1]) and clip back to [0, 1].

    Returns:
        ``(noisy, delivered)``: the clipped noisy images and the perturbation actually
        applied (``noisy - x``), both shaped like ``x``.
    """
    noise = sample_noise(x.shape, intensity, shape, generator).to(x.device, x.dtype)
    noisy = (x + noise).clamp(0.0, 1.0)
    return noisy, noisy - x


def snr_db(signal: torch.Tensor, perturbation: torch.Tensor) -> float:
    """``10 log10(mean(signal^2) / mean(perturbation^2))`` in dB (``inf`` for no noise)."""
    p_s = float(signal.double().pow(2).mean())
    p_n = float(perturbation.double().pow(2).mean())
    if p_n == 0.0:
        return math.inf
    return 10.0 * math.log10(p_s / p_n)


def noise_accuracy(trained: Any, x: torch.Tensor, y: torch.Tensor, intensities: Iterable[float],
                   shape: str = "white", mode: str = "off", samples: int = 1, seed: int = 0, *,
                   key: str | None = None, batch_size: int = 256, refresh: bool = False) -> pd.DataFrame:
    """Accuracy under additive random noise, one row per intensity (Table 2).

    The same noise draw (seeded by ``seed`` and the intensity's position) is used for
    every model, so models are compared on identical noisy images. Noisy images are
    clipped to [0, 1]. The model runs in ``eval()`` under noise mode ``mode``
    (``"off"``: drift only; ``"on"`` with ``samples=K``: mean softmax of K noisy passes).

    Args:
        trained: a ``TrainedModel`` (its ``.key`` keys the cache) or an ``nn.Module``.
        x: images ``(N, C, H, W)`` float32 in [0, 1].
        y: labels ``(N,)`` int64.
        intensities: noise standard deviations, each >= 0.
        shape: noise shape, a name in ``nsde.noise.SHAPES``.
        mode: the model's noise mode during evaluation ("off", "on" or "train").
        samples: noisy passes averaged per prediction when ``mode="on"``.
        seed: seed of the input noise.
        key: cache key of a plain module (cached only when a key is known).
        batch_size: images per forward pass.
        refresh: recompute even when cached.

    Returns:
        DataFrame with columns ``intensity, accuracy, low, high, snr_db`` (accuracy in
        [0, 1] with its 95% Wilson interval; ``snr_db`` measured after clipping), and
        ``n`` (images evaluated). ``df.attrs["correct"]`` maps each intensity to the
        per-image correctness, a tuple of ``N`` bools, for paired comparisons
        (:func:`compare_tables` with ``paired=True``).
    """
    model, key = _unwrap(trained, key)
    _check_xy(x, y)
    intensities = [_check_intensity(i) for i in intensities]
    if not intensities:
        raise ValueError("intensities is empty")
    _shaper(shape)  # validates the name before any work
    _check_mode(mode)
    if not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a positive int, got {samples!r}")

    def compute() -> dict:
        rows, per_image = [], []
        _reseed_noise(model, seed)
        with _noise_context(model, mode, seed=None, samples=samples):
            for i, intensity in enumerate(progress(intensities, desc=f"noise {shape}/{mode}")):
                gen = torch.Generator().manual_seed(seed * 1_000_003 + i)
                noisy, delivered = add_noise(x, intensity, shape, gen)
                pred = _predict_labels(model, noisy, batch_size)
                hits = (pred == y.cpu()).numpy()
                iv = wilson_interval(int(hits.sum()), len(y))
                rows.append(dict(intensity=intensity, accuracy=iv.estimate, low=iv.low, high=iv.high,
                                 snr_db=snr_db(x, delivered), n=len(y)))
                per_image.append(hits)
        return {"rows": rows, "correct": per_image}

    if key is None:
        out = compute()
    else:
        config = dict(fn="noise_accuracy", v=_NOISE_VERSION, model=key, data=_tensor_hash(x, y),
                      intensities=intensities, shape=shape, mode=mode, samples=samples, seed=seed)
        out = cached("robustness", config, compute, name="noise_accuracy.pt", refresh=refresh)
    df = pd.DataFrame(out["rows"], columns=["intensity", "accuracy", "low", "high", "snr_db", "n"])
    # tuples, not arrays: pandas compares attrs when it merges or concatenates tables
    df.attrs["correct"] = {i: tuple(np.asarray(c, dtype=bool).tolist()) for i, c in zip(intensities, out["correct"])}
    return df


# --------------------------------------------------------------------------- attacks
def eps_per_pixel(eps: float | np.ndarray, image_shape: Sequence[int]) -> float | np.ndarray:
    """An L2 budget per sqrt(number of input values): the RMS change per pixel.

    ``eps / sqrt(C*H*W)``; the same ``eps`` is a 3.5 times larger RMS change at 64x64 than
    at 224x224.
    """
    return eps / math.sqrt(math.prod(image_shape))


def _check_eps(eps: Iterable[float]) -> list[float]:
    eps = [float(e) for e in eps]
    if not eps:
        raise ValueError("epsilon list is empty")
    if any(not math.isfinite(e) or e <= 0 for e in eps):
        raise ValueError(f"every epsilon must be a positive finite number, got {eps}")
    if any(b <= a for a, b in zip(eps, eps[1:])):
        raise ValueError(f"epsilon list must be strictly increasing, got {eps}")
    return eps


def eot_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor, draws: int) -> torch.Tensor:
    """Expectation-over-Transformation gradient of the summed cross-entropy w.r.t. ``x``.

    The mean of ``draws`` per-draw gradients, each from one forward pass (one noise draw
    of a randomised model), exactly the estimator APGD uses with ``eot_iter=draws``.

    Args:
        model: the classifier, in the noise mode the caller chose.
        x: inputs ``(N, C, H, W)``.
        y: labels ``(N,)``.
        draws: number of forward/backward passes averaged, >= 1.

    Returns:
        Gradient tensor shaped like ``x``.
    """
    if not isinstance(draws, int) or draws < 1:
        raise ValueError(f"draws must be a positive int, got {draws!r}")
    x = x.detach().clone().requires_grad_(True)
    grad = torch.zeros_like(x)
    for _ in range(draws):
        with torch.enable_grad():
            loss = F.cross_entropy(model(x), y, reduction="sum")
        grad += torch.autograd.grad(loss, [x])[0].detach()
    return grad / draws


def apgd_attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *, n_iter: int = 100,
                eot_iter: int = 1, n_restarts: int = 1, seed: int = 0, mode: str = "on",
                loss: str = "ce", batch_size: int = 256) -> torch.Tensor:
    """AutoAttack's APGD (L2, untargeted) on ``model``; returns the attacked images.

    The attack runs with the model's noise in ``mode`` ("on": one fresh draw per forward,
    so ``eot_iter=1`` is the paper's non-adaptive attack and ``eot_iter>1`` the adaptive
    EOT attack). The global RNG state the attack reseeds is restored on exit. On a
    deterministic model this is ``APGDAttack.perturb`` (images it cannot fool come back
    unchanged); on a randomised model every image is attacked (see
    :func:`_attack_every_image`), since one noisy pass is no basis for skipping an image.

    Args:
        model: classifier returning logits ``(N, classes)``.
        x: images ``(N, C, H, W)`` in [0, 1]; y: labels ``(N,)``.
        eps: L2 budget (> 0).
        n_iter: APGD iterations; eot_iter: noise draws per gradient; n_restarts: restarts.
        seed: APGD's seed (random start).
        mode: the model's noise mode during the attack.
        loss: "ce" (APGD-CE) or "dlr".
        batch_size: images attacked together.

    Returns:
        float32 tensor shaped like ``x`` on the CPU, within ``eps`` of ``x`` in L2.
    """
    from pyautoattack.autopgd_base import APGDAttack

    _check_xy(x, y)
    eps = _check_eps([eps])[0]
    for name, v in dict(n_iter=n_iter, eot_iter=eot_iter, n_restarts=n_restarts).items():
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    device = _device_of(model)
    was_training = model.training
    out = []
    devices = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), _noise_context(model, mode, seed=None, samples=1):
        model.eval()
        attack = APGDAttack(model, n_iter=n_iter, norm="L2", n_restarts=n_restarts, eps=eps, seed=seed,
                            loss=loss, eot_iter=eot_iter, device=device)
        randomised = mode != "off" and _is_randomised(model)
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
            if randomised:
                out.append(_attack_every_image(attack, xb, yb, n_restarts, seed).detach().cpu())
            else:
                out.append(attack.perturb(xb, yb).detach().cpu())
    model.train(was_training)
    return torch.cat(out)


def _is_randomised(model: nn.Module) -> bool:
    """Whether ``model`` injects noise when its noise is on (an NSDE with sigma > 0)."""
    if not hasattr(model, "set_noise"):
        return False
    if hasattr(model, "kind"):  # nsde.models.NoisyClassifier
        return getattr(model, "kind") == "nsde" and getattr(getattr(model, "_noise", None), "sigma", 1.0) > 0
    return True


def _attack_every_image(attack, x: torch.Tensor, y: torch.Tensor, n_restarts: int, seed: int) -> torch.Tensor:
    """APGD on every image of a randomised model, bypassing ``perturb``'s clean-accuracy filter.

    ``APGDAttack.perturb`` attacks only the images that one forward pass classifies
    correctly and returns the others unchanged; for a random model that single noisy pass
    would leave images unattacked that the ensemble classifies correctly. Here every image
    runs AutoAttack's ``attack_single_run``; an image keeps the last iterate that some noise
    draw misclassified (``x_best_adv``) or, if none did, the highest-loss iterate
    (``x_best``). Restarts re-attack the images no draw has misclassified yet.
    """
    attack.init_hyperparam(x)
    torch.random.manual_seed(seed)  # as perturb does: a seeded random start
    adv = x.clone()
    fooled = torch.zeros(len(x), dtype=torch.bool, device=x.device)
    for _ in range(n_restarts):
        todo = (~fooled).nonzero().flatten()
        if todo.numel() == 0:
            break
        best, acc, _, best_adv = attack.attack_single_run(x[todo], y[todo])
        hit = acc == 0
        adv[todo] = torch.where(hit.view(-1, *[1] * (x.ndim - 1)), best_adv, best)
        fooled[todo] = hit
    return adv


def autoattack_rand(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *, n_iter: int = 100,
                    eot_iter: int = 20, seed: int = 0, batch_size: int = 256) -> torch.Tensor:
    """AutoAttack ``version='rand'`` (APGD-CE then APGD-DLR, with EOT) under an L2 budget.

    AutoAttack's own ``AutoAttack`` object runs the protocol; its two APGD attacks are
    rebuilt with ``n_iter`` iterations and ``eot_iter`` draws per gradient (the protocol's
    defaults are 100 and 20). Noise is on (one draw per forward) during the attack.

    Returns:
        The attacked images ``(N, C, H, W)`` float32 on the CPU.
    """
    import logging

    from pyautoattack import AutoAttack
    from pyautoattack.autopgd_base import APGDAttack

    _check_xy(x, y)
    eps = _check_eps([eps])[0]
    device = _device_of(model)
    was_training = model.training
    devices = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    logging.getLogger("auto-attack").setLevel(logging.ERROR)
    with torch.random.fork_rng(devices=devices), _noise_context(model, "on", seed=None, samples=1):
        model.eval()
        aa = AutoAttack(model, norm="L2", eps=eps, version="rand", seed=seed, device=device)
        aa.verbose = False
        aa.apgd = APGDAttack(model, n_iter=n_iter, norm="L2", n_restarts=1, eps=eps, seed=seed, loss="ce",
                             eot_iter=eot_iter, device=device, logger=aa.logger)
        x_adv, _ = aa.run_standard_evaluation(x.to(device), y.to(device), batch_size=batch_size)
    model.train(was_training)
    return x_adv.detach().cpu()


def score(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, mode: str = "off", samples: int = 1,
          batch_size: int = 256) -> torch.Tensor:
    """Per-image correctness ``(N,)`` bool of ``model`` on ``x`` under a noise mode.

    ``mode="on"`` with ``samples=K`` scores the K-pass ensemble (mean softmax).
    """
    _check_xy(x, y)
    with _noise_context(model, mode, seed=None, samples=samples):
        return _predict_labels(model, x, batch_size) == y.cpu()


def run_attack(trained: Any, x: torch.Tensor, y: torch.Tensor, eps_list: Iterable[float], *,
               attack: str = "apgd-ce", n_iter: int = 100, eot_iter: int = 1, n_restarts: int = 1,
               attack_mode: str = "on", score_mode: str = "on", score_samples: int = 1, seed: int = 0,
               key: str | None = None, refresh: bool = False) -> dict:
    """Attack at every budget of ``eps_list``; return the images and their scores (cached).

    Returns:
        ``{"eps": [...], "clean": bool (N,), "adv": {eps: float32 (N, C, H, W)},
        "correct": {eps: bool (N,)}}``: per-image correctness of the model on the clean and
        the attacked images, scored under ``score_mode`` with ``score_samples`` passes.
    """
    model, key = _unwrap(trained, key)
    _check_xy(x, y)
    eps_list = _check_eps(eps_list)
    if attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; known: {ATTACKS}")
    _check_mode(attack_mode)
    _check_mode(score_mode)

    def compute() -> dict:
        _reseed_noise(model, seed)
        res = {"eps": eps_list, "adv": {}, "correct": {},
               "clean": score(model, x, y, mode=score_mode, samples=score_samples)}
        for eps in progress(eps_list, desc=f"{attack} eot={eot_iter}"):
            if attack == "apgd-ce":
                adv = apgd_attack(model, x, y, eps, n_iter=n_iter, eot_iter=eot_iter, n_restarts=n_restarts,
                                  seed=seed, mode=attack_mode)
            else:
                adv = autoattack_rand(model, x, y, eps, n_iter=n_iter, eot_iter=eot_iter, seed=seed)
            res["adv"][eps] = adv
            res["correct"][eps] = score(model, adv, y, mode=score_mode, samples=score_samples)
        return res

    if key is None:
        return compute()
    config = dict(fn="run_attack", v=_ATTACK_VERSION, model=key, data=_tensor_hash(x, y), eps=eps_list, attack=attack,
                  n_iter=n_iter, eot_iter=eot_iter, n_restarts=n_restarts, attack_mode=attack_mode,
                  score_mode=score_mode, score_samples=score_samples, seed=seed)
    return cached("robustness", config, compute, name="attack.pt", refresh=refresh)


def _table_from_correct(eps_list: Sequence[float], correct: dict, image_shape: Sequence[int]) -> pd.DataFrame:
    rows = []
    for eps in eps_list:
        c = correct[eps]
        iv = wilson_interval(int(c.sum()), len(c))
        rows.append(dict(eps=eps, eps_per_pixel=eps_per_pixel(eps, image_shape), accuracy=iv.estimate,
                         low=iv.low, high=iv.high, n=len(c)))
    df = pd.DataFrame(rows, columns=["eps", "eps_per_pixel", "accuracy", "low", "high", "n"])
    df.attrs["correct"] = {eps: tuple(np.asarray(correct[eps], dtype=bool).tolist()) for eps in eps_list}
    return df


def attack_table(result: dict, x_shape: Sequence[int]) -> pd.DataFrame:
    """Robust accuracy per budget from a :func:`run_attack` result (Table 3 rows).

    Args:
        result: the dict :func:`run_attack` returns.
        x_shape: the shape of the attacked images ``(N, C, H, W)`` or ``(C, H, W)``.

    Returns:
        DataFrame ``eps, eps_per_pixel, accuracy, low, high, n`` (95% Wilson intervals);
        ``df.attrs["correct"]`` maps each budget to the per-image correctness (tuple of bools).
    """
    return _table_from_correct(result["eps"], result["correct"], tuple(x_shape)[-3:])


def transfer_table(source: dict, target: Any, y: torch.Tensor, *, score_mode: str = "on",
                   score_samples: int = 1, key: str | None = None) -> pd.DataFrame:
    """Accuracy of ``target`` on adversarial images crafted against another model.

    A transfer attack from the baseline is a gradient-free cross-check: if it fools the
    NSDE more often than the white-box attack does, the white-box gradients are masked.

    Args:
        source: a :func:`run_attack` result of the source model (its ``adv`` images).
        target: the model scored (``TrainedModel`` or ``nn.Module``).
        y: labels ``(N,)``.
        score_mode, score_samples: noise mode and passes of the target's scoring.
    """
    model, _ = _unwrap(target, key)
    correct = {eps: score(model, source["adv"][eps], y, mode=score_mode, samples=score_samples)
               for eps in source["eps"]}
    shape = next(iter(source["adv"].values())).shape[-3:]
    return _table_from_correct(source["eps"], correct, shape)


def iteration_check(trained: Any, x: torch.Tensor, y: torch.Tensor, eps: float, *,
                    settings: Sequence[tuple[int, int]], eot_iter: int = 1, score_samples: int = 1,
                    seed: int = 0, key: str | None = None) -> pd.DataFrame:
    """Robust accuracy at one budget for several ``(n_iter, n_restarts)`` settings.

    More iterations or restarts must not raise the accuracy of a sound evaluation.

    Returns:
        DataFrame ``n_iter, n_restarts, accuracy, low, high, n``.
    """
    rows = []
    for n_iter, n_restarts in settings:
        res = run_attack(trained, x, y, [eps], n_iter=n_iter, n_restarts=n_restarts, eot_iter=eot_iter,
                         score_samples=score_samples, seed=seed, key=key)
        c = res["correct"][float(eps)]
        iv = wilson_interval(int(c.sum()), len(c))
        rows.append(dict(n_iter=n_iter, n_restarts=n_restarts, accuracy=iv.estimate, low=iv.low, high=iv.high,
                         n=len(c)))
    return pd.DataFrame(rows)


def masking_checks(table: pd.DataFrame, *, transfer: pd.DataFrame | None = None,
                   iterations: pd.DataFrame | None = None, tolerance: float = 0.0,
                   large_eps: bool = True) -> pd.DataFrame:
    """The gradient-masking checks of Athalye et al. (2018) on one attack table.

    Args:
        table: an :func:`attack_table` result (budgets increasing).
        transfer: a :func:`transfer_table` on the same budgets (optional).
        iterations: an :func:`iteration_check` result, rows in increasing strength (optional).
        tolerance: accuracy rise (fraction) still counted as "not rising".
        large_eps: whether the table reaches budgets large enough that accuracy must be 0.
            ``False`` for an attack run only at small budgets: that check is then reported
            as not tested (``passed`` is ``None``) instead of failed.

    Returns:
        DataFrame ``check, value, passed``, one row per check.
    """
    acc = table["accuracy"].to_numpy()
    rise = float(np.max(np.diff(acc))) if len(acc) > 1 else 0.0
    rows = [
        dict(check="accuracy non-increasing in eps (largest rise)", value=rise, passed=rise <= tolerance),
        dict(check=f"accuracy at largest eps ({table['eps'].iloc[-1]:g})"
                   + ("" if large_eps else ": not tested, budgets too small to require 0"),
             value=float(acc[-1]), passed=(float(acc[-1]) == 0.0) if large_eps else None),
    ]
    if iterations is not None:
        it = iterations["accuracy"].to_numpy()
        r = float(np.max(it[1:] - it[0])) if len(it) > 1 else 0.0
        rows.append(dict(check="more iterations/restarts raise accuracy by", value=r, passed=r <= tolerance))
    if transfer is not None:
        gap = float(np.max(table["accuracy"].to_numpy() - transfer["accuracy"].to_numpy()))
        rows.append(dict(check="white-box minus transfer accuracy (largest)", value=gap, passed=gap <= tolerance))
    return pd.DataFrame(rows, columns=["check", "value", "passed"])


# --------------------------------------------------------------------------- tables
def eval_subset(x: torch.Tensor, y: torch.Tensor, n: int | None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random subset of ``n`` images (all when ``n`` is None or >= len(x)).

    The images come in the order of a seeded random permutation (not index order), so
    subsets are nested: for one seed, the subset of size ``m < n`` equals the first ``m``
    images of the size-``n`` subset.
    """
    _check_xy(x, y)
    if n is None or n >= len(x):
        return x, y
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"subset size must be a positive int or None, got {n!r}")
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]
    return x[idx], y[idx]


def format_tables(tables: dict[str, pd.DataFrame], xcol: str, digits: int = 1) -> pd.DataFrame:
    """Side-by-side ``"acc [low, high]"`` strings (percent), one column per labelled table.

    Rows are the union of the tables' ``xcol`` values; a table without a row shows "-".
    """
    out = {}
    for label, df in tables.items():
        out[label] = {float(v): f"{100 * a:.{digits}f} [{100 * lo:.{digits}f}, {100 * hi:.{digits}f}]"
                      for v, a, lo, hi in zip(df[xcol], df["accuracy"], df["low"], df["high"])}
    res = pd.DataFrame(out).sort_index().fillna("-")
    res.index.name = xcol
    return res


def compare_tables(a: pd.DataFrame, b: pd.DataFrame, xcol: str, *, paired: bool = False,
                   seed: int = 0) -> pd.Series:
    """Per row (value of ``xcol`` in both tables): is ``a`` "higher" or "lower" than ``b``?

    Unpaired (default): "higher" / "lower" when the two 95% Wilson intervals do not
    overlap, else "overlap" (a conservative test, for tables scored on different images).
    Paired (``paired=True``, both tables scored on the *same* images, as the tables of
    :func:`noise_accuracy` and :func:`attack_table` with equal inputs): the 95% paired
    bootstrap interval of the per-image difference ``a - b`` (``df.attrs["correct"]``)
    decides, and the third outcome is "no difference". Pairing removes the shared
    difficulty of the images, so it finds differences the unpaired rule misses.

    Args:
        a, b: tables with columns ``xcol, accuracy, low, high``.
        xcol: the column to match rows on (``"intensity"`` or ``"eps"``).
        paired: use the per-image correctness.
        seed: seed of the bootstrap.

    Returns:
        A ``pandas.Series`` of verdicts indexed by the shared ``xcol`` values.
    """
    m = a.merge(b, on=xcol, suffixes=("_a", "_b"))
    if not paired:
        verdict = np.where(m["low_a"] > m["high_b"], "higher", np.where(m["high_a"] < m["low_b"], "lower", "overlap"))
        return pd.Series(verdict, index=m[xcol], name="a vs b")
    ca, cb = a.attrs.get("correct"), b.attrs.get("correct")
    if ca is None or cb is None:
        raise ValueError("a paired comparison needs per-image correctness in df.attrs['correct'] "
                         "(tables from noise_accuracy or attack_table)")
    out = []
    for v in m[xcol]:
        da, db = np.asarray(ca[v], dtype=float), np.asarray(cb[v], dtype=float)
        if da.shape != db.shape:
            raise ValueError(f"a paired comparison needs the same images: {xcol}={v} has {len(da)} vs {len(db)}")
        iv = bootstrap_interval(da - db, seed=seed)
        out.append("higher" if iv.low > 0 else "lower" if iv.high < 0 else "no difference")
    return pd.Series(out, index=m[xcol], name="a vs b")


# --------------------------------------------------------------------------- plots
def _plot_curves(tables: dict, xcol: str, ax, xlabel: str, title: str, logx: bool = False):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for label, df in tables.items():
        line, = ax.plot(df[xcol], 100 * df["accuracy"], marker="o", label=label)
        ax.fill_between(df[xcol], 100 * df["low"], 100 * df["high"], color=line.get_color(), alpha=0.2)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(-2, 102)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def plot_noise_curves(tables: dict[str, pd.DataFrame], *, title: str = "Accuracy under random noise", ax=None):
    """Accuracy versus noise intensity with 95% bands, one curve per labelled table."""
    return _plot_curves(tables, "intensity", ax, "noise intensity (std on [0, 1] images)", title)


def plot_attack_curves(tables: dict[str, pd.DataFrame], *, title: str = "Accuracy under APGD-CE (L2)", ax=None):
    """Robust accuracy versus L2 budget (log axis) with 95% bands, one curve per table."""
    return _plot_curves(tables, "eps", ax, "L2 budget eps", title, logx=True)
