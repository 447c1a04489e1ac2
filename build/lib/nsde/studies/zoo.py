"""The book's models: the recipe of each architecture, the learning-rate choice on
validation, and every model a profile trains (``train_zoo``), with its command line::

    python -m nsde.studies.zoo --profile paper            # one process
    torchrun --nproc_per_node=N -m nsde.studies.zoo --profile paper

This is the only layer that reads a profile; the training loop itself is
:mod:`nsde.core.training`.
"""
from __future__ import annotations

import torch

from nsde._infra import distributed as dist
from nsde._infra.runtime import configure, default_device
from nsde.core.training import ModelSpec, TrainConfig, TrainedModel, train_or_load
from nsde.data import load_dataset
from nsde.studies.profiles import get_profile

__all__ = ["recipe", "zoo_names", "train_zoo", "select_lr", "main"]


def zoo_names(noise_shape: str, variant_shapes) -> list[str]:
    """Model names of :func:`train_zoo`: ``baseline``, ``nsde-<noise_shape>``, ``nsde-<variant>``..."""
    names = ["baseline", f"nsde-{noise_shape}"]
    names += [f"nsde-{s}" for s in (variant_shapes or []) if f"nsde-{s}" not in names]
    return names


def train_zoo(splits, profile, *, device: torch.device | None = None) -> dict[str, list[TrainedModel]]:
    """Train (or load) every model the book uses, with a profile's parameters.

    ``baseline`` and ``nsde-<noise_shape>`` get ``n_seeds`` training seeds each
    (``seed, seed + 1, ...``); every other shape of ``variant_shapes`` one seed. Every model
    gets the architecture's recipe (:func:`recipe`).

    Args:
        splits: the data (:func:`nsde.data.load_dataset`).
        profile: an :class:`nsde.studies.profiles.Profile` (or any object with the attributes
            ``arch, epochs, batch_size, lr, sigma, noise_shape, variant_shapes, n_seeds, seed``).
        device: default ``nsde._infra.runtime.default_device()``.

    Returns:
        ``{name: [TrainedModel, ...]}`` in the order of :func:`zoo_names`.
    """
    p = profile
    zoo: dict[str, list[TrainedModel]] = {}
    for name in zoo_names(p.noise_shape, p.variant_shapes):
        if name == "baseline":
            spec = ModelSpec(arch=p.arch, kind="baseline", **recipe(p.arch))
        else:
            spec = ModelSpec(arch=p.arch, kind="nsde", noise_shape=name[len("nsde-"):], sigma=float(p.sigma),
                             **recipe(p.arch))
        seeds = p.n_seeds if name in ("baseline", f"nsde-{p.noise_shape}") else 1
        zoo[name] = [train_or_load(spec, TrainConfig(epochs=p.epochs, batch_size=p.batch_size, lr=float(p.lr),
                                                     seed=p.seed + i), splits, device=device)
                     for i in range(seeds)]
    return zoo


def recipe(arch: str) -> dict:
    """The training recipe the book gives each architecture family (``ModelSpec`` fields).

    ConvNeXt: inputs standardised inside the model and a layer-scale init of 0.1, since a
    LayerNorm stem on raw [0, 1] spectrograms gives nearly constant logits and timm's init
    of 1e-6 keeps the blocks shut for the few hundred steps a CPU budget allows. ResNet:
    raw [0, 1] inputs (its BatchNorm stem rescales them) and timm's defaults.
    """
    return {"standardize": True, "ls_init": 0.1} if arch.startswith("convnext") else {}


def select_lr(spec: ModelSpec, lrs, splits, *, epochs: int, batch_size: int, seed: int = 0,
              device: torch.device | None = None):
    """Train ``spec`` at each learning rate and keep the best on the validation split.

    Returns:
        ``(table, best)``: a ``pandas.DataFrame`` with one row per learning rate
        (``lr, train accuracy`` (last epoch, noise as trained), ``validation accuracy``
        (best epoch), ``best epoch, train time (s)``, ``chosen``) and the chosen
        :class:`TrainedModel`.
    """
    import pandas as pd

    lrs = sorted({float(v) for v in lrs})
    if not lrs:
        raise ValueError("select_lr needs at least one learning rate")
    runs = {lr: train_or_load(spec, TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed), splits,
                              device=device) for lr in lrs}
    val = {lr: max(h["val_acc"] for h in t.history) for lr, t in runs.items()}
    best = max(lrs, key=lambda lr: (val[lr], -lr))
    table = pd.DataFrame([{"lr": lr, "train accuracy": t.history[-1]["train_acc"], "validation accuracy": val[lr],
                           "best epoch": t.best_epoch, "train time (s)": sum(h["seconds"] for h in t.history),
                           "chosen": lr == best} for lr, t in runs.items()])
    return table, runs[best]


def main(argv: list[str] | None = None) -> int:
    """Train every model of a profile: ``python -m nsde.core.training --profile paper``.

    Under ``torchrun --nproc_per_node=N`` the models train data-parallel on N devices
    (:mod:`nsde._infra.distributed`); rank 0 prepares the data first and writes every file.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m nsde.core.training", description=main.__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default", help="a profile of book/profiles.yaml")
    args = parser.parse_args(argv)
    profile = get_profile(args.profile)
    configure(profile.seed)
    ctx = dist.context()
    load = lambda: load_dataset(profile.dataset, image_size=profile.image_size, seed=profile.seed,  # noqa: E731
                                n_per_class=profile.n_per_class)
    if ctx.rank == 0:
        data = load()
    dist.barrier()
    if ctx.rank != 0:
        data = load()
    zoo = train_zoo(data, profile, device=_rank_device(ctx))
    if ctx.rank == 0:
        for name, runs in zoo.items():
            accs = ", ".join(f"{max(h['val_acc'] for h in t.history):.3f}" for t in runs)
            print(f"{name}: best validation accuracy per seed {accs}")
    dist.barrier()
    return 0


def _rank_device(ctx) -> torch.device:
    device = default_device()
    if device.type == "cuda" and ctx.active:
        return torch.device("cuda", ctx.local_rank)
    return device


if __name__ == "__main__":
    import sys

    sys.exit(main())
