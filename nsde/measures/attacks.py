"""Adversarial robustness to the field's standard (Table 3 of Brogan et al., arXiv 2409.01532).

**Threat model.** Untargeted L2 attacks on spectrogram images in [0, 1] (every attacked
image stays in [0, 1] and within ``eps`` of the clean image in L2). The attacker knows the
weights, the architecture and the law of the NSDE noise (shape, ``sigma``, where it is
injected) but not the draws, which are fresh at every forward pass. A random model is
scored as the classifier it is used as: the ``samples``-pass ensemble (mean softmax), with
its **expected** correctness over ``draws`` fresh scorings per image (:func:`nsde.measures.evaluation.correctness`),
drawn independently of the attack's own draws.

Attacks (all from AutoAttack by its authors, package ``pyautoattack``):

* **APGD-CE** (:func:`apgd_attack`): *non-adaptive* on a random model with one noise draw
  per gradient step (what the paper did), *adaptive* with Expectation over Transformation
  (EOT, Athalye et al. 2018): the mean of ``eot_iter`` per-draw gradients per step.
* **AutoAttack-rand** (:func:`autoattack_rand`): AutoAttack's protocol for randomised
  defences, APGD-CE then APGD-DLR, both with EOT (protocol: 100 iterations, 20 draws).
  AutoAttack's own checks run first (randomness, logits, dynamic defence, classes) and
  their warnings are returned, not silenced. DLR's margin needs the third-largest logit,
  so with two classes the protocol is APGD-CE alone (said in the returned log).
* **Square** (:func:`square_attack`), a gradient-free score-based attack, on the ensemble.

**Every image is attacked.** AutoAttack's ``perturb`` skips images that one forward pass
gets wrong and returns an adversarial image only if one more forward pass misclassifies
it; on a random model that returns clean images for most of the set. Here every image runs
the attack's ``attack_single_run`` (:func:`_attack_every_image`), and among the
candidates of several attacks the one with the lowest expected correctness is kept.

**Gradient-masking checks** (:func:`masking_checks`): accuracy not rising with the budget,
reaching ~0 at a large budget, not raised by more iterations or more EOT draws, a white-box
attack at least as strong as a transfer attack from the NSDE's own noise-off network and
as the gradient-free Square attack. Each "raised" is decided by a paired bootstrap on the
same images, so the tolerance is the scoring noise itself.
"""
from __future__ import annotations

import contextlib
import logging
import math
import time
import warnings
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from nsde._infra.cache import cached_call
from nsde._infra.checks import check_choice, check_xy, model_classes, number_list, positive_int, unwrap_model
from nsde._infra.runtime import derive_seed, eval_mode, model_device, progress
from nsde.core.models import is_random, noise_mode, noise_rng, precision_mode
from nsde.measures.evaluation import correctness
from nsde.stats.compare import pool_seeds
from nsde.stats.intervals import accuracy_interval

__all__ = ["PAPER_EPS", "ATTACKS", "TARGETS", "eps_per_pixel", "eot_gradient", "apgd_attack", "autoattack_rand",
           "square_attack", "run_attack", "attack_table", "attack_seeds", "transfer_table", "worst_case"]

#: The paper's Table 3 L2 budgets.
PAPER_EPS = (0.05, 0.1, 0.15, 0.2)
#: Attacks :func:`run_attack` knows.
ATTACKS = ("apgd-ce", "apgd-dlr", "autoattack-rand", "square")
#: What an APGD attack on a random model differentiates: single noisy passes, or the scored ensemble.
TARGETS = ("passes", "ensemble")
# bump to invalidate cached results after a change of method
_ATTACK_VERSION = 5  # 5: APGD-DLR and attacks on the ensemble's own output


def _check_eps(eps: Iterable[float]) -> list[float]:
    return number_list("eps", eps, strictly_positive=True, increasing=True)


