"""One training loop for the ConvNeXt baseline and its Neural SDE (Brogan et al., arXiv 2409.01532).

Both variants are trained by the same function, so the only difference between them is the
noise in the residual blocks (:mod:`nsde.models`): AdamW (no weight decay on norms and
biases) with a linear warm-up and a cosine learning-rate schedule, per step; bf16 autocast
and ``channels_last`` on CUDA only; cross-entropy on the logits. After every epoch the
model is evaluated on the validation split with the noise **off** (the drift path: cheap and
deterministic), the weights with the best validation accuracy are kept, a checkpoint is
written atomically (model, optimiser, schedule, history, best weights) and the per-epoch
metrics are saved as JSON, so an interrupted run resumes from its last finished epoch and
ends with the same weights as an uninterrupted one (shuffling and noise are drawn from
private generators reseeded per epoch).

Trained models are cached under ``cache_root()/models/<hash of (ModelSpec, TrainConfig,
DataConfig)>``; :func:`train_or_load` trains once and loads afterwards, and
:func:`train_zoo` does so for every model the book uses.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from nsde.cache import artifact_dir, config_hash, load_json, load_torch, save_json, save_torch
from nsde.models import ARCHS, KINDS, NoisyClassifier, build_model, noise_mode
from nsde.noise import SHAPES
from nsde.runtime import default_device, progress

__all__ = ["ModelSpec", "TrainConfig", "TrainedModel", "train", "evaluate", "train_or_load", "train_zoo",
           "predict", "zoo_names", "correctness", "accuracy_table", "plot_history", "plot_confusion",
           "confusion_matrix", "train_fraction_zoo", "data_size_table", "plot_data_size"]


@dataclass(frozen=True)
class ModelSpec:
    """What model to train.

    Attributes:
        arch: timm architecture (``nsde.models.ARCHS``).
        kind: ``"baseline"`` or ``"nsde"``.
        noise: NSDE noise shape (``nsde.noise.SHAPES``); ignored for a baseline.
        sigma: NSDE noise level (noise std / activation RMS per block); ignored for a baseline.
        num_classes: output classes.
    """

    arch: str = "convnext_atto"
    kind: str = "baseline"
    noise: str = "brownian"
    sigma: float = 0.1
    num_classes: int = 16

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"ModelSpec.arch: unknown architecture {self.arch!r}; expected one of {ARCHS}")
        if self.kind not in KINDS:
            raise ValueError(f"ModelSpec.kind: unknown kind {self.kind!r}; expected one of {KINDS}")
        if self.kind == "nsde" and self.noise not in SHAPES:
            raise ValueError(f"ModelSpec.noise: unknown noise shape {self.noise!r}; expected one of {SHAPES}")
        if isinstance(self.sigma, bool) or not isinstance(self.sigma, (int, float)) or not self.sigma >= 0:
            raise ValueError(f"ModelSpec.sigma must be >= 0, got {self.sigma!r}")

    def canonical(self) -> "ModelSpec":
        """The spec with the fields a baseline ignores blanked, so they do not change its key."""
        if self.kind == "baseline":
            return replace(self, noise="none", sigma=0.0)
        return replace(self, sigma=float(self.sigma))

    @property
    def name(self) -> str:
        return "baseline" if self.kind == "baseline" else f"nsde-{self.noise}"

    def build(self, image_size: int, noise_seed: int = 0) -> NoisyClassifier:
        """A freshly initialised model (uses the global torch RNG for the weights)."""
        return build_model(self.arch, self.kind, noise=self.noise, sigma=self.sigma,
                           num_classes=self.num_classes, image_size=image_size, noise_seed=noise_seed)


@dataclass(frozen=True)
class TrainConfig:
    """How to train.

    Attributes:
        epochs: passes over the training split.
        batch_size: images per step.
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
                raise ValueError(f"TrainConfig.{name} must be an int >= 1, got {v!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"TrainConfig.seed must be an int >= 0, got {self.seed!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr!r}")
        if not (isinstance(self.weight_decay, (int, float)) and self.weight_decay >= 0):
            raise ValueError(f"TrainConfig.weight_decay must be >= 0, got {self.weight_decay!r}")
        if not (isinstance(self.warmup_frac, (int, float)) and 0 <= self.warmup_frac < 1):
            raise ValueError(f"TrainConfig.warmup_frac must be in [0, 1), got {self.warmup_frac!r}")
        f = self.train_fraction
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f <= 1:
            raise ValueError(f"TrainConfig.train_fraction must be in (0, 1], got {f!r}")
        object.__setattr__(self, "train_fraction", float(f))  # 1 and 1.0 give one cache key


@dataclass
class TrainedModel:
    """A trained model with its provenance.

    Attributes:
        model: the network (best validation epoch), in ``eval()`` mode, noise mode ``"train"``.
        history: per-epoch metrics, dicts with ``epoch, train_loss, train_acc, val_loss,
            val_acc, lr, seconds``.
        spec: the :class:`ModelSpec` (canonical form).
        key: hash of (spec, train config, data config): identifies the weights; use it in the
            cache keys of results computed from the model.
        train_cfg: the :class:`TrainConfig`.
        data_cfg: the data configuration.
        best_epoch: the epoch (1-based) whose weights were kept.
        path: the cache folder of the model.
    """

    model: NoisyClassifier
    history: list[dict]
    spec: ModelSpec
    key: str
    train_cfg: TrainConfig
    data_cfg: Any = None
    best_epoch: int = 0
    path: Path | None = None

    @property
    def name(self) -> str:
        return self.spec.name


def _entropy(*ints: int) -> int:
    return int(np.random.SeedSequence(list(ints)).generate_state(1)[0] & 0x7FFFFFFF)


def _xy(data) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = data
    elif hasattr(data, "x") and hasattr(data, "y"):
        x, y = data.x, data.y
    else:
        raise TypeError(f"expected a split with .x/.y or a tuple (x, y), got {type(data).__name__}")
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    if x.dim() != 4 or y.dim() != 1 or len(x) != len(y):
        raise ValueError(f"expected x (N, C, H, W) and y (N,), got {tuple(x.shape)} and {tuple(y.shape)}")
    return x.float(), y.long()


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _lr_lambda(total: int, warmup: int):
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        t = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
    return f


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def evaluate(model: nn.Module, data, batch_size: int = 256) -> dict[str, float]:
    """Mean cross-entropy and accuracy of ``model`` under its current noise mode, in ``eval()``.

    Args:
        model: a model from :func:`nsde.models.build_model`.
        data: a split (``.x``, ``.y``) or a tuple ``(x, y)``.
        batch_size: images per forward.

    Returns:
        ``{"loss": float, "acc": float}``.
    """
    x, y = _xy(data)
    probs = predict(model, x, batch_size=batch_size)
    loss = F.nll_loss(probs.clamp_min(1e-12).log(), y).item()
    return {"loss": loss, "acc": (probs.argmax(1) == y).float().mean().item()}


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Softmax probabilities under the model's current noise mode.

    The model is put in ``eval()`` for the call (and restored afterwards), so noise mode
    ``"train"`` means no noise here; set mode ``"on"`` (with ``samples=K``) for noisy
    predictions.

    Args:
        model: a model from :func:`nsde.models.build_model`.
        x: images, float ``(N, C, H, W)``.
        batch_size: images per forward.

    Returns:
        float32 tensor ``(N, num_classes)`` on the CPU; rows sum to 1.
    """
    x = torch.as_tensor(x)
    if x.dim() != 4:
        raise ValueError(f"predict expects images (N, C, H, W), got shape {tuple(x.shape)}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    was_training = model.training
    model.eval()
    device = _model_device(model)
    out = []
    try:
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size].to(device, dtype=torch.float32)
            out.append(F.softmax(model(xb).float(), dim=-1).cpu())
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, 0)


def train(model: NoisyClassifier, train_data, val_data, cfg: TrainConfig, *, ckpt_dir: str | Path | None = None,
          key: str | None = None, device: torch.device | None = None, stop_after: int | None = None,
          desc: str = "train") -> list[dict]:
    """Train ``model`` in place and load its best-validation weights.

    Args:
        model: a model from :func:`nsde.models.build_model` (baseline or NSDE).
        train_data, val_data: splits with ``.x`` (float ``(N, C, H, W)``) and ``.y`` (int64 ``(N,)``),
            or tuples ``(x, y)``.
        cfg: the :class:`TrainConfig`.
        ckpt_dir: folder of ``checkpoint.pt`` and ``metrics.json``; an existing checkpoint
            there is resumed. ``None``: no checkpoints.
        key: identifies the configuration; a checkpoint written under another key raises.
        device: default ``nsde.runtime.default_device()``.
        stop_after: stop after this many epochs (simulates an interruption; the checkpoint
            is kept and a later call resumes). The best weights are then not loaded.
        desc: progress-bar label.

    Returns:
        The per-epoch history (list of dicts).
    """
    device = torch.device(device) if device is not None else default_device()
    cuda = device.type == "cuda"
    xtr, ytr = _xy(train_data)
    val = _xy(val_data)
    model.to(device)
    if cuda:
        model.to(memory_format=torch.channels_last)
        xtr, ytr = xtr.to(device), ytr.to(device)
    opt = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=cfg.lr)
    steps_per_epoch = math.ceil(len(xtr) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(total, max(1, round(cfg.warmup_frac * total))))
    history: list[dict] = []
    best_state, best_epoch, best_score = None, 0, None
    start = 0
    ckpt = Path(ckpt_dir) / "checkpoint.pt" if ckpt_dir is not None else None
    if ckpt is not None and ckpt.exists():
        state = load_torch(ckpt, map_location=device)
        if key is not None and state.get("key") != key:
            raise ValueError(f"checkpoint {ckpt} belongs to configuration {state.get('key')!r}, not {key!r}; "
                             "delete it or use the matching configuration")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        history, best_state, best_epoch = state["history"], state["best_state"], state["best_epoch"]
        best_score = state["best_score"]
        start = state["epoch"]

    for epoch in range(start, cfg.epochs):
        t0 = time.perf_counter()
        model.train()
        model.reseed_noise(_entropy(cfg.seed, epoch, 1))
        perm = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(_entropy(cfg.seed, epoch, 0)))
        loss_sum, correct = 0.0, 0
        bar = progress(range(steps_per_epoch), desc=f"{desc} {epoch + 1}/{cfg.epochs}", leave=False)
        for i in bar:
            idx = perm[i * cfg.batch_size:(i + 1) * cfg.batch_size].to(xtr.device)
            xb, yb = xtr[idx].to(device, non_blocking=True), ytr[idx].to(device, non_blocking=True)
            if cuda:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=cuda):
                logits = model(xb)
            loss = F.cross_entropy(logits.float(), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(yb)
            correct += (logits.argmax(1) == yb).sum().item()
        with noise_mode(model, "off"):
            v = evaluate(model, val, batch_size=cfg.eval_batch_size)
        row = {"epoch": epoch + 1, "train_loss": loss_sum / len(xtr), "train_acc": correct / len(xtr),
               "val_loss": v["loss"], "val_acc": v["acc"], "lr": opt.param_groups[0]["lr"],
               "seconds": time.perf_counter() - t0}
        history.append(row)
        score = (v["acc"], -v["loss"])
        if best_score is None or score > tuple(best_score):
            best_score, best_epoch = score, epoch + 1
            best_state = {k: t.detach().to("cpu", copy=True) for k, t in model.state_dict().items()}
        if ckpt is not None:
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


def train_or_load(spec: ModelSpec, train_cfg: TrainConfig, data_cfg: Any, *, splits=None,
                  device: torch.device | None = None, refresh: bool = False) -> TrainedModel:
    """Train a model once and load it from the cache afterwards.

    Args:
        spec: the :class:`ModelSpec`.
        train_cfg: the :class:`TrainConfig`.
        data_cfg: the ``nsde.data.DataConfig`` (its ``image_size`` sizes the model).
        splits: the data of ``data_cfg`` if already loaded (else ``load_splits(data_cfg)``).
        device: default ``nsde.runtime.default_device()``.
        refresh: retrain even when cached weights exist.

    Returns:
        A :class:`TrainedModel` in ``eval()`` mode on ``device``.
    """
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"spec must be a ModelSpec, got {type(spec).__name__}")
    if not isinstance(train_cfg, TrainConfig):
        raise TypeError(f"train_cfg must be a TrainConfig, got {type(train_cfg).__name__}")
    spec = spec.canonical()
    device = torch.device(device) if device is not None else default_device()
    parts = _key_parts(spec, train_cfg, data_cfg)
    key = config_hash(*parts)
    folder = artifact_dir("models", *parts)
    final = folder / "model.pt"
    image_size = int(getattr(data_cfg, "image_size"))
    # Weight init from the training seed, without disturbing the caller's global RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(train_cfg.seed)
        model = spec.build(image_size, noise_seed=_entropy(train_cfg.seed, 2))
    if final.exists() and not refresh:
        state = load_torch(final)
        if state.get("key") != key:
            raise ValueError(f"model file {final} belongs to configuration {state.get('key')!r}, not {key!r}")
        model.load_state_dict(state["model"])
        history, best_epoch = state["history"], state["best_epoch"]
    else:
        if refresh and (folder / "checkpoint.pt").exists():
            (folder / "checkpoint.pt").unlink()
        if splits is None:
            from nsde.data import load_splits
            splits = load_splits(data_cfg)
        from nsde.data import stratified_subset
        train_data = stratified_subset(splits.train, train_cfg.train_fraction, seed=train_cfg.seed)
        history = train(model, train_data, splits.val, train_cfg, ckpt_dir=folder, key=key, device=device,
                        desc=f"{spec.name} seed {train_cfg.seed}")
        best_epoch = model.best_epoch
        save_torch({"key": key, "model": {k: v.cpu() for k, v in model.state_dict().items()},
                    "history": history, "best_epoch": best_epoch, "spec": asdict(spec),
                    "train_cfg": asdict(train_cfg)}, final)
    model.to(device).eval()
    return TrainedModel(model=model, history=history, spec=spec, key=key, train_cfg=train_cfg,
                        data_cfg=data_cfg, best_epoch=best_epoch, path=folder)


#: Version of the NSDE training computation; part of an NSDE model's cache key, so that
#: weights trained by an older implementation are never loaded as current ones.
#: 2: the noise scale ``sigma * rms`` is a stop-gradient constant in training.
NSDE_TRAINING_VERSION = 2


def _key_parts(spec: ModelSpec, train_cfg: "TrainConfig", data_cfg) -> tuple:
    """What a trained model's cache key is computed from (``spec`` already canonical)."""
    parts = (spec, train_cfg, data_cfg)
    return parts + ((("nsde_training_version", NSDE_TRAINING_VERSION),) if spec.kind == "nsde" else ())


def zoo_names(noise_shape: str, variant_shapes) -> list[str]:
    """Model names of :func:`train_zoo`: ``baseline``, ``nsde-<noise_shape>``, ``nsde-<variant>``..."""
    names = ["baseline", f"nsde-{noise_shape}"]
    names += [f"nsde-{s}" for s in (variant_shapes or []) if f"nsde-{s}" not in names]
    return names


def train_zoo(*, arch: str, image_size: int, n_per_class: int, seed: int, epochs: int, batch_size: int,
              lr: float, sigma: float, noise_shape: str, variant_shapes, n_seeds: int,
              device: torch.device | None = None) -> dict[str, list[TrainedModel]]:
    """Train (or load) every model the book uses, with the profile's parameters.

    ``baseline`` and ``nsde-<noise_shape>`` get ``n_seeds`` training seeds each
    (``seed, seed + 1, ...``); every other shape of ``variant_shapes`` one seed. All share
    the data of ``load_splits(DataConfig(n_per_class, image_size, seed))``.

    Returns:
        ``{name: [TrainedModel, ...]}`` in the order of :func:`zoo_names`.
    """
    from nsde.data import DataConfig, load_splits

    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise ValueError(f"n_seeds must be an int >= 1, got {n_seeds!r}")
    for s in [noise_shape, *(variant_shapes or [])]:
        if s not in SHAPES:
            raise ValueError(f"unknown noise shape {s!r}; expected one of {SHAPES}")
    data_cfg = DataConfig(n_per_class=n_per_class, image_size=image_size, seed=seed)
    splits = None
    zoo: dict[str, list[TrainedModel]] = {}
    for name in zoo_names(noise_shape, variant_shapes):
        if name == "baseline":
            spec = ModelSpec(arch=arch, kind="baseline", num_classes=16)
        else:
            spec = ModelSpec(arch=arch, kind="nsde", noise=name[len("nsde-"):], sigma=float(sigma), num_classes=16)
        seeds = n_seeds if name in ("baseline", f"nsde-{noise_shape}") else 1
        zoo[name] = []
        for i in range(seeds):
            cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=float(lr), seed=seed + i)
            parts = _key_parts(spec.canonical(), cfg, data_cfg)
            key = config_hash(*parts)
            if splits is None and not (artifact_dir("models", *parts) / "model.pt").exists():
                splits = load_splits(data_cfg)
            zoo[name].append(train_or_load(spec, cfg, data_cfg, splits=splits, device=device))
            assert zoo[name][-1].key == key
    return zoo


