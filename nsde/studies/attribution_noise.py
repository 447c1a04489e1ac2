"""Attribution-shaped noise: the noise shaping the paper cites (Jha et al., AAAI 2022, its ref. [8]).

Brogan et al. (arXiv 2409.01532) shape, generate and inject their noise "as per the
implementation outlined in [8]": Jha et al., "Shaping noise for robust attributions in
neural stochastic differential equations". That method is iterative: train a Neural SDE,
compute the attributions of its predictions, and reshape the noise injected in the next
round so that it concentrates where attributions are high, starting from uniform noise.
No code of [8] is public; this module is our design of it, every choice a parameter:

* **Which attribution** (``attribution``): ``"saliency"`` (the absolute input gradient, one
  backward pass per image) by default, or ``"ig"`` (Integrated Gradients, ``ig_n_steps``
  passes); :func:`map_agreement` measures how similar the two are once pooled to the
  feature maps' resolution, which is all the envelope keeps (chapter 8 shows it).
* **Of which class**: the true class of each training image (training knows it).
* **Per sample**: each training image gets the envelope of its own attribution map.
* **Envelope** (:func:`attribution_envelope`): the noise *power* at a pixel is
  proportional to ``(1 - mix) |A| / mean|A| + mix``: ``mix`` (0.25) keeps a floor of
  uniform noise everywhere. In the network it is area-pooled to each stage's resolution
  and normalised to unit mean power (:func:`nsde.core.noise.pool_envelope`), so ``sigma`` keeps
  its meaning, and it multiplies the shaped Brownian increments (``base_shape``).
* **Rounds** (``rounds``): round 0 is the uniform NSDE with ``base_shape`` (the existing
  model); round ``r`` trains a new NSDE, from the same initial weights, with the envelopes of
  round ``r - 1``'s attributions. Every round is cached under its envelopes' content.
* **At test time**: the envelope is the mean of the training envelopes, one fixed map, so
  the evaluated function does not depend on the test input's attribution and an attack
  differentiates exactly what is evaluated (the attribution step is not part of the
  function). Using the test input's own attribution would make an attack differentiate
  through IG (second derivatives); we state the choice and do not take that path.
"""
from __future__ import annotations

import torch

from nsde._infra.cache import config_hash
from nsde._infra.checks import check_choice, nonnegative_int
from nsde._infra.runtime import progress
from nsde.core.noise import check_envelope, pool_envelope
from nsde.core.training import ModelSpec, TrainConfig, TrainedModel, train_or_load
from nsde.measures.attribution import attribute, spearman_rank
from nsde.studies.zoo import recipe

__all__ = ["ATTRIBUTIONS", "attribution_envelope", "training_envelopes", "map_agreement", "shaped_rounds"]

#: Attribution methods the envelope can come from.
ATTRIBUTIONS = ("saliency", "ig")


def attribution_envelope(attributions: torch.Tensor, mix: float = 0.25) -> torch.Tensor:
    """A noise envelope (power map) from attribution maps.

    Args:
        attributions: ``(N, C, H, W)`` attributions (any sign; their magnitude counts,
            summed over the ``C`` input channels: the noise has one spatial map).
        mix: share of uniform power kept everywhere, in [0, 1] (1: uniform noise).

    Returns:
        ``(N, 1, H, W)`` float32, non-negative, mean 1 per map; a constant (or all-zero)
        map gives the uniform envelope (all ones).

    Raises:
        ValueError: wrong shape, NaN or infinite values, ``mix`` outside [0, 1].
    """
    if not isinstance(attributions, torch.Tensor) or attributions.ndim != 4:
        raise ValueError(f"attributions must be a tensor (N, C, H, W), but found "
                         f"{tuple(getattr(attributions, 'shape', ())) or type(attributions).__name__}")
    if not bool(torch.isfinite(attributions).all()):
        raise ValueError("attributions contain NaN or infinite values")
    if isinstance(mix, bool) or not isinstance(mix, (int, float)) or not 0 <= mix <= 1:
        raise ValueError(f"mix must be a number in [0, 1], but found {mix!r}")
    a = attributions.detach().abs().float().sum(1, keepdim=True)
    mean = a.mean(dim=(2, 3), keepdim=True)
    shaped = torch.where(mean > 0, a / mean.clamp_min(torch.finfo(torch.float32).tiny), torch.ones_like(a))
    return (1 - mix) * shaped + mix


