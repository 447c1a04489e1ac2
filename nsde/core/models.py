"""ConvNeXt / ResNet baselines and their Neural-SDE variants (Brogan et al., arXiv 2409.01532).

A residual block ``x_{k+1} = x_k + f(x_k)`` is an Euler step of ``dx = f(x) dt``; adding
noise on the residual branch makes it an Euler-Maruyama step of a neural SDE (Liu et al.
2019, "Neural SDE: stabilizing neural ODE networks with stochastic noise")::

    x_{k+1} = x_k + f(x_k) + sigma * rms(x_k) * S(dW_k / sqrt(dt)),

where, inside each stage of ``n`` blocks, ``W`` is a Brownian motion over depth
``t in [0, 1]`` (a ``(C, H, W)``-valued one, ``dt = 1 / n``), ``S`` is a spatial shaper of
:mod:`nsde.core.noise` (white, Brownian sheet, power law) with unit mean power, and
``rms(x_k)`` is the root-mean-square of the block's input, per sample.

**What sigma means.** ``sigma`` is the per-element standard deviation of the injected noise
*relative to the RMS of the activations it is added to*, at every block (a noise-to-signal
amplitude ratio; sigma = 0.1 adds noise at -20 dB). We scale by the activation RMS because
the absolute scale of ConvNeXt activations differs between stages and drifts during
training; an absolute sigma could then be drowned by growing activations (the network
would learn to ignore it) or swamp the small early ones. In evaluation the RMS is part
of the graph, so gradient attacks and attributions differentiate exactly the function the
model computes. In training (``model.train()``) the scale ``sigma * rms(x_k)`` is a
stop-gradient constant, like the noise itself: the term it drops,
``(g . sigma xi) d rms / dx`` with ``g`` the gradient at the block output, has mean
zero over the noise to first order in sigma, and computing it took about a third
of the NSDE's extra step cost on a CPU.

**Where.** timm's ``ConvNeXtBlock`` ends with ``x = self.drop_path(x) + self.shortcut(s)``;
ResNet's ``BasicBlock``/``Bottleneck`` call ``self.drop_path`` (``None`` by default) on the
branch before ``x += shortcut``. :class:`NoisyResidual` replaces ``blk.drop_path`` by a module
that runs the original one and adds the noise; it has no parameters of its own, so
``state_dict`` keys are those of the baseline: a baseline's weights load into an NSDE, and
``sigma = 0`` gives exactly the baseline's logits.

**Brownian increments.** With a fixed noise ``seed`` the path of each stage is a torchsde
``BrownianInterval`` with a fixed ``entropy`` (derived from the seed, the stage and the
Monte-Carlo pass), of size ``(1, C, H, W)`` and broadcast over the batch, so the network is
a deterministic function of its input. Fresh draws (training, Monte-Carlo evaluation) use
the same law, i.i.d. ``N(0, dt)`` increments on the depth grid, drawn directly from the
model's private ``torch.Generator`` objects (a ``BrownianInterval`` costs about six times a plain
Gaussian draw). The private generators mean an attack that reseeds the global RNG does not
fix the noise.

**Cost.** Drawing is most of what an NSDE step costs beyond its baseline on a CPU (the CPU
generator is serial: about 3.5 ms per million values here), so fresh draws are made once per
pass: the first pass of an input shape after a reseed draws block by block and records the
blocks' sizes, and later passes draw all of them in one call, in two halves from two
generators, in parallel when there are two threads (:func:`_draw_parts`). Noise for
channels-last activations (bf16 models, ConvNeXts) is stored ``(H, W, B, C)`` and shaped
there by matrix products along each axis (:meth:`nsde.core.noise.Shaper._apply_hwbc`), in
float32; in training the scaled noise is a constant added in place, in the activations'
dtype and layout (bf16 activations get it rounded once to bf16, like the baseline's own
residual sum), so autograd sees an identity. Without gradients, in ``eval()``, the ``K``
passes of an ensemble can run as one forward of ``K`` stacked copies of the batch
(:meth:`NoisyClassifier._stacked_passes`; draws are independent per copy, so the law is
that of ``K`` passes). That is off by default (:data:`STACK_PASSES`): on the 2-core CPU
``benchmarks/bench_peak.py`` measured the stacked ensemble at 255 images/s against 365 for
a loop of passes (bf16; 108 against 157 in fp32).

**Noise** (:meth:`NoisyClassifier.set_noise`, :func:`noise_mode`), one vocabulary across
the package: ``noise="train"`` (noise while ``model.training``), ``"off"`` (drift only),
``"on"`` (always; ``samples = K > 1`` returns ``log(mean_K softmax)``); ``seed`` fixes the
noise path, ``None`` draws fresh noise. Baselines accept the same calls and change nothing.
The *shape* of the noise is ``noise_shape`` (a name of :data:`nsde.core.noise.SHAPES`).

**Envelope** (:meth:`NoisyClassifier.set_envelope`): an optional per-sample, non-negative
spatial map at input resolution that redistributes the noise power over the image: at each
block it is area-pooled to the feature map's resolution, normalised to unit mean power and
multiplies the shaped increment (attribution-shaped noise, Jha et al. AAAI 2022; see
:mod:`nsde.studies.attribution_noise`). ``None`` (default) is uniform noise.

**Precision** (:meth:`NoisyClassifier.set_precision`): ``"bf16"`` runs the network under
bfloat16 autocast in channels-last layout, ``"fp32"`` in float32; logits are float32 in
both. Training and loading set it from :func:`nsde._infra.runtime.precision`; a freshly built
model is ``"fp32"``.
"""
from __future__ import annotations