@contextlib.contextmanager
def _attacking(model: nn.Module, noise: str, samples: int = 1, noise_seed: int | None = None):
    """``eval()``, the noise setting (fresh draws, or the fixed path ``noise_seed``) and a
    forked global RNG (APGD reseeds it)."""
    check_choice("noise", noise, ("off", "on"))
    device = model_device(model)
    devices = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), eval_mode(model), \
            noise_mode(model, noise, seed=noise_seed, samples=samples):
        yield device


def eps_per_pixel(eps: float | np.ndarray, image_shape: Sequence[int]) -> float | np.ndarray:
    """An L2 budget per sqrt(number of input values): the RMS change per pixel.

    ``eps / sqrt(C*H*W)``; the same ``eps`` is a 3.5 times larger RMS change at 64x64 than
    at 224x224.

    Raises:
        ValueError: ``image_shape`` is empty or holds a size < 1 (there are no values to
            spread the budget over).
    """
    dims = tuple(image_shape)
    if not dims or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1 for d in dims):
        raise ValueError(f"image_shape must be the image's sizes (C, H, W), each an int >= 1, but found {dims!r}")
    return eps / math.sqrt(math.prod(dims))


def _stackable(model: nn.Module) -> bool:
    """Whether stacked copies get independent draws (:meth:`NoisyClassifier.stackable`); a
    plain module in ``eval()`` has no noise, so copies are exact."""
    return model.stackable() if hasattr(model, "stackable") else not model.training


