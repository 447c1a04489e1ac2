"""One training loop for the ConvNeXt/ResNet baselines and their Neural SDEs (Brogan et al., arXiv 2409.01532).

Both variants are trained by the same function, so the only difference between them is the
noise in the residual blocks (:mod:`nsde.core.models`): AdamW (its fused kernel where PyTorch has
one, :func:`nsde._infra.runtime.optimizer_options`) with timm's parameter groups (no
weight decay on norms and biases, ``timm.optim.param_groups_weight_decay``), timm's cosine
learning-rate schedule with a linear warm-up, per step (``timm.scheduler.CosineLRScheduler``);
cross-entropy on the logits; the precision of :func:`nsde._infra.runtime.precision` (bf16 autocast
and channels-last where the hardware has native bfloat16). After every epoch the model is
evaluated on the validation split with the noise **off** (the drift path: cheap and
deterministic), the weights with the best validation accuracy are kept, a checkpoint is
written atomically (model, optimiser, schedule, history, best weights) and the per-epoch
metrics are saved as JSON, so an interrupted run resumes from its last finished epoch and
ends with the same weights as an uninterrupted one (shuffling and noise are drawn from
private generators reseeded per epoch). A damaged checkpoint is reported and training
starts over.

**Few steps: BatchNorm statistics re-estimated.** BatchNorm's running statistics are an
exponential average (momentum 0.1) of the batches the weights have just changed under; a
run of only a few dozen steps ends with statistics of early weights, and an evaluation with
them can put every image in one class while the same weights score well with the batch's
own statistics. A run of fewer than :data:`FEW_STEPS` optimisation steps therefore
re-estimates them after every epoch, before validation (:func:`recalibrate_batchnorm`: the
mean and variance over the training split under the current weights, noise off), so
that the validation that selects the epoch and the kept weights see the statistics of
those weights. Longer runs (every shipped profile's) are unchanged, and so are their keys;
the runs that re-estimate carry it in their key.

Trained models are cached under ``cache_root()/models/<key>``; the key hashes the
:class:`ModelSpec`, the :class:`TrainConfig`, the **content** of the training and
validation tensors (not only the configuration that produced them), the precision, the CPU
thread count of a CPU run (``NSDE_THREADS``: sums split over 1 and 2 threads round
differently, so the weights differ) and, for NSDEs, :data:`NSDE_TRAINING_VERSION`.
:func:`train_or_load` trains once and loads afterwards, and :func:`train_zoo` does so for
every model the book uses.

Training runs on one device, or data-parallel under ``torchrun`` (:mod:`nsde._infra.distributed`).
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from nsde._infra import distributed as dist
from nsde._infra.cache import (artifact_dir, check_free_space, config_hash, load_or_heal, save_json, save_torch,
                               tensor_hash)
from nsde._infra.checks import check_images, check_labels, check_model_input
from nsde._infra.runtime import (DEFAULT_THREADS, default_device, derive_seed, model_device, optimizer_options,
                                 precision, progress)
from nsde.core.models import ARCHS, KINDS, NoisyClassifier, build_model, noise_mode
from nsde.core.noise import SHAPES, check_envelope
from nsde.core.predict import evaluate
from nsde.data import stratified_subset

__all__ = ["ModelSpec", "TrainConfig", "TrainedModel", "NSDE_TRAINING_VERSION", "TRAINING_VERSION", "FEW_STEPS",
           "train", "train_or_load", "data_key", "checkpoint_bytes", "steps_per_epoch", "recalibrate_batchnorm",
           "recalibrates"]

#: Version of the NSDE training computation; part of an NSDE model's cache key, so that
#: weights trained by an older implementation are never loaded as current ones.
#: 2: the noise scale ``sigma * rms`` is a stop-gradient constant in training.
#: 3: noise drawn once per pass from two generators, shaped by separable matrix products,
#: added in the activations' dtype (bf16 residual sums stay bf16, as the baseline's).
NSDE_TRAINING_VERSION = 3
#: Version of the training loop itself (optimiser groups, schedule); part of every key.
#: 2: timm's parameter groups and cosine scheduler; precision policy.
#: 3: AdamW's fused kernel where PyTorch has one (:func:`nsde._infra.runtime.optimizer_options`).
TRAINING_VERSION = 3
#: Runs of fewer optimisation steps than this re-estimate BatchNorm statistics after every
#: epoch (module docstring). Measured on a generated two-class set (48 training series of
#: 150 samples, ``tests/_user_data.py``; ResNet-10-T, 3 steps per epoch): without it, 7 of 8
#: runs of 20 to 48 steps ended at chance (50% test accuracy, 6 of them predicting one
#: class), runs of 72 steps did not; with it, the runs of 20 and 24 steps reached 95-100%.
#: The shipped profiles' shortest run (PLAID at the quick profile) takes 84 steps.
FEW_STEPS = 64


@dataclass(frozen=True)
class ModelSpec:
    """What model to train.

    Attributes:
        arch: timm architecture (``nsde.core.models.ARCHS``).
        kind: ``"baseline"`` or ``"nsde"``.
        noise_shape: NSDE noise shape (``nsde.core.noise.SHAPES``); ignored for a baseline.
        sigma: NSDE noise level (noise std / activation RMS per block); ignored for a baseline.
        num_classes: output classes; ``None`` takes the class count of the data it is
            trained on, an int must match it.
        pretrained: path of a local timm checkpoint to start from (``None``: random init).
        ls_init: ConvNeXt's layer-scale init (``None``: timm's 1e-6).
        standardize: standardise inputs with the training split's mean and std, inside the
            model (a ConvNeXt's LayerNorm stem needs it; BatchNorm ResNets do not).
    """

    arch: str = "resnet10t"
    kind: str = "baseline"
    noise_shape: str = "brownian"
    sigma: float = 0.1
    num_classes: int | None = None
    pretrained: str | None = None
    ls_init: float | None = None
    standardize: bool = False

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"ModelSpec.arch must be one of {ARCHS}, but found {self.arch!r}")
        if self.kind not in KINDS:
            raise ValueError(f"ModelSpec.kind must be one of {KINDS}, but found {self.kind!r}")
        if self.kind == "nsde" and self.noise_shape not in SHAPES:
            raise ValueError(f"ModelSpec.noise_shape must be one of {SHAPES}, but found {self.noise_shape!r}")
        if isinstance(self.sigma, bool) or not isinstance(self.sigma, (int, float)) or not self.sigma >= 0:
            raise ValueError(f"ModelSpec.sigma must be a number >= 0, but found {self.sigma!r}")
        n = self.num_classes
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 2):
            raise ValueError(f"ModelSpec.num_classes must be None or an int >= 2, but found {n!r}")
        if self.pretrained is not None:
            object.__setattr__(self, "pretrained", str(self.pretrained))

    def canonical(self) -> "ModelSpec":
        """The spec with the fields a baseline ignores blanked, so they do not change its key."""
        if self.kind == "baseline":
            return replace(self, noise_shape="none", sigma=0.0)
        return replace(self, sigma=float(self.sigma))

    @property
    def name(self) -> str:
        return "baseline" if self.kind == "baseline" else f"nsde-{self.noise_shape}"

    def build(self, image_size: int, num_classes: int, noise_seed: int = 0, in_chans: int = 1) -> NoisyClassifier:
        """A freshly initialised model (uses the global torch RNG for the weights) taking
        ``in_chans``-channel images."""
        return build_model(self.arch, self.kind, noise_shape=self.noise_shape, sigma=self.sigma,
                           num_classes=num_classes, in_chans=in_chans, image_size=image_size, noise_seed=noise_seed,
                           pretrained=self.pretrained, ls_init=self.ls_init)


@dataclass(frozen=True)
class TrainConfig:
    """How to train.

    Attributes:
        epochs: passes over the training split.
        batch_size: images per step (the global batch under ``torchrun``).
        lr: peak AdamW learning rate.
        weight_decay: AdamW decoupled weight decay (not on norms and biases).
        warmup_frac: fraction of all steps with a linear learning-rate warm-up.
        seed: seed of the weight initialisation, the shuffling and the noise.
        eval_batch_size: batch size of the validation passes.
        train_fraction: share of the training split used, a class-stratified random subset
            drawn with ``seed`` (``nsde.data.stratified_subset``); the validation and test
            splits are unchanged. Less than 1 only for the less-training-data study.
    """

    epochs: int = 6
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_frac: float = 0.05
    seed: int = 0
    eval_batch_size: int = 256
    train_fraction: float = 1.0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"TrainConfig.{name} must be an int >= 1, but found {v!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"TrainConfig.seed must be an int >= 0, but found {self.seed!r}")
        if isinstance(self.lr, bool) or not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"TrainConfig.lr must be a finite number > 0, but found {self.lr!r}")
        if not (isinstance(self.weight_decay, (int, float)) and self.weight_decay >= 0):
            raise ValueError(f"TrainConfig.weight_decay must be >= 0, but found {self.weight_decay!r}")
        if not (isinstance(self.warmup_frac, (int, float)) and 0 <= self.warmup_frac < 1):
            raise ValueError(f"TrainConfig.warmup_frac must be in [0, 1), but found {self.warmup_frac!r}")
        f = self.train_fraction
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f <= 1:
            raise ValueError(f"TrainConfig.train_fraction must be in (0, 1], but found {f!r}")
        object.__setattr__(self, "lr", float(self.lr))
        object.__setattr__(self, "train_fraction", float(f))  # 1 and 1.0 give one cache key


@dataclass
class TrainedModel:
    """A trained model with its provenance.

    Attributes:
        model: the network (best validation epoch), in ``eval()`` mode, ``noise="train"``.
        history: per-epoch metrics, dicts with ``epoch, train_loss, train_acc, val_loss,
            val_acc, lr, seconds``.
        spec: the :class:`ModelSpec` (canonical form, ``num_classes`` filled in).
        key: identifies the trained weights (spec, config, data content, precision, CPU
            thread count): use it in the cache keys of results computed from the model.
        train_cfg: the :class:`TrainConfig`.
        best_epoch: the epoch (1-based) whose weights were kept.
        path: the cache folder of the model.
        envelope: the test-time noise envelope set on ``model`` (attribution-shaped noise,
            :mod:`nsde.studies.attribution_noise`), or ``None`` (uniform noise).
    """

    model: NoisyClassifier
    history: list[dict]
    spec: ModelSpec
    key: str
    train_cfg: TrainConfig
    best_epoch: int = 0
    path: Path | None = None
    envelope: torch.Tensor | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def seed(self) -> int:
        return self.train_cfg.seed


def _xy(data, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = data
    elif hasattr(data, "x") and hasattr(data, "y"):
        x, y = data.x, data.y
    else:
        raise TypeError(f"{name} must be a split with .x/.y or a tuple (x, y), but found {type(data).__name__}")
    x = check_images(torch.as_tensor(x), f"{name}.x")
    return x, check_labels(y, len(x), name=f"{name}.y")


def steps_per_epoch(n_images: int, batch_size: int, world_size: int = 1) -> int:
    """Optimisation steps per epoch over ``n_images``: one per batch, a last batch of one
    image per rank dropped (it cannot train BatchNorm)."""
    steps = math.ceil(n_images / batch_size)
    if steps > 1 and 0 < n_images % batch_size < 2 * world_size:
        steps -= 1
    return steps


def recalibrates(model: nn.Module, n_images: int, cfg: TrainConfig, world_size: int = 1) -> bool:
    """Whether training ``model`` on ``n_images`` with ``cfg`` re-estimates its BatchNorm
    statistics (it has BatchNorm layers and the run takes fewer than :data:`FEW_STEPS` steps)."""
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    return has_bn and steps_per_epoch(n_images, cfg.batch_size, world_size) * cfg.epochs < FEW_STEPS


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, x: torch.Tensor, batch_size: int = 256,
                          device: torch.device | None = None) -> None:
    """Set every BatchNorm layer's running mean and variance to their values over ``x``
    under the current weights, noise off: the average of the statistics of batches of
    ``batch_size`` (exact for a set of one batch); the model's mode and noise setting are
    restored.

    Args:
        model: the network.
        x: the training images ``(N, C, H, W)``.
        batch_size: images per forward pass.
        device: where to run (default: where ``x`` is).
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not bns:
        return
    saved = [(m, m.momentum) for m in bns]
    was_training = model.training
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
    model.train()
    try:
        with noise_mode(model, "off"):
            for i in range(0, len(x), batch_size):
                model(x[i:i + batch_size].to(device or x.device))
    finally:
        for m, momentum in saved:
            m.momentum = momentum
        model.train(was_training)


def _optimizer(model: nn.Module, cfg: TrainConfig, steps_per_epoch: int):
    from timm.optim import param_groups_weight_decay
    from timm.scheduler import CosineLRScheduler

    opt = torch.optim.AdamW(param_groups_weight_decay(model, cfg.weight_decay), lr=cfg.lr,
                            **optimizer_options(model_device(model)))
    total = steps_per_epoch * cfg.epochs
    warmup = max(1, round(cfg.warmup_frac * total))
    sched = CosineLRScheduler(opt, t_initial=max(1, total - warmup), lr_min=0.0, warmup_t=warmup,
                              warmup_lr_init=cfg.lr / warmup, warmup_prefix=True, t_in_epochs=False)
    return opt, sched


def train(model: NoisyClassifier, train_data, val_data, cfg: TrainConfig, *, ckpt_dir: str | Path | None = None,
          key: str | None = None, device: torch.device | None = None, stop_after: int | None = None,
          desc: str = "train", envelopes: torch.Tensor | None = None) -> list[dict]:
    """Train ``model`` in place and load its best-validation weights.

    Args:
        model: a model from :func:`nsde.core.models.build_model` (baseline or NSDE); its precision
            is set from :func:`nsde._infra.runtime.precision`.
        train_data, val_data: splits with ``.x`` (float ``(N, C, H, W)`` in [0, 1]) and ``.y``
            (int64 ``(N,)``), or tuples ``(x, y)``.
        cfg: the :class:`TrainConfig`.
        ckpt_dir: folder of ``checkpoint.pt`` and ``metrics.json``; an existing checkpoint
            there is resumed (it must carry ``key``). ``None``: no checkpoints.
        key: identifies the configuration; required with ``ckpt_dir``, so that a checkpoint
            of another configuration is never adopted.
        device: default ``nsde._infra.runtime.default_device()``.
        stop_after: stop after this many epochs (simulates an interruption; the checkpoint
            is kept and a later call resumes). The best weights are then not loaded.
        desc: progress-bar label.
        envelopes: per-training-image noise envelopes ``(N, 1, H, W)`` (attribution-shaped
            noise, :mod:`nsde.studies.attribution_noise`); each step's images get their own. ``None``: uniform.

    Returns:
        The per-epoch history (list of dicts).

    Raises:
        ValueError: bad data, labels outside the model's classes, a checkpoint of another
            configuration, ``ckpt_dir`` without ``key``, envelopes that do not match the data.
    """
    if ckpt_dir is not None and key is None:
        raise ValueError("train(ckpt_dir=...) needs key=... to tell its checkpoints from another configuration's")
    device = torch.device(device) if device is not None else default_device()
    xtr, ytr = _xy(train_data, "train_data")
    val = _xy(val_data, "val_data")
    for name, x in (("train_data", xtr), ("val_data", val[0])):
        try:
            check_model_input(model, x)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    n_classes = getattr(model, "num_classes", None)
    for name, labels in (("train_data", ytr), ("val_data", val[1])):
        if n_classes is not None and int(labels.max()) >= n_classes:
            raise ValueError(f"{name} holds class {int(labels.max())}, but the model has {n_classes} outputs "
                             "(build it with the data's class count)")
    if envelopes is not None:
        envelopes = check_envelope(envelopes, xtr.shape[-1])
        if len(envelopes) != len(xtr):
            raise ValueError(f"envelopes holds {len(envelopes)} maps for {len(xtr)} training images")
    model.to(device)
    if hasattr(model, "set_precision"):
        model.set_precision(precision(device, getattr(model, "arch", None)))
    ctx = dist.context()
    if cfg.batch_size % ctx.world_size:
        raise ValueError(f"TrainConfig.batch_size={cfg.batch_size} is not divisible by the torchrun world size "
                         f"{ctx.world_size}; choose a batch size that is a multiple of it")
    if device.type == "cuda":
        xtr, ytr = xtr.to(device), ytr.to(device)
    n_steps = steps_per_epoch(len(xtr), cfg.batch_size, ctx.world_size)
    recalibrate = recalibrates(model, len(xtr), cfg, ctx.world_size)
    opt, sched = _optimizer(model, cfg, n_steps)
    history: list[dict] = []
    best_state, best_epoch, best_score = None, 0, None
    start = 0
    ckpt = Path(ckpt_dir) / "checkpoint.pt" if ckpt_dir is not None else None
    if ckpt is not None and ctx.rank == 0:  # a full disk is named before an epoch of work, not after
        check_free_space(ckpt.parent, checkpoint_bytes(model), f"the checkpoint of {desc}")
    state = load_or_heal(ckpt, map_location=device) if ckpt is not None else None
    if state is not None:
        if state.get("key") != key:
            raise ValueError(f"checkpoint {ckpt} belongs to configuration {state.get('key')!r}, not {key!r}; "
                             "delete it or use the matching configuration")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        history, best_state, best_epoch = state["history"], state["best_state"], state["best_epoch"]
        best_score = state["best_score"]
        start = state["epoch"]
    net = dist.wrap(model, device)

    for epoch in range(start, cfg.epochs):
        t0 = time.perf_counter()
        model.train()
        # each rank draws its own noise; rank 0 draws exactly what a single process would
        model.reseed_noise(derive_seed(cfg.seed, epoch, 1) if ctx.rank == 0 else derive_seed(cfg.seed, epoch, 1, ctx.rank))
        perm = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(derive_seed(cfg.seed, epoch, 0)))
        loss_sum, correct = torch.zeros((), device=device), torch.zeros((), device=device)
        bar = progress(range(n_steps), desc=f"{desc} {epoch + 1}/{cfg.epochs}", leave=False,
                       disable=None if ctx.rank == 0 else True)
        for i in bar:
            idx = perm[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            share = dist.shard(len(idx), ctx)
            mine = idx[share].to(xtr.device)
            xb, yb = xtr[mine].to(device, non_blocking=True), ytr[mine].to(device, non_blocking=True)
            if envelopes is not None:
                model.set_envelope(envelopes[mine.cpu()].to(device))
            logits = net(xb)
            # mean over the global batch: each rank's sum divided by the global batch size
            loss = F.cross_entropy(logits.float(), yb, reduction="sum") * (ctx.world_size / len(idx))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step_update(epoch * n_steps + i + 1)
            loss_sum += loss.detach() * len(idx) / ctx.world_size
            correct += (logits.argmax(1) == yb).sum()
        loss_sum, correct = dist.all_reduce_sum(loss_sum), dist.all_reduce_sum(correct)
        if envelopes is not None:
            model.set_envelope(None)
        if recalibrate:
            recalibrate_batchnorm(model, xtr, cfg.eval_batch_size, device)

        with noise_mode(model, "off"):
            v = evaluate(model, val, batch_size=cfg.eval_batch_size)
        seen = min(len(xtr), n_steps * cfg.batch_size)
        row = {"epoch": epoch + 1, "train_loss": float(loss_sum) / seen, "train_acc": float(correct) / seen,
               "val_loss": v["loss"], "val_acc": v["acc"], "lr": opt.param_groups[0]["lr"],
               "seconds": time.perf_counter() - t0}
        history.append(row)
        score = (v["acc"], -v["loss"])
        if best_score is None or score > tuple(best_score):
            best_score, best_epoch = score, epoch + 1
            best_state = {k: t.detach().to("cpu", copy=True) for k, t in model.state_dict().items()}
        if ckpt is not None and ctx.rank == 0:
            save_torch({"key": key, "epoch": epoch + 1, "model": model.state_dict(), "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict(), "history": history, "best_state": best_state,
                        "best_epoch": best_epoch, "best_score": best_score}, ckpt)
            save_json(history, ckpt.parent / "metrics.json")
        if stop_after is not None and epoch + 1 >= stop_after and epoch + 1 < cfg.epochs:
            return history
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    model.best_epoch = best_epoch
    return history


def checkpoint_bytes(model: nn.Module) -> int:
    """The size of a training checkpoint of ``model``: its weights, AdamW's two moments per
    parameter and the best epoch's weights (four copies of the state), in bytes."""
    state = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    params = sum(p.numel() * 4 for p in model.parameters() if p.requires_grad)
    return 2 * state + 2 * params


def data_key(train_data, val_data) -> str:
    """Content hash of the tensors a model is trained and selected on."""
    (xt, yt), (xv, yv) = _xy(train_data, "train_data"), _xy(val_data, "val_data")
    return tensor_hash(xt, yt, xv, yv)


def _file_digest(path: str | None) -> str | None:
    if path is None:
        return None
    import hashlib

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"ModelSpec.pretrained: no checkpoint at {p}")
    return hashlib.sha256(p.read_bytes()).hexdigest()[:16]