import math
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from nsde._infra.runtime import derive_seed
from nsde.core.noise import SHAPES, Shaper, channels_last, check_envelope, make_shaper, pool_envelope

__all__ = ["ARCHS", "KINDS", "NOISE_MODES", "STACK_PASSES", "NoisyResidual", "NoisyClassifier", "build_model",
           "noise_mode", "noise_envelope", "noise_rng", "precision_mode", "is_random", "capture_noise",
           "residual_blocks"]

#: Architectures :func:`build_model` accepts (timm names).
ARCHS = ("convnext_zepto_rms", "convnext_atto", "convnext_femto", "convnext_pico", "convnext_nano",
         "convnext_tiny", "convnext_small", "convnext_base", "resnet10t", "resnet14t", "resnet18", "resnet34",
         "resnet50")
#: Model kinds.
KINDS = ("baseline", "nsde")
#: Values of ``noise`` in :meth:`NoisyClassifier.set_noise`.
NOISE_MODES = ("train", "off", "on")
#: Precisions of :meth:`NoisyClassifier.set_precision`.
PRECISIONS = ("fp32", "bf16")

#: Total stride of the supported backbones: the smallest image they take.
_MIN_SIZE = 32
#: Most images in one forward of stacked noisy passes (:meth:`NoisyClassifier._stacked_passes`).
_STACK_IMAGES = 1024
#: Whether a new model stacks its Monte-Carlo passes along the batch (module docstring: a loop
#: of passes was measured faster on the CPU; ``model._noise.stack = True`` turns it on).
STACK_PASSES = False


#: A pass's fresh noise is drawn in this many parts, each from its own private generator and,
#: with two or more CPU threads, in parallel (the CPU generator is serial: drawing is the
#: largest part of the NSDE's extra step cost). A fixed count, so that the draws do not
#: depend on the number of threads.
_PARTS = 2
_WORKERS: tuple[int, object] | None = None  # (pid, executor): a forked child starts its own


def _workers():
    global _WORKERS
    if _WORKERS is None or _WORKERS[0] != os.getpid():
        from concurrent.futures import ThreadPoolExecutor

        _WORKERS = (os.getpid(), ThreadPoolExecutor(max_workers=_PARTS - 1, thread_name_prefix="nsde-noise"))
    return _WORKERS[1]


def _draw_parts(n: int, generators: list[torch.Generator]) -> torch.Tensor:
    """``n`` i.i.d. N(0, 1) float32 values on the CPU: part ``i`` of ``len(generators)``
    (equal parts) from ``generators[i]``, the parts drawn in parallel with two or more threads."""
    out = torch.empty(n)
    parts = out.tensor_split(len(generators))
    if torch.get_num_threads() < 2 or n < 65536:
        for part, g in zip(parts, generators):
            part.normal_(generator=g)
        return out
    futures = [_workers().submit(part.normal_, generator=g) for part, g in zip(parts[1:], generators[1:])]
    parts[0].normal_(generator=generators[0])
    for f in futures:
        f.result()
    return out


def _like_layout(flat: torch.Tensor, like: torch.Tensor, by_position: bool = False) -> torch.Tensor:
    """``flat`` (``like.numel()`` i.i.d. values) viewed as a tensor shaped like ``like``: stored
    ``(H, W, B, C)`` when ``by_position`` (the layout shapers work in, :func:`nsde.core.noise.hwbc`),
    else in ``like``'s own layout (channels-last activations get channels-last noise). The
    values are i.i.d., so the layout they are stored in does not change their law."""
    b, c, h, w = like.shape
    if by_position:
        return flat.view(h, w, b, c).permute(2, 3, 0, 1)
    if channels_last(like):
        return flat.view(b, h, w, c).permute(0, 3, 1, 2)
    return flat.view(b, c, h, w)