def train_fraction_zoo(*, fractions, arch: str, image_size: int, n_per_class: int, seed: int, epochs: int,
                       batch_size: int, lr: float, sigma: float, noise_shape: str,
                       device: torch.device | None = None) -> dict[float, dict[str, TrainedModel]]:
    """Baseline and NSDE trained on class-stratified fractions of the training split.

    The paper's open question 3 (behaviour with less training data). Every pair shares the
    data, the seed and the number of epochs, so a smaller fraction also means fewer
    optimisation steps, for both models alike. Fraction 1 is the first seed of
    :func:`train_zoo` with the same parameters (loaded from the cache when trained there).

    Args:
        fractions: shares of the training split, each in (0, 1].
        arch, image_size, n_per_class, seed, epochs, batch_size, lr, sigma, noise_shape:
            as for :func:`train_zoo`.
        device: default ``nsde.runtime.default_device()``.

    Returns:
        ``{fraction: {"baseline": TrainedModel, "nsde-<noise_shape>": TrainedModel}}``,
        fractions in increasing order.
    """
    from nsde.data import DataConfig, load_splits

    fractions = sorted({float(f) for f in fractions})
    if not fractions:
        raise ValueError("fractions is empty")
    data_cfg = DataConfig(n_per_class=n_per_class, image_size=image_size, seed=seed)
    splits = load_splits(data_cfg)
    specs = [ModelSpec(arch=arch, kind="baseline", num_classes=16),
             ModelSpec(arch=arch, kind="nsde", noise=noise_shape, sigma=float(sigma), num_classes=16)]
    out: dict[float, dict[str, TrainedModel]] = {}
    for f in fractions:
        cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=float(lr), seed=seed, train_fraction=f)
        out[f] = {spec.name: train_or_load(spec, cfg, data_cfg, splits=splits, device=device) for spec in specs}
    return out