def _key_parts(spec: ModelSpec, train_cfg: TrainConfig, data: str, prec: str, threads: int | None = None,
               optimizer: dict | None = None) -> tuple:
    """What a trained model's cache key is computed from (``spec`` canonical, classes filled).

    ``threads``: the intra-op CPU threads of a CPU training run (``NSDE_THREADS``), which
    change the rounding of its sums and so its weights; ``None`` on a GPU. A run with the
    default thread count (:data:`nsde._infra.runtime.DEFAULT_THREADS`) leaves it out of the
    key, so that the keys of the book's own models did not change when the thread count
    joined the key; any other count gives other keys. ``optimizer``: the AdamW options
    (:func:`nsde._infra.runtime.optimizer_options`); the fused kernel rounds differently
    from the per-tensor loop.
    """
    parts = (spec, train_cfg, ("data", data), ("precision", prec))
    if threads is not None and threads != DEFAULT_THREADS:
        parts += (("cpu_threads", threads),)
    parts += (("training_version", TRAINING_VERSION), ("pretrained_digest", _file_digest(spec.pretrained)))
    if optimizer:
        parts += (("adamw", sorted(optimizer.items())),)
    return parts + ((("nsde_training_version", NSDE_TRAINING_VERSION),) if spec.kind == "nsde" else ())