class _NoiseState:
    """Noise settings and per-forward state shared by all blocks of one model."""

    def __init__(self, sigma: float, shaper: Shaper | None, seed: int):
        self.sigma = float(sigma)
        self.shaper = shaper
        self.mode = "train"
        self.seed: int | None = None
        self.samples = 1
        self.active = False  # set per forward by the owning model
        self.pass_index = 0
        self.record: list | None = None
        self.stack = STACK_PASSES  # Monte-Carlo passes stacked along the batch where the law allows it
        self.envelope: torch.Tensor | None = None  # (B or 1, 1, H, W) importance at input resolution
        self._pooled: dict[tuple, torch.Tensor] = {}
        self._base_seed = int(seed)
        self._generators: dict[str, torch.Generator] = {}
        self._paths: dict[int, object] = {}
        # Fresh draws of one pass in one piece: the number of values each block takes, per
        # input shape (learnt on the first pass of that shape after a reseed), and the pass's draw.
        self._plans: dict[tuple, tuple[int, ...]] = {}
        self._plan_key: tuple | None = None
        self._taken: list[int] | None = None
        self._pool: torch.Tensor | None = None
        self._pool_at = 0

    def reseed(self, seed: int) -> None:
        self._base_seed = int(seed)
        self._generators.clear()
        self._plans.clear()  # the first pass of each input shape draws block by block again

    def generator(self, device: torch.device, part: int = 0) -> torch.Generator:
        """The private generator of fresh draws on ``device`` (``part > 0``: of that part of
        a pass drawn in one piece)."""
        key = str(device) if part == 0 else f"{device}#{part}"
        if key not in self._generators:
            seed = self._base_seed if part == 0 else derive_seed(self._base_seed, part)
            self._generators[key] = torch.Generator(device=device).manual_seed(seed)
        return self._generators[key]

    def begin_pass(self, k: int, x: torch.Tensor | None = None) -> None:
        """Start noisy pass ``k`` of a forward on input ``x``.

        Fresh draws on a CPU: the first pass of an input shape after a reseed draws block by
        block from the generator and records how many values each block took; later passes
        of that shape draw all of them here, in one piece (:func:`_draw_parts`). Either way a
        block gets i.i.d. N(0, 1) values, and the draws are a function of the seed and the
        passes made since it was set (what the pieces are does not depend on timing).
        """
        self.pass_index = k
        self._paths = {}
        self._pool, self._pool_at, self._taken, self._plan_key = None, 0, None, None
        if not self.active or self.seed is not None or x is None or x.device.type != "cpu":
            return
        self._plan_key = (tuple(x.shape), str(x.device))
        plan = self._plans.get(self._plan_key)
        if plan is None:
            self._taken = []
        else:
            self._pool = _draw_parts(sum(plan), [self.generator(x.device, i) for i in range(_PARTS)])

    def end_pass(self) -> None:
        """Remember how many values each block took in a pass drawn block by block."""
        if self._taken is not None and self._plan_key is not None:
            self._plans[self._plan_key] = tuple(self._taken)
        self._pool, self._taken = None, None

    def envelope_at(self, like: torch.Tensor) -> torch.Tensor | None:
        """The envelope pooled to ``like``'s spatial size, unit mean power per sample, or None."""
        if self.envelope is None:
            return None
        h, w = like.shape[-2:]
        key = (h, w, str(like.device))
        e = self._pooled.get(key)
        if e is None:
            e = pool_envelope(self.envelope.to(like.device), (h, w))
            self._pooled[key] = e
        if e.shape[0] not in (1, like.shape[0]):
            raise ValueError(f"the noise envelope holds {e.shape[0]} maps, but the batch has {like.shape[0]} images")
        return e

    def _by_position(self, like: torch.Tensor) -> bool:
        """Whether the noise for ``like`` is stored ``(H, W, B, C)``: shaped noise added to
        channels-last activations (the shaper's matrix products work in that layout, and
        the sum with ``(B, H, W, C)`` activations still runs along contiguous channels)."""
        return self.shaper is not None and self.shaper.name != "white" and channels_last(like)

    def _fresh(self, like: torch.Tensor) -> torch.Tensor:
        """I.i.d. N(0, 1) values for one block, float32, in ``like``'s layout: a slice of the
        pass's draw, or a draw of their own."""
        n = like.numel()
        pool = self._pool
        if pool is not None and self._pool_at + n <= pool.numel():
            flat = pool[self._pool_at:self._pool_at + n]
            self._pool_at += n
        else:
            if pool is not None:  # the plan does not fit this pass: draw block by block from here on
                self._pool, self._plan_key = None, None
            flat = torch.randn(n, generator=self.generator(like.device), device=like.device)
            if self._taken is not None:
                self._taken.append(n)
        return _like_layout(flat, like, self._by_position(like))

    def increment(self, stage: int, k: int, n: int, like: torch.Tensor) -> torch.Tensor:
        """White increment ``dW_k / sqrt(dt)`` for block ``k`` of ``n`` in ``stage``, float32, in
        ``like``'s memory layout."""
        b, c, h, w = like.shape
        if self.seed is None:
            return self._fresh(like)
        import torchsde

        bm = self._paths.get(stage)
        if bm is None:
            bm = torchsde.BrownianInterval(t0=0.0, t1=1.0, size=(1, c, h, w), dtype=torch.float32,
                                           device=like.device,
                                           entropy=derive_seed(self.seed, stage, self.pass_index))
            self._paths[stage] = bm
        xi = bm(k / n, (k + 1) / n) * math.sqrt(n)
        if self._by_position(like):
            return xi.permute(2, 3, 0, 1).contiguous().permute(2, 3, 0, 1)
        return xi.contiguous(memory_format=torch.channels_last) if channels_last(like) else xi