def data_size_table(runs: dict[float, dict[str, TrainedModel]], splits, *, intensities=(0.0,),
                    eval_samples: int = 10, seed: int = 0):
    """Test accuracy of each pair of :func:`train_fraction_zoo`, clean and under white noise.

    The baseline is evaluated with its drift path, the NSDE with the noise on
    (``eval_samples`` passes, mean softmax), as in the robustness chapter. Every model sees
    the same noisy test images (one draw per intensity, seeded by ``seed``; clipped to
    [0, 1]). Intervals: 95% Wilson for each accuracy; for the difference, a 95% paired
    bootstrap over the test images. The per-image scores are cached under the models'
    keys, the test images and the arguments.

    Args:
        runs: the output of :func:`train_fraction_zoo`.
        splits: the data (``splits.train`` sizes the fractions; ``splits.test`` is scored).
        intensities: white-noise standard deviations; 0 means clean images.
        eval_samples: Monte-Carlo passes of the NSDE.
        seed: seed of the input noise and of the NSDE's noise draws.

    Returns:
        A ``pandas.DataFrame``, one row per (fraction, intensity), accuracies in [0, 1]:
        ``fraction, train images, intensity, baseline, baseline low, baseline high, nsde,
        nsde low, nsde high, difference, difference low, difference high``.
    """
    import pandas as pd

    from nsde.cache import cached, tensor_hash
    from nsde.data import stratified_subset
    from nsde.robustness import add_noise
    from nsde.stats import bootstrap_interval, wilson_interval

    x, y = splits.test.x, splits.test.y
    noisy = {}
    for i, intensity in enumerate(intensities):
        gen = torch.Generator().manual_seed(seed * 1_000_003 + i)
        noisy[float(intensity)] = add_noise(x, float(intensity), "white", gen)[0] if intensity > 0 else x
    data_hash = tensor_hash(x, y)
    rows = []
    for f, pair in runs.items():
        (base,) = [t for t in pair.values() if t.spec.kind == "baseline"]
        (nsde,) = [t for t in pair.values() if t.spec.kind == "nsde"]
        n_train = len(stratified_subset(splits.train, f, seed=base.train_cfg.seed))
        for intensity, xi in noisy.items():
            config = dict(fn="data_size_table", models=[base.key, nsde.key], data=data_hash,
                          intensity=intensity, eval_samples=eval_samples, seed=seed)
            cb, cn = cached("data_size", config, lambda: (
                correctness(base, xi, y, mode="off", seed=seed),
                correctness(nsde, xi, y, mode="on", samples=eval_samples, seed=seed)), name="correct.pt")
            row = {"fraction": f, "train images": n_train, "intensity": intensity}
            for name, c in (("baseline", cb), ("nsde", cn)):
                iv = wilson_interval(int(c.sum()), len(c))
                row.update({name: iv.estimate, f"{name} low": iv.low, f"{name} high": iv.high})
            d = bootstrap_interval(cn.astype(float) - cb.astype(float), seed=seed)
            row.update({"difference": d.estimate, "difference low": d.low, "difference high": d.high})
            rows.append(row)
    return pd.DataFrame(rows)