def training_envelopes(trained: TrainedModel, x: torch.Tensor, y: torch.Tensor, *, attribution: str = "saliency",
                       mix: float = 0.25, n_steps: int = 16, batch_size: int = 64) -> torch.Tensor:
    """The envelopes of a model's attributions of the true class on training images.

    The attribution runs on the model's fixed noise path 0 (``noise="on"``), in float32.

    Returns:
        ``(N, 1, H, W)`` envelopes (:func:`attribution_envelope`).
    """
    check_choice("attribution", attribution, ATTRIBUTIONS)
    out = []
    for i in progress(range(0, len(x), batch_size), desc=f"{attribution} envelopes"):
        a = attribute(trained.model, x[i:i + batch_size], y[i:i + batch_size], attribution, n_steps=n_steps,
                      batch_size=batch_size, noise="on", noise_seed=0)
        out.append(attribution_envelope(a, mix))
    return torch.cat(out)


def map_agreement(a: torch.Tensor, b: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Per image, the Spearman rank correlation of two attribution maps' envelopes pooled to
    ``size`` (the resolution the network sees them at)."""
    ea = pool_envelope(attribution_envelope(a, 0.0), size)
    eb = pool_envelope(attribution_envelope(b, 0.0), size)
    return spearman_rank(ea, eb)


def shaped_rounds(splits, profile, *, rounds: int, sigma: float | None = None, base_shape: str = "brownian",
                  attribution: str = "saliency", mix: float = 0.25, n_steps: int = 16, seed: int | None = None,
                  device: torch.device | None = None) -> list[TrainedModel]:
    """Train the rounds of attribution-shaped NSDEs (see the module docstring).

    Args:
        splits: the data.
        profile: the profile (``arch, epochs, batch_size, lr, sigma, seed``).
        rounds: shaping rounds after round 0 (``0``: only the uniform NSDE).
        sigma: the noise level (default the profile's).
        base_shape: the spatial shape of the increments the envelope multiplies.
        attribution, mix, n_steps: see :func:`training_envelopes`.
        seed: the training seed (default the profile's first).
        device: default ``nsde._infra.runtime.default_device()``.

    Returns:
        ``[round 0, round 1, ...]``; from round 1 on each model's test-time envelope is set
        to the mean of its training envelopes (``trained.model``), and ``trained.envelope``
        holds it.
    """
    rounds = nonnegative_int("rounds", rounds)
    p = profile
    sigma = float(p.sigma if sigma is None else sigma)
    seed = p.seed if seed is None else nonnegative_int("seed", seed)
    spec = ModelSpec(arch=p.arch, kind="nsde", noise_shape=base_shape, sigma=sigma, **recipe(p.arch))
    cfg = TrainConfig(epochs=p.epochs, batch_size=p.batch_size, lr=float(p.lr), seed=seed)
    models = [train_or_load(spec, cfg, splits, device=device)]
    for _ in range(rounds):
        env = training_envelopes(models[-1], splits.train.x, splits.train.y, attribution=attribution, mix=mix,
                                 n_steps=n_steps)
        provenance = config_hash(models[-1].key, attribution, mix, n_steps if attribution == "ig" else None)
        nxt = train_or_load(spec, cfg, splits, device=device, envelopes=env, envelope_key=provenance)
        mean = check_envelope(env.mean(0, keepdim=True), splits.train.x.shape[-1])
        nxt.model.set_envelope(mean)
        nxt.envelope = mean
        models.append(nxt)
    return models