class NoisyResidual(nn.Module):
    """Wraps a residual block's ``drop_path``: runs it, then adds shaped Brownian noise.

    Args:
        inner: the block's original ``drop_path`` module (``nn.Identity`` if it had none).
        state: the model's shared noise state.
        stage: stage index (one Brownian path per stage).
        index: block index inside the stage, ``0 <= index < n_blocks``.
        n_blocks: number of blocks of the stage (``dt = 1 / n_blocks``).
    """

    def __init__(self, inner: nn.Module, state: _NoiseState, stage: int, index: int, n_blocks: int):
        super().__init__()
        self.inner = inner
        self._state = state
        self.stage, self.index, self.n_blocks = stage, index, n_blocks
        self._ref: torch.Tensor | None = None  # the block's input, set by a pre-hook

    def extra_repr(self) -> str:
        return f"stage={self.stage}, index={self.index}/{self.n_blocks}, sigma={self._state.sigma}"

    def capture_ref(self, block: nn.Module, args: tuple) -> None:
        """Forward pre-hook of the block: remember its input (a bound method, so that
        ``copy.deepcopy`` of the model re-binds it to the copied wrapper)."""
        self._ref = args[0] if self._state.active else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inner(x)
        st = self._state
        ref, self._ref = self._ref, None
        if not st.active:
            return x
        if ref is None:
            ref = x
        xi = st.increment(self.stage, self.index, self.n_blocks, x)  # float32, in x's layout
        if st.shaper is not None:
            xi = st.shaper(xi)
        env = st.envelope_at(xi)
        if env is not None:
            xi = xi * env
        # The scale is differentiated only where a gradient is asked for outside training
        # (attacks, attributions); in training it is a stop-gradient constant (module docstring).
        graph = torch.is_grad_enabled() and not self.training and ref.requires_grad
        with torch.set_grad_enabled(graph):
            scale = _rms(ref) * st.sigma
        if st.record is not None:
            st.record.append(((self.stage, self.index), (scale * xi).detach().cpu()))
        if graph:
            return x + (scale * xi).to(x.dtype)
        # A constant is added: in place, in the activations' dtype and layout (bf16 activations
        # get the float32 noise rounded once, as the baseline's residual sum is bf16), which
        # leaves autograd an identity.
        if x.dtype == xi.dtype == scale.dtype:
            return x.addcmul_(xi, scale)
        return x.add_((xi * scale).to(x.dtype))


def _rms(x: torch.Tensor) -> torch.Tensor:
    """Root-mean-square per sample of ``(B, C, H, W)``, ``(B, 1, 1, 1)`` in at least float32
    (bf16 activations are reduced in float32), in one pass."""
    n = x[0].numel()
    dtype = torch.promote_types(x.dtype, torch.float32)
    return torch.linalg.vector_norm(x, dim=(1, 2, 3), keepdim=True, dtype=dtype) / math.sqrt(n)