def train_or_load(spec: ModelSpec, train_cfg: TrainConfig, splits, *, device: torch.device | None = None,
                  refresh: bool = False, envelopes: torch.Tensor | None = None,
                  envelope_key: str | None = None) -> TrainedModel:
    """Train a model once and load it from the cache afterwards.

    The cache key includes a content hash of the training subset and the validation split
    actually used, so the same configurations on other data (another split, another file)
    train a new model.

    Args:
        spec: the :class:`ModelSpec` (``num_classes=None``: the data's class count).
        train_cfg: the :class:`TrainConfig`.
        splits: the data, with ``.train`` and ``.val`` (``.x``, ``.y``) and, optionally,
            ``.class_names``; the image size is read from the images.
        device: default ``nsde._infra.runtime.default_device()``.
        refresh: retrain even when cached weights exist.
        envelopes: noise envelopes of the training split's images ``(N, 1, H, W)``
            (:mod:`nsde.studies.attribution_noise`). ``None``: uniform noise.
        envelope_key: what the envelopes were computed from (the previous model's key and
            the attribution settings), the part of the cache key that stands for them; by
            default a hash of their values (which nondeterministic GPU attributions would
            change from run to run).

    Returns:
        A :class:`TrainedModel` in ``eval()`` mode on ``device``, taking images of the
        data's channel count (``in_chans``, part of the data's content in the key).

    Raises:
        ValueError: ``spec.num_classes`` differs from the data's class count; bad data.
    """
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"spec must be a ModelSpec, but found {type(spec).__name__}")
    if not isinstance(train_cfg, TrainConfig):
        raise TypeError(f"train_cfg must be a TrainConfig, but found {type(train_cfg).__name__}")
    for name in ("train", "val"):
        if not hasattr(splits, name):
            raise TypeError(f"splits must have .train and .val splits, but found {type(splits).__name__}")
    n_data = _num_classes(splits)
    if spec.num_classes is not None and spec.num_classes != n_data:
        raise ValueError(f"ModelSpec.num_classes={spec.num_classes}, but the data have {n_data} classes; "
                         "leave num_classes=None to take the data's")
    spec = replace(spec, num_classes=n_data).canonical()
    device = torch.device(device) if device is not None else default_device()
    train_data = stratified_subset(splits.train, train_cfg.train_fraction, seed=train_cfg.seed)
    if envelopes is not None:
        if train_cfg.train_fraction < 1:
            raise ValueError("envelopes are given per image of the whole training split; use train_fraction=1")
        if len(envelopes) != len(train_data.y):
            raise ValueError(f"envelopes holds {len(envelopes)} maps for {len(train_data.y)} training images")
    prec = precision(device, spec.arch)
    threads = torch.get_num_threads() if device.type == "cpu" else None
    parts = _key_parts(spec, train_cfg, data_key(train_data, splits.val), prec, threads, optimizer_options(device))
    if envelopes is not None:
        parts = parts + (("envelopes", envelope_key or tensor_hash(envelopes)),)
    world = dist.context().world_size
    if world > 1:  # BatchNorm statistics and noise are per rank: not the single-process weights
        parts = parts + (("world_size", world),)
    image_size, in_chans = int(splits.train.x.shape[-1]), int(splits.train.x.shape[1])
    # Weight init from the training seed, without disturbing the caller's global RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(train_cfg.seed)
        model = spec.build(image_size, n_data, noise_seed=derive_seed(train_cfg.seed, 2), in_chans=in_chans)
    if recalibrates(model, len(train_data.y), train_cfg, world):  # only short runs: other keys are unchanged
        parts = parts + (("batchnorm_recalibration", 1),)
    key = config_hash(*parts)
    folder = artifact_dir("models", *parts)
    final = folder / "model.pt"
    state = None if refresh else load_or_heal(final)
    if state is not None and state.get("key") != key:
        raise ValueError(f"model file {final} belongs to configuration {state.get('key')!r}, not {key!r}")
    if state is not None:
        model.load_state_dict(state["model"])
        history, best_epoch = state["history"], state["best_epoch"]
    else:
        if refresh and dist.context().rank == 0:
            (folder / "checkpoint.pt").unlink(missing_ok=True)
        dist.barrier()
        if spec.standardize:
            model.set_standardization(float(train_data.x.mean()), float(train_data.x.std()))
        history = train(model, train_data, splits.val, train_cfg, ckpt_dir=folder, key=key, device=device,
                        desc=f"{spec.name} seed {train_cfg.seed}", envelopes=envelopes)
        best_epoch = model.best_epoch
        if dist.context().rank == 0:
            save_torch({"key": key, "model": {k: v.cpu() for k, v in model.state_dict().items()},
                        "history": history, "best_epoch": best_epoch, "spec": asdict(spec),
                        "train_cfg": asdict(train_cfg)}, final)
        dist.barrier()
    model.to(device).set_precision(prec)
    model.eval()
    return TrainedModel(model=model, history=history, spec=spec, key=key, train_cfg=train_cfg,
                        best_epoch=best_epoch, path=folder)


def _num_classes(splits) -> int:
    names = getattr(splits, "class_names", None)
    if names:
        return len(names)
    return int(max(int(splits.train.y.max()), int(splits.val.y.max()))) + 1