def eot_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eot_iter: int, *, stack: bool = False,
                 max_images: int = 1024) -> torch.Tensor:
    """Expectation-over-Transformation gradient of the summed cross-entropy w.r.t. ``x``.

    The mean of ``eot_iter`` per-draw gradients, each from one forward pass (one noise
    draw of a randomised model), exactly the estimator APGD uses with the same ``eot_iter``. With
    ``stack`` (and the model in ``eval()``), the draws run as one forward and backward of
    ``eot_iter`` copies of ``x`` stacked along the batch (at most ``max_images`` images at a
    time): a model that draws its noise independently per image (the NSDEs) gives each
    copy its own draw, so the estimator is the same, in fewer, larger passes.

    Args:
        model: the classifier, in the noise setting the caller chose.
        x: inputs ``(N, C, H, W)``; y: labels ``(N,)``.
        eot_iter: number of forward/backward passes averaged, >= 1.
        stack: stack the draws along the batch (ignored in training mode, where BatchNorm
            would pool the copies' statistics, with a fixed noise path or a per-image
            envelope). Off by default: on the 2-core CPU ``benchmarks/bench_peak.py``
            measured the loop faster (128 against 115 images/s, bf16, 5 draws).
        max_images: most images in one stacked pass.

    Returns:
        Gradient tensor shaped like ``x``.
    """
    eot_iter = positive_int("eot_iter", eot_iter)
    x = x.detach()
    group = max(1, min(eot_iter, positive_int("max_images", max_images) // max(len(x), 1))) \
        if stack and _stackable(model) else 1
    grad = torch.zeros_like(x)
    done = 0
    while done < eot_iter:
        g = min(group, eot_iter - done)
        xs = (x if g == 1 else x.repeat(g, *([1] * (x.dim() - 1)))).clone().requires_grad_(True)
        with torch.enable_grad():
            loss = F.cross_entropy(model(xs), y.repeat(g), reduction="sum")
        grad += torch.autograd.grad(loss, [xs])[0].detach().view(g, *x.shape).sum(0)
        done += g
    return grad / eot_iter


def _attack_every_image(attack, model: nn.Module, x: torch.Tensor, y: torch.Tensor, n_restarts: int, seed: int,
                        select_draws: int = 4) -> torch.Tensor:
    """APGD on every image of a random model, bypassing ``perturb``'s clean-accuracy filter.

    Every image runs AutoAttack's ``attack_single_run`` (each restart on every image), which
    returns two candidates: the highest-loss iterate (``x_best``) and the last iterate some
    single noise draw misclassified (``x_best_adv``, the clean image if none did). One lucky
    draw is no evidence, so each image keeps, over all candidates and restarts, the one whose
    true-class probability averaged over ``select_draws`` fresh forward passes is lowest.
    """
    attack.init_hyperparam(x)
    torch.random.manual_seed(seed)  # as perturb does: a seeded random start
    best, best_p = None, None
    for _ in range(n_restarts):
        x_best, _, _, x_best_adv = attack.attack_single_run(x, y)
        for cand in (x_best, x_best_adv):
            p = _true_class_probability(model, cand, y, select_draws)
            if best is None:
                best, best_p = cand.clone(), p
                continue
            better = p < best_p
            best[better], best_p[better] = cand[better], p[better]
    return best


def apgd_attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *, n_iter: int = 100,
                eot_iter: int = 1, n_restarts: int = 1, seed: int = 0, noise: str = "on",
                loss: str = "ce", samples: int = 1, batch_size: int = 128) -> torch.Tensor:
    """AutoAttack's APGD (L2, untargeted) on ``model``; returns the attacked images.

    Args:
        model: classifier returning logits ``(N, classes)``.
        x: images ``(N, C, H, W)`` in [0, 1]; y: labels ``(N,)``.
        eps: L2 budget (> 0).
        n_iter: APGD iterations; eot_iter: noise draws per gradient; n_restarts: restarts.
        seed: APGD's seed (random start).
        noise: the model's noise during the attack, ``"off"`` or ``"on"`` (a fresh draw per
            forward, so ``eot_iter=1`` is the paper's non-adaptive attack and ``eot_iter>1``
            the EOT one).
        loss: ``"ce"`` (APGD-CE) or ``"dlr"`` (APGD-DLR, a margin loss; 3 classes or more).
        samples: noisy passes of each forward the attack differentiates: 1 (single noisy
            passes, the random function whose passes the ensemble averages) or the scored
            ensemble's ``samples`` (the attack then differentiates the function that is
            scored, its log mean softmax, and EOT averages fresh ensembles).
        batch_size: images attacked together.

    Returns:
        float32 tensor shaped like ``x`` on the CPU, within ``eps`` of ``x`` in L2. On a
        deterministic model images it cannot fool come back unchanged (``perturb``); on a
        random one every image is attacked.
    """
    from pyautoattack.autopgd_base import APGDAttack

    x, y = check_xy(x, y, model)
    eps = _check_eps([eps])[0]
    n_iter, eot_iter, n_restarts = (positive_int(k, v) for k, v in
                                    (("n_iter", n_iter), ("eot_iter", eot_iter), ("n_restarts", n_restarts)))
    check_choice("loss", loss, ("ce", "dlr"))
    samples = positive_int("samples", samples)
    n_classes = model_classes(model)
    if loss == "dlr" and n_classes is not None and n_classes < 3:
        raise ValueError(f"APGD-DLR's loss needs 3 classes or more, but the model has {n_classes}; use loss='ce'")
    out = []
    with _attacking(model, noise, samples=samples) as device:
        attack = APGDAttack(model, n_iter=n_iter, norm="L2", n_restarts=n_restarts, eps=eps, seed=seed,
                            loss=loss, eot_iter=eot_iter, device=device)
        random = is_random(model, noise)
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
            adv = _attack_every_image(attack, model, xb, yb, n_restarts, seed) if random else attack.perturb(xb, yb)
            out.append(adv.detach().cpu())
    return torch.cat(out)


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _true_class_probability(model: nn.Module, x: torch.Tensor, y: torch.Tensor, draws: int) -> torch.Tensor:
    """Mean over ``draws`` forward passes of the softmax probability of the true class."""
    with torch.no_grad():
        p = torch.stack([F.softmax(model(x).float(), -1).gather(1, y[:, None])[:, 0] for _ in range(draws)])
    return p.mean(0)


def _set_iterations(attack, n_iter: int) -> None:
    """Give an APGD attack ``n_iter`` iterations *with the step-size schedule of that many*:
    APGD derives its checkpoints from ``n_iter`` when it is built, so setting the attribute
    alone would keep the schedule of the old count (pyautoattack's ``autopgd_base``)."""
    attack.n_iter, attack.n_iter_orig = n_iter, n_iter
    attack.n_iter_2 = max(int(0.22 * n_iter), 1)
    attack.n_iter_min = max(int(0.06 * n_iter), 1)
    attack.size_decr = max(int(0.03 * n_iter), 1)


def autoattack_rand(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *, n_iter: int = 100,
                    eot_iter: int = 20, samples: int = 1, select_draws: int = 8, seed: int = 0,
                    batch_size: int = 128) -> tuple[torch.Tensor, list[str]]:
    """AutoAttack ``version='rand'`` under an L2 budget, every image attacked.

    AutoAttack's ``AutoAttack`` object sets the protocol (APGD-CE then APGD-DLR, one
    restart, ``eot_iter`` draws per gradient; ``n_iter`` iterations, 100 in the protocol)
    and runs its checks on the first batch; its log is captured and returned. Each attack
    then runs on **every** image (:func:`_attack_every_image`), and each image keeps the
    candidate (APGD-CE or APGD-DLR) whose true-class probability, averaged over
    ``select_draws`` passes of the ``samples``-pass ensemble, is lowest. Scoring the chosen
    images with fresh draws (:func:`run_attack`) keeps that selection unbiased. A model of
    two classes runs APGD-CE alone (APGD-DLR's loss needs three classes or more).

    Returns:
        ``(images, log)``: the attacked images ``(N, C, H, W)`` float32 on the CPU and
        AutoAttack's messages (its checks' warnings among them).
    """
    from pyautoattack import AutoAttack, checks

    x, y = check_xy(x, y, model)
    eps = _check_eps([eps])[0]
    capture = _Capture()
    aa_logger = logging.getLogger("auto-attack")
    aa_logger.addHandler(capture)
    previous_level, previous_propagate = aa_logger.level, aa_logger.propagate
    aa_logger.setLevel(logging.DEBUG)
    aa_logger.propagate = False  # captured here and returned, not printed twice by the root logger
    try:
        with _attacking(model, "on") as device, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            aa = AutoAttack(model, norm="L2", eps=eps, version="rand", seed=seed, device=device)
            _set_iterations(aa.apgd, positive_int("n_iter", n_iter))
            aa.apgd.eot_iter = positive_int("eot_iter", eot_iter)
            n_classes = model_classes(model)
            if n_classes is not None and n_classes < 3 and "apgd-dlr" in aa.attacks_to_run:
                aa.attacks_to_run = [a for a in aa.attacks_to_run if a != "apgd-dlr"]
                capture.messages.append(f"apgd-dlr left out: its loss needs 3 classes or more, the model has "
                                        f"{n_classes}")
            capture.messages.append(f"protocol: {', '.join(aa.attacks_to_run)}; {aa.apgd.n_iter} iterations, "
                                    f"{aa.apgd.eot_iter} EOT draws, {aa.apgd.n_restarts} restart(s)")
            xb, yb = x[:batch_size].to(device), y[:batch_size].to(device)
            checks.check_randomized(aa.get_logits, xb, yb, bs=batch_size, logger=aa.logger)
            n_cls = checks.check_range_output(aa.get_logits, xb, logger=aa.logger)
            checks.check_dynamic(model, xb, False, logger=aa.logger)
            checks.check_n_classes(n_cls, aa.attacks_to_run, aa.apgd_targeted.n_target_classes,
                                   aa.fab.n_target_classes, logger=aa.logger)
            out = []
            for i in range(0, len(x), batch_size):
                xb, yb = x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
                best, best_p = xb.clone(), torch.full((len(xb),), math.inf, device=device)
                for name in aa.attacks_to_run:  # apgd-ce, apgd-dlr
                    aa.apgd.loss = name.split("-")[1]
                    adv = _attack_every_image(aa.apgd, model, xb, yb, aa.apgd.n_restarts, seed)
                    with noise_mode(model, "on", samples=samples):
                        p = _true_class_probability(model, adv, yb, select_draws)
                    better = p < best_p
                    best[better], best_p[better] = adv[better], p[better]
                    fooled = int((p < 0.5).sum())
                    capture.messages.append(f"{name}: {fooled} of {len(xb)} images have a true-class probability "
                                            f"below 0.5 (batch {i // batch_size + 1})")
                out.append(best.detach().cpu())
        capture.messages += [f"warning: {w.message}" for w in caught]
    finally:
        aa_logger.removeHandler(capture)
        aa_logger.setLevel(previous_level)
        aa_logger.propagate = previous_propagate
    return torch.cat(out), capture.messages


def square_attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *, n_queries: int = 1000,
                  noise: str = "on", samples: int = 1, seed: int = 0, batch_size: int = 128) -> torch.Tensor:
    """AutoAttack's Square attack (L2, score-based, no gradients) on every image.

    Square accepts a candidate when its margin improves and stops on an image as soon as one
    query misclassifies it; against fresh noise at every query both decisions would follow
    lucky draws. So on a random model the search queries the ``samples``-pass ensemble on
    one **fixed noise path** (``noise_seed = seed``: a deterministic realisation of the
    classifier), and the returned images are then scored with fresh draws
    (:func:`run_attack`).

    Returns:
        The attacked images ``(N, C, H, W)`` float32 on the CPU.
    """
    from pyautoattack.square import SquareAttack

    x, y = check_xy(x, y, model)
    eps = _check_eps([eps])[0]
    n_queries = positive_int("n_queries", n_queries)
    out = []
    with _attacking(model, noise, samples=samples, noise_seed=seed if is_random(model, noise) else None) as device:
        sq = SquareAttack(model, norm="L2", eps=eps, n_queries=n_queries, p_init=0.8, n_restarts=1, seed=seed,
                          loss="margin", device=device)
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
            sq.init_hyperparam(xb)
            torch.random.manual_seed(seed)
            _, adv = sq.attack_single_run(xb, yb)
            out.append(adv.detach().cpu())
    return torch.cat(out)