def _stages(net: nn.Module, arch: str) -> list[list[nn.Module]]:
    if arch.startswith("convnext"):
        return [list(stage.blocks) for stage in net.stages]
    return [list(getattr(net, f"layer{i}")) for i in range(1, 5)]


def residual_blocks(model: nn.Module) -> list[tuple[int, int, nn.Module]]:
    """``(stage, index, block)`` for every residual block of a :class:`NoisyClassifier`."""
    return [(s, k, blk) for s, blocks in enumerate(_stages(model.net, model.arch)) for k, blk in enumerate(blocks)]


class NoisyClassifier(nn.Module):
    """A timm classifier with switchable Neural-SDE noise in its residual blocks.

    Baselines (``kind="baseline"``) are the same class without noise modules, so both
    kinds share ``state_dict`` keys (``net.*``) and the noise API.

    Args:
        net: the timm model.
        arch: its timm name.
        kind: ``"baseline"`` or ``"nsde"``.
        noise_shape: shape name of the NSDE noise (``None`` for a baseline).
        sigma: noise-to-activation RMS ratio per block.
        image_size: the input size the model was built for.
        noise_seed: seed of the private generator used for fresh draws.
        num_classes: output classes; in_chans: input channels.

    Attributes:
        arch, kind, noise_shape, sigma, image_size, num_classes, in_chans: as given.
        precision: ``"fp32"`` or ``"bf16"`` (:meth:`set_precision`).
    """

    def __init__(self, net: nn.Module, arch: str, kind: str, noise_shape: str | None, sigma: float,
                 image_size: int, noise_seed: int, num_classes: int, in_chans: int = 1):
        super().__init__()
        self.net = net
        self.arch, self.kind, self.noise_shape = arch, kind, noise_shape
        self.sigma, self.image_size = float(sigma), image_size
        self.num_classes, self.in_chans = int(num_classes), int(in_chans)
        self.precision = "fp32"
        # input standardisation (x - mean) / std, identity unless set from training data
        self.register_buffer("input_mean", torch.zeros(()))
        self.register_buffer("input_std", torch.ones(()))
        self._noise = _NoiseState(sigma, make_shaper(noise_shape) if kind == "nsde" else None, noise_seed)
        if kind == "nsde":
            for s, blocks in enumerate(_stages(net, arch)):
                for k, blk in enumerate(blocks):
                    inner = blk.drop_path if blk.drop_path is not None else nn.Identity()
                    wrapper = NoisyResidual(inner, self._noise, s, k, len(blocks))
                    blk.drop_path = wrapper
                    blk.register_forward_pre_hook(wrapper.capture_ref)

    # --- noise control -------------------------------------------------------------
    def set_noise(self, noise: str = "train", seed: int | None = None, samples: int = 1) -> "NoisyClassifier":
        """Choose when the noise is on (see the module docstring).

        Args:
            noise: ``"train"``, ``"off"`` or ``"on"``.
            seed: ``None`` for fresh independent draws per item and per forward, or an int
                >= 0 fixing the whole noise path (one field broadcast over the batch).
            samples: Monte-Carlo passes K >= 1; with K > 1 and noise active the forward
                returns ``log(mean_K softmax)``.

        Returns:
            The model itself.
        """
        if noise not in NOISE_MODES:
            raise ValueError(f"noise must be one of {NOISE_MODES}, but found {noise!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"noise seed must be None or an int >= 0, but found {seed!r}")
        if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
            raise ValueError(f"samples must be an int >= 1, but found {samples!r}")
        st = self._noise
        st.mode, st.seed, st.samples = noise, None if seed is None else int(seed), int(samples)
        return self

    def get_noise(self) -> tuple[str, int | None, int]:
        """The current ``(noise, seed, samples)``."""
        return self._noise.mode, self._noise.seed, self._noise.samples

    def reseed_noise(self, seed: int) -> None:
        """Restart the private generator of fresh draws from ``seed`` (training does this per epoch)."""
        self._noise.reseed(seed)

    def noise_stream(self) -> tuple:
        """An opaque snapshot of the private noise stream, for :meth:`restore_noise_stream`."""
        st = self._noise
        return st._base_seed, {k: g.get_state() for k, g in st._generators.items()}, dict(st._plans)

    def restore_noise_stream(self, snapshot: tuple) -> None:
        """Put the private noise stream back where :meth:`noise_stream` found it."""
        st = self._noise
        st._base_seed = snapshot[0]
        st._generators.clear()
        for k, state in snapshot[1].items():
            device, _, part = k.partition("#")
            st.generator(torch.device(device), int(part or 0)).set_state(state)
        st._plans = dict(snapshot[2])

    def set_envelope(self, envelope: torch.Tensor | None) -> "NoisyClassifier":
        """Set the spatial noise envelope (see the module docstring); ``None``: uniform noise.

        Args:
            envelope: non-negative, finite ``(B or 1, 1, H, W)`` map at input resolution
                ``H = W = image_size``, not all zero per sample.
        """
        if envelope is not None:
            envelope = check_envelope(envelope, self.image_size)
        self._noise.envelope = envelope
        self._noise._pooled = {}
        return self

    @property
    def noise_active(self) -> bool:
        """Whether the next forward injects noise."""
        st = self._noise
        if self.kind != "nsde" or st.sigma == 0.0 or st.mode == "off":
            return False
        return st.mode == "on" or self.training

    def set_standardization(self, mean: float, std: float) -> "NoisyClassifier":
        """Standardise inputs inside the model: ``(x - mean) / std`` before the network.

        Part of the model (buffers in its ``state_dict``), so attacks and attributions see
        images in [0, 1] and differentiate through it.
        """
        if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
            raise ValueError(f"standardisation needs a finite mean and a std > 0, but found {mean}, {std}")
        self.input_mean.fill_(float(mean))
        self.input_std.fill_(float(std))
        return self

    def set_precision(self, precision: str) -> "NoisyClassifier":
        """Run the forward pass in ``"bf16"`` (autocast, channels-last) or ``"fp32"``."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, but found {precision!r}")
        self.precision = precision
        fmt = torch.channels_last if precision == "bf16" else torch.contiguous_format
        self.net.to(memory_format=fmt)
        return self

    # --- forward ---------------------------------------------------------------------
    def _net(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.input_mean.to(x.dtype)) / self.input_std.to(x.dtype)
        if self.precision == "fp32" or x.dtype != torch.float32:
            return self.net(x)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16):
            return self.net(x).float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)`` (log mean softmax with K > 1 noisy passes)."""
        st = self._noise
        st.active = self.noise_active
        k = st.samples if st.active else 1
        if k == 1:
            st.begin_pass(0, x)
            out = self._net(x)
            st.end_pass()
            return out
        logp = []
        group = self._stacked_passes(x, k)
        for i in range(0, k, group):
            g = min(group, k - i)
            xs = x if g == 1 else x.repeat(g, *([1] * (x.dim() - 1)))
            st.begin_pass(i, xs)
            logp.extend(F.log_softmax(self._net(xs).float(), dim=-1).view(g, len(x), -1).unbind(0))
            st.end_pass()
        return torch.logsumexp(torch.stack(logp), dim=0) - math.log(k)

    def stackable(self) -> bool:
        """Whether copies of one batch stacked along it get the law of independent passes:
        in ``eval()`` (in training, BatchNorm's batch statistics would pool the copies), with
        fresh draws (a fixed ``seed`` gives each pass its own path) and without a per-image
        envelope (one map per image of the unstacked batch). Used by the ensemble
        (:meth:`_stacked_passes`) and by :func:`nsde.measures.attacks.eot_gradient`."""
        env = self._noise.envelope
        return not self.training and self._noise.seed is None and (env is None or env.shape[0] <= 1)

    def _stacked_passes(self, x: torch.Tensor, k: int) -> int:
        """How many of the ``k`` noisy passes run as one forward of the input repeated along the
        batch. Fresh draws are i.i.d. per image and per pass, so a stack of ``g`` copies is ``g``
        independent passes: the same law, in fewer, larger forwards. Only where the model is
        :meth:`stackable`, with stacking on (:data:`STACK_PASSES`), without gradients (a
        stack would hold every pass's activations at once), and up to :data:`_STACK_IMAGES`
        images per forward."""
        if not self._noise.stack or torch.is_grad_enabled() or len(x) == 0 or not self.stackable():
            return 1
        return max(1, min(k, _STACK_IMAGES // len(x)))


@contextmanager
def noise_mode(model: nn.Module, noise: str, seed: int | None = None, samples: int = 1) -> Iterator[nn.Module]:
    """Temporarily set when a model's noise is on; restores the previous setting on exit.

    Models without noise control (a plain ``nn.Module``) are left as they are.

    Args:
        model: a model from :func:`build_model` (or any module).
        noise, seed, samples: as in :meth:`NoisyClassifier.set_noise`.
    """
    if not hasattr(model, "set_noise"):
        if noise not in NOISE_MODES:
            raise ValueError(f"noise must be one of {NOISE_MODES}, but found {noise!r}")
        yield model
        return
    previous = model.get_noise()
    model.set_noise(noise, seed=seed, samples=samples)
    try:
        yield model
    finally:
        model.set_noise(*previous)


def is_random(model: nn.Module, noise: str) -> bool:
    """Whether ``model`` computes a random function with ``noise``: an NSDE with sigma > 0
    and its noise ``"on"`` (any module with ``set_noise`` and no ``kind`` counts as one)."""
    if noise != "on" or not hasattr(model, "set_noise"):
        return False
    return getattr(model, "kind", "nsde") == "nsde" and getattr(model, "sigma", 1.0) > 0


@contextmanager
def noise_rng(model: nn.Module, seed: int) -> Iterator[nn.Module]:
    """Draw the model's fresh noise from ``seed`` inside the block, then restore its previous
    noise stream, so that a scoring or an attack neither depends on nor disturbs the draws
    of the code around it. Models without ``reseed_noise`` are left alone; models without
    ``noise_stream``/``restore_noise_stream`` are reseeded but not restored."""
    if not hasattr(model, "reseed_noise"):
        yield model
        return
    saved = model.noise_stream() if hasattr(model, "noise_stream") else None
    model.reseed_noise(seed)
    try:
        yield model
    finally:
        if saved is not None:
            model.restore_noise_stream(saved)


@contextmanager
def precision_mode(model: nn.Module, precision: str | None) -> Iterator[nn.Module]:
    """Run ``model`` in ``precision`` inside the block (``None``: as it is); restores it."""
    previous = getattr(model, "precision", None)
    if precision is None or previous is None or precision == previous:
        yield model
        return
    model.set_precision(precision)
    try:
        yield model
    finally:
        model.set_precision(previous)


@contextmanager
def noise_envelope(model: nn.Module, envelope: torch.Tensor | None) -> Iterator[nn.Module]:
    """Temporarily set an NSDE's noise envelope (:meth:`NoisyClassifier.set_envelope`)."""
    if not hasattr(model, "set_envelope"):
        yield model
        return
    previous = model._noise.envelope
    model.set_envelope(envelope)
    try:
        yield model
    finally:
        model.set_envelope(previous)


@torch.no_grad()
def capture_noise(model: NoisyClassifier, x: torch.Tensor, seed: int | None = 0) -> dict[tuple[int, int], torch.Tensor]:
    """The noise an NSDE injects in one forward pass of ``x`` (noise mode ``"on"``).

    Args:
        model: an NSDE from :func:`build_model`.
        x: input batch ``(B, C_in, H, W)``.
        seed: fixed noise path (``None``: a fresh draw).

    Returns:
        ``{(stage, block): tensor}``; each tensor is ``sigma * rms * S(xi)`` as added to the
        residual branch, float32 on the CPU, ``(1 or B, C, h, w)``.
    """
    if getattr(model, "kind", None) != "nsde":
        raise ValueError(f"capture_noise needs an NSDE model, got kind={getattr(model, 'kind', None)!r}")
    st = model._noise
    st.record = []
    try:
        with noise_mode(model, "on", seed=seed, samples=1):
            model(x)
        return dict(st.record)
    finally:
        st.record = None


def build_model(arch: str, kind: str = "baseline", noise_shape: str = "brownian", sigma: float = 0.1, *,
                num_classes: int, in_chans: int = 1, image_size: int = 64,
                noise_seed: int = 0, pretrained: str | Path | None = None,
                ls_init: float | None = None) -> NoisyClassifier:
    """Build a timm baseline or its Neural-SDE variant.

    Args:
        arch: a timm name of ``ARCHS`` (``convnext_atto`` ... ``convnext_base``, ``resnet10t/14t/18/34/50``).
        kind: ``"baseline"`` or ``"nsde"``.
        noise_shape: NSDE noise shape, one of ``nsde.core.noise.SHAPES`` (ignored for a baseline).
        sigma: NSDE noise level >= 0, the per-element noise std relative to the activation RMS
            at each block (ignored for a baseline).
        num_classes: output classes; required (keyword-only), so that a head never gets a
            class count the data do not have. :class:`nsde.core.training.ModelSpec` fills it in
            from the data.
        in_chans: input channels (1 for spectrograms).
        image_size: input height/width the model will see; >= 32 (the total stride).
        noise_seed: seed of the model's private generator of fresh noise draws.
        pretrained: path of a local timm checkpoint of ``arch`` (e.g. ImageNet weights saved
            with ``torch.save(model.state_dict(), path)`` or a ``.safetensors`` file). The
            stem is adapted to ``in_chans`` (timm's ``adapt_input_conv``: RGB weights summed
            for one channel) and the classifier head is replaced (random init) when
            ``num_classes`` differs. Nothing is downloaded. ``None``: random init.
        ls_init: ConvNeXt's layer-scale initial value (timm's ``ls_init_value``, 1e-6 by
            default, which keeps the blocks nearly shut for the first thousands of steps);
            ``None`` keeps timm's default. Not accepted for ResNets.

    Returns:
        A :class:`NoisyClassifier` in training mode, ``noise="train"``, precision ``"fp32"``.

    Raises:
        ValueError: unknown names, bad sizes, a pretrained file of another architecture.
        FileNotFoundError: ``pretrained`` does not exist.
    """
    import timm

    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, but found {arch!r}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, but found {kind!r}")
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not math.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0, but found sigma={sigma!r}")
    if kind == "nsde" and noise_shape not in SHAPES:
        raise ValueError(f"noise_shape must be one of {SHAPES}, but found {noise_shape!r}")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < _MIN_SIZE:
        raise ValueError(f"image_size={image_size!r} is too small for {arch}: it needs >= {_MIN_SIZE} "
                         f"pixels (total stride 32)")
    for name, v in (("num_classes", num_classes), ("in_chans", in_chans)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, but found {v!r}")
    extra = {}
    if ls_init is not None:
        if not arch.startswith("convnext"):
            raise ValueError(f"ls_init is ConvNeXt's layer-scale init; {arch} has none (leave ls_init=None)")
        if not (isinstance(ls_init, (int, float)) and math.isfinite(ls_init) and ls_init > 0):
            raise ValueError(f"ls_init must be a number > 0, but found {ls_init!r}")
        extra["ls_init_value"] = float(ls_init)
    if pretrained is None:
        net = timm.create_model(arch, pretrained=False, in_chans=in_chans, num_classes=num_classes, **extra)
    else:
        net = _load_pretrained(arch, Path(pretrained), in_chans, num_classes, extra)
    if kind == "baseline":
        return NoisyClassifier(net, arch, kind, None, 0.0, image_size, noise_seed, num_classes, in_chans)
    return NoisyClassifier(net, arch, kind, noise_shape, float(sigma), image_size, noise_seed, num_classes, in_chans)


def _load_pretrained(arch: str, path: Path, in_chans: int, num_classes: int, extra: dict | None = None) -> nn.Module:
    """A timm model initialised from the local checkpoint ``path``, loaded strictly.

    timm's own loader (``pretrained_cfg_overlay``) only warns about keys that do not fit;
    here every weight of the checkpoint must fit the architecture, except the classifier
    when ``num_classes`` differs (a new head) and the stem, adapted to ``in_chans``.
    """
    import timm
    from timm.models import adapt_input_conv, load_state_dict

    if not path.is_file():
        raise FileNotFoundError(f"pretrained checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"pretrained checkpoint {path} is empty")
    net = timm.create_model(arch, pretrained=False, in_chans=in_chans, num_classes=num_classes, **(extra or {}))
    try:
        state = load_state_dict(str(path), use_ema=True, weights_only=True)
    except Exception as exc:  # torch/zip/pickle/safetensors errors of a damaged or foreign file
        raise ValueError(f"pretrained checkpoint {path} cannot be read ({type(exc).__name__}: "
                         f"{str(exc).split('. ')[0][:200]})") from None
    cfg = net.pretrained_cfg
    stem = f"{cfg['first_conv']}.weight"
    if stem in state and state[stem].ndim == 4 and state[stem].shape[1] != in_chans:
        state[stem] = adapt_input_conv(in_chans, state[stem], base_chans=state[stem].shape[1])
    heads = {f"{cfg['classifier']}.weight", f"{cfg['classifier']}.bias"}
    own = net.state_dict()
    for k in heads:
        if k in state and k in own and state[k].shape != own[k].shape:
            del state[k]  # another class count: the head starts fresh
    missing = sorted(set(own) - set(state) - heads)
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(state) & set(own) if state[k].shape != own[k].shape)
    if missing or unexpected or wrong:
        detail = (f"{len(missing)} weights missing (e.g. {missing[0]})" if missing else
                  f"{len(unexpected)} unknown weights (e.g. {unexpected[0]})" if unexpected else
                  f"{len(wrong)} weights of another shape (e.g. {wrong[0]})")
        raise ValueError(f"pretrained checkpoint {path} does not fit {arch} (is it another architecture?): {detail}")
    net.load_state_dict(state, strict=False)
    return net