def plot_data_size(table, *, title: str = "Accuracy against training-set size"):
    """Accuracy (95% intervals) of baseline and NSDE against the number of training images,
    one panel per input-noise intensity, from :func:`data_size_table`.

    Returns:
        The Matplotlib figure.
    """
    import matplotlib.pyplot as plt

    levels = sorted(table["intensity"].unique())
    fig, axes = plt.subplots(1, len(levels), figsize=(4.2 * len(levels), 3.6), squeeze=False, sharey=True)
    for ax, level in zip(axes[0], levels):
        t = table[table["intensity"] == level].sort_values("train images")
        for name, label, color in (("baseline", "baseline", "C0"), ("nsde", "NSDE (noise on)", "C3")):
            ax.plot(t["train images"], 100 * t[name], "o-", color=color, label=label)
            ax.fill_between(t["train images"], 100 * t[f"{name} low"], 100 * t[f"{name} high"],
                            color=color, alpha=0.2)
        ax.set_xscale("log")
        ax.set_xticks(t["train images"].tolist(), [str(n) for n in t["train images"]])
        ax.minorticks_off()
        ax.set_xlabel("training images")
        ax.set_title("clean test images" if level == 0 else f"white noise, std {level:g}")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (%)")
    axes[0][0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# --- reporting helpers ------------------------------------------------------------------

def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Counts ``(num_classes, num_classes)``: rows true class, columns predicted class."""
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    return m


def plot_history(runs: dict[str, list[list[dict]]], *, title: str = "Training curves"):
    """Loss and accuracy per epoch for several models (one line per seed).

    Args:
        runs: ``{label: [history, ...]}`` with histories from :func:`train`.
        title: figure title.

    Returns:
        The Matplotlib figure.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for c, (label, hists) in enumerate(runs.items()):
        for j, h in enumerate(hists):
            ep = [r["epoch"] for r in h]
            kw = dict(color=colors[c % len(colors)], alpha=1.0 if j == 0 else 0.5)
            axes[0].plot(ep, [r["train_loss"] for r in h], "-", label=f"{label} train" if j == 0 else None, **kw)
            axes[0].plot(ep, [r["val_loss"] for r in h], "--", label=f"{label} val" if j == 0 else None, **kw)
            axes[1].plot(ep, [100 * r["train_acc"] for r in h], "-", label=f"{label} train" if j == 0 else None, **kw)
            axes[1].plot(ep, [100 * r["val_acc"] for r in h], "--", label=f"{label} val" if j == 0 else None, **kw)
    axes[0].set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    axes[1].set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    axes[1].legend(fontsize=7, ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion(matrices: dict[str, np.ndarray], class_names: list[str], *, title: str = "Confusion matrices"):
    """Row-normalised confusion matrices side by side.

    Args:
        matrices: ``{label: counts (C, C)}`` from :func:`confusion_matrix`.
        class_names: the ``C`` class names.
        title: figure title.

    Returns:
        The Matplotlib figure.
    """
    import matplotlib.pyplot as plt

    n = len(matrices)
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 5.0), squeeze=False)
    for ax, (label, m) in zip(axes[0], matrices.items()):
        m = np.asarray(m, dtype=float)
        rates = m / np.maximum(m.sum(1, keepdims=True), 1)
        im = ax.imshow(rates, vmin=0, vmax=1, cmap="Blues")
        ax.set_xticks(range(len(class_names)), class_names, rotation=90, fontsize=6)
        ax.set_yticks(range(len(class_names)), class_names, fontsize=6)
        ax.set(xlabel="predicted class", ylabel="true class", title=label)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="fraction of the true class")
    fig.suptitle(title)
    return fig