def run_attack(trained: Any, x: torch.Tensor, y: torch.Tensor, eps_list: Iterable[float], *,
               attack: str = "apgd-ce", noise: str = "on", samples: int = 1, draws: int = 1, n_iter: int = 100,
               eot_iter: int = 1, n_restarts: int = 1, n_queries: int = 1000, target: str = "passes",
               seed: int = 0, precision: str | None = None, key: str | None = None, refresh: bool = False) -> dict:
    """Attack at every budget of ``eps_list`` and score the result (cached).

    The model is attacked with its noise ``noise`` (a fresh draw per forward) and scored
    with the same setting: the ``samples``-pass ensemble, expected correctness over
    ``draws`` scorings with draws independent of the attack's.

    Args:
        trained: a ``TrainedModel`` (its key keys the cache) or an ``nn.Module``.
        x, y: images ``(N, C, H, W)`` in [0, 1] and labels ``(N,)``.
        eps_list: increasing L2 budgets.
        attack: ``"apgd-ce"``, ``"apgd-dlr"``, ``"autoattack-rand"`` or ``"square"``.
        noise: ``"off"`` (drift path) or ``"on"``.
        samples, draws: ensemble passes and scorings (random models).
        n_iter, eot_iter, n_restarts: APGD settings (AutoAttack-rand: ``n_iter`` and ``eot_iter``).
        n_queries: Square's query budget.
        target: what APGD differentiates on a random model: ``"passes"`` (single noisy
            passes) or ``"ensemble"`` (the scored ``samples``-pass ensemble itself).
        seed: seed of the attack and of the scoring (each draws from its own stream,
            derived from ``seed``; the model's noise stream is restored afterwards).
        precision: run the attack in this precision (``"fp32"``: full-precision gradients,
            a masking check); ``None``: the model's own.
        key: cache key of a plain module.
        refresh: recompute even when cached.

    Returns:
        ``{"eps": [...], "clean": float (N,), "adv": {eps: float32 (N, C, H, W)},
        "correct": {eps: float (N,)}, "log": {eps: [str]}, "seconds": float}``.
    """
    model, key = unwrap_model(trained, key)
    x, y = check_xy(x, y, model)
    eps_list = _check_eps(eps_list)
    check_choice("attack", attack, ATTACKS)
    check_choice("noise", noise, ("off", "on"))
    if precision is not None:
        check_choice("precision", precision, ("fp32", "bf16"))
    samples, draws = positive_int("samples", samples), positive_int("draws", draws)
    check_choice("target", target, TARGETS)
    attack_samples = samples if target == "ensemble" else 1
    score_seed = derive_seed(seed, 99)

    def score(images):
        return correctness(model, images, y, noise=noise, samples=samples, draws=draws, seed=score_seed)

    def compute() -> dict:
        t0 = time.perf_counter()
        res = {"eps": eps_list, "adv": {}, "correct": {}, "log": {}, "clean": score(x)}
        for eps in progress(eps_list, desc=f"{attack} eot={eot_iter}"):
            with noise_rng(model, derive_seed(seed, 1, round(1e6 * eps))), precision_mode(model, precision):
                if attack in ("apgd-ce", "apgd-dlr"):
                    adv, log = apgd_attack(model, x, y, eps, n_iter=n_iter, eot_iter=eot_iter,
                                           n_restarts=n_restarts, seed=seed, noise=noise, loss=attack[5:],
                                           samples=attack_samples), []
                elif attack == "autoattack-rand":
                    adv, log = autoattack_rand(model, x, y, eps, n_iter=n_iter, eot_iter=eot_iter, samples=samples,
                                               seed=seed)
                else:
                    adv, log = square_attack(model, x, y, eps, n_queries=n_queries, noise=noise, samples=samples,
                                             seed=seed), []
            res["adv"][eps], res["log"][eps] = adv, log
            res["correct"][eps] = score(adv)
        res["seconds"] = time.perf_counter() - t0
        return res

    if key is None:
        return compute()
    return cached_call("attacks", run_attack, compute, model=key, tensors=(x, y),
                       arguments=dict(eps_list=eps_list, attack=attack, noise=noise, samples=samples, draws=draws,
                                      n_iter=n_iter, eot_iter=eot_iter, n_restarts=n_restarts,
                                      n_queries=n_queries if attack == "square" else None,
                                      target=target if attack.startswith("apgd") and noise == "on" else "passes",
                                      seed=seed,
                                      precision=precision or getattr(model, "precision", None)),
                       version=_ATTACK_VERSION, name="attack.pt", refresh=refresh)


def _table(eps_list: Sequence[float], correct: dict, image_shape: Sequence[int], seed: int = 0) -> pd.DataFrame:
    rows = []
    for eps in eps_list:
        iv = accuracy_interval(correct[eps], seed=seed)
        rows.append(dict(eps=eps, eps_per_pixel=eps_per_pixel(eps, image_shape), accuracy=iv.estimate,
                         low=iv.low, high=iv.high, n=iv.n))
    df = pd.DataFrame(rows, columns=["eps", "eps_per_pixel", "accuracy", "low", "high", "n"])
    df.attrs["correct"] = {eps: tuple(np.asarray(correct[eps], dtype=float).tolist()) for eps in eps_list}
    return df


def attack_table(result: dict, x_shape: Sequence[int] | None = None) -> pd.DataFrame:
    """Robust accuracy per budget from a :func:`run_attack` result (Table 3 rows).

    Returns:
        DataFrame ``eps, eps_per_pixel, accuracy, low, high, n`` (95% intervals);
        ``df.attrs["correct"]`` maps each budget to the per-image correctness.
    """
    shape = tuple(x_shape)[-3:] if x_shape is not None else tuple(next(iter(result["adv"].values())).shape[-3:])
    return _table(result["eps"], result["correct"], shape)


def attack_seeds(runs: Sequence[Any], x: torch.Tensor, y: torch.Tensor, eps_list: Iterable[float],
                 **kwargs) -> pd.DataFrame:
    """:func:`run_attack` on every training seed of one model, pooled by
    :func:`nsde.stats.compare.pool_seeds` (accuracy averaged over seeds; the interval resamples
    seeds and images). ``df.attrs["results"]`` keeps the per-seed :func:`run_attack` results."""
    eps_list = list(eps_list)
    results = [run_attack(t, x, y, eps_list, **kwargs) for t in runs]
    pooled = pool_seeds([attack_table(r, x.shape) for r in results], "eps", seed=kwargs.get("seed", 0))
    pooled.insert(1, "eps_per_pixel", [eps_per_pixel(e, x.shape[1:]) for e in pooled["eps"]])
    pooled.attrs["results"] = results
    return pooled