def correctness(trained: TrainedModel, x: torch.Tensor, y: torch.Tensor, *, mode: str = "off",
                samples: int = 1, seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """Per-image 0/1 correctness of a trained model under a named noise mode.

    Args:
        trained: a :class:`TrainedModel`.
        x, y: images ``(N, C, H, W)`` and labels ``(N,)``.
        mode: ``"off"`` (drift path) or ``"on"`` (noise kept at test time).
        samples: Monte-Carlo passes averaged in softmax when ``mode="on"``.
        seed: reseeds the model's private noise generator, so the draws are reproducible.
        batch_size: images per forward.

    Returns:
        bool array ``(N,)``.
    """
    model = trained.model
    model.reseed_noise(seed)
    with noise_mode(model, mode, samples=samples):
        probs = predict(model, x, batch_size=batch_size)
    return (probs.argmax(1) == torch.as_tensor(y)).numpy()


def accuracy_table(zoo: dict[str, list[TrainedModel]], splits, *, eval_samples: int = 10, seed: int = 0):
    """Validation and test accuracy of every model of a zoo (Table 1 of the paper).

    Baselines are evaluated once; NSDEs with the noise off (drift path) and with the noise on
    (``eval_samples`` Monte-Carlo passes, mean softmax). Accuracies are averaged over the
    training seeds; the test interval is a 95% percentile bootstrap over the test images of
    the seed-averaged per-image correctness; ``test sd over seeds`` is the spread of the
    seeds' test accuracies.

    Returns:
        A ``pandas.DataFrame`` (percent) with columns ``model, eval noise, seeds,
        validation, test, test 95% CI, test sd over seeds``.
    """
    import pandas as pd

    from nsde.stats import bootstrap_interval

    rows = []
    for name, runs in zoo.items():
        modes = [("off", 1)] if runs[0].spec.kind == "baseline" else [("off", 1), ("on", eval_samples)]
        for mode, k in modes:
            val = [correctness(t, splits.val.x, splits.val.y, mode=mode, samples=k, seed=seed).mean() for t in runs]
            test = np.stack([correctness(t, splits.test.x, splits.test.y, mode=mode, samples=k, seed=seed) for t in runs])
            iv = bootstrap_interval(test.mean(0), seed=seed)
            label = "-" if runs[0].spec.kind == "baseline" else (f"on, {k} passes" if mode == "on" else "off")
            rows.append({"model": name, "eval noise": label, "seeds": len(runs),
                         "validation": 100 * float(np.mean(val)), "test": 100 * iv.estimate,
                         "test 95% CI": f"[{100 * iv.low:.1f}, {100 * iv.high:.1f}]",
                         "test sd over seeds": 100 * float(test.mean(1).std(ddof=1)) if len(runs) > 1 else float("nan")})
    return pd.DataFrame(rows).round(1)