def transfer_table(source: dict, target: Any, y: torch.Tensor, *, noise: str = "on", samples: int = 1,
                   draws: int = 1, seed: int = 0) -> pd.DataFrame:
    """Accuracy of ``target`` on adversarial images crafted against another model.

    Transfer from the NSDE's own noise-off network (same weights, no noise) is the
    gradient-masking cross-check: if it fools the NSDE ensemble more often than the
    white-box attack does, the white-box gradients are masked.

    Args:
        source: a :func:`run_attack` result of the source model (its ``adv`` images).
        target: the model scored (``TrainedModel`` or ``nn.Module``).
        y: labels ``(N,)``.
        noise, samples, draws: the target's scoring.
    """
    model, _ = unwrap_model(target)
    s = derive_seed(seed, 99)
    correct = {eps: correctness(model, source["adv"][eps], y, noise=noise, samples=samples, draws=draws, seed=s)
               for eps in source["eps"]}
    return _table(source["eps"], correct, next(iter(source["adv"].values())).shape[-3:])




def worst_case(trained: Any, results: dict[str, dict], x: torch.Tensor, y: torch.Tensor, *, noise: str = "on",
               samples: int = 1, draws: int = 1, seed: int = 0) -> dict:
    """Robustness as AutoAttack counts it: an image is robust only if it survives every attack.

    For each budget and image, the candidate kept is the one (over the clean image and every
    attack's adversarial image) with the lowest correctness on a **selection** stream of
    ``draws`` fresh scorings; the kept images are then scored on an independent **report**
    stream, so that picking the worst of several noisy scores does not bias the figure
    (deterministic models score 0/1 on both).

    Args:
        trained: the attacked model (``TrainedModel`` or ``nn.Module``).
        results: ``{attack name: run_attack result}`` on the same images and budgets.
        x, y: the clean images and labels the attacks started from.
        noise, samples, draws: how the model is scored (as in :func:`run_attack`).
        seed: seed of the two scoring streams.

    Returns:
        A :func:`run_attack`-like result: ``eps, adv, correct`` (report stream),
        ``source`` (``{eps: [attack name per image]}``), ``clean``.
    """
    if not results:
        raise ValueError("worst_case needs the results of at least one attack")
    model, _ = unwrap_model(trained)
    x, y = check_xy(x, y, model)
    eps_list = list(next(iter(results.values()))["eps"])
    for name, r in results.items():
        if list(r["eps"]) != eps_list or len(r["clean"]) != len(y):
            raise ValueError(f"attack {name!r} ran at budgets {list(r['eps'])} on {len(r['clean'])} images; the "
                             f"others at {eps_list} on {len(y)}")
    select, report = derive_seed(seed, 97), derive_seed(seed, 98)

    def score(images, s):
        return correctness(model, images, y, noise=noise, samples=samples, draws=draws, seed=s)

    out = {"eps": eps_list, "adv": {}, "correct": {}, "source": {}, "clean": score(x, report)}
    names = list(results)
    for eps in eps_list:
        cands = [x] + [results[n]["adv"][eps] for n in names]
        chosen = np.argmin(np.stack([score(c, select) for c in cands]), axis=0)  # ties: the first (clean)
        idx = torch.as_tensor(chosen)
        stack = torch.stack(cands)  # (attacks + 1, N, C, H, W)
        adv = stack[idx, torch.arange(len(y))]
        out["adv"][eps], out["correct"][eps] = adv, score(adv, report)
        out["source"][eps] = [(["clean"] + names)[i] for i in chosen.tolist()]
    return out
