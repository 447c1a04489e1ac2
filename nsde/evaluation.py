"""Scoring trained models: predictions, per-image correctness, Table 1 and its figures.

Every evaluation names when the NSDE noise is on (``noise="off"``: the deterministic drift
path; ``noise="on"`` with ``samples=K``: the mean softmax of K noisy passes, the NSDE
*ensemble*). A random model's correctness on an image is itself random, so
:func:`correctness` returns the **expected** correctness per image, the mean over
``draws`` independent scorings (fresh noise each time): an accuracy computed from it is
the expected accuracy of the ensemble, and a bootstrap over images of it carries both the
spread of the images and of the draws (:func:`nsde.stats.accuracy_interval`).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from nsde._checks import check_images, check_labels, check_model_input, model_classes, positive_int, unwrap_model
from nsde.models import is_random, noise_mode, noise_rng
from nsde.runtime import eval_mode, model_device

__all__ = ["eval_subset", "predict", "evaluate", "correctness", "correctness_matrix", "accuracy_table",
           "confusion_matrix", "plot_history", "plot_confusion"]


def eval_subset(x: torch.Tensor, y: torch.Tensor, n: int | None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random subset of ``n`` images (all when ``n`` is None or >= len(x)).

    The images come in the order of a seeded random permutation (not index order), so
    subsets are nested: for one seed, the subset of size ``m < n`` equals the first ``m``
    images of the size-``n`` subset.
    """
    x = check_images(x)
    y = check_labels(y, len(x))
    if n is None or (not isinstance(n, bool) and isinstance(n, int) and n >= len(x)):
        return x, y
    n = positive_int("subset size", n)
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]
    return x[idx], y[idx]


def _module(model) -> nn.Module:
    return unwrap_model(model)[0]


@torch.no_grad()
def predict(model, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Softmax probabilities under the model's current noise setting, in ``eval()``.

    ``noise="train"`` means no noise here; set ``noise="on"`` (with ``samples=K``) for
    noisy predictions.

    Args:
        model: a model from :func:`nsde.models.build_model` (or a ``TrainedModel``).
        x: images, float ``(N, C, H, W)``.
        batch_size: images per forward.

    Returns:
        float32 tensor ``(N, num_classes)`` on the CPU; rows sum to 1.
    """
    model = _module(model)
    x = check_images(x, unit_range=False)
    check_model_input(model, x)
    batch_size = positive_int("batch_size", batch_size)
    device = model_device(model)
    with eval_mode(model):
        out = [F.softmax(model(x[i:i + batch_size].to(device, dtype=torch.float32)).float(), dim=-1).cpu()
               for i in range(0, len(x), batch_size)]
    return torch.cat(out)


def evaluate(model, data, batch_size: int = 256) -> dict[str, float]:
    """Mean cross-entropy and accuracy of ``model`` under its current noise setting, in ``eval()``.

    Args:
        model: a model from :func:`nsde.models.build_model`.
        data: a split (``.x``, ``.y``) or a tuple ``(x, y)``.

    Returns:
        ``{"loss": float, "acc": float}``.
    """
    x, y = (data.x, data.y) if hasattr(data, "x") else data
    probs = predict(model, x, batch_size=batch_size)
    y = check_labels(y, len(x), probs.shape[1])
    loss = F.nll_loss(probs.clamp_min(1e-12).log(), y).item()
    return {"loss": loss, "acc": (probs.argmax(1) == y).float().mean().item()}


def correctness(trained, x: torch.Tensor, y: torch.Tensor, *, noise: str = "off", samples: int = 1,
                draws: int = 1, seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """Expected per-image correctness of a model under a named noise setting.

    Args:
        trained: a ``TrainedModel`` or a model from :func:`nsde.models.build_model`.
        x, y: images ``(N, C, H, W)`` in [0, 1] and labels ``(N,)``.
        noise: ``"off"`` (drift path) or ``"on"`` (noise kept at test time).
        samples: K, noisy passes averaged in softmax per scoring when ``noise="on"``.
        draws: independent scorings averaged (fresh noise each); ignored when the model is
            deterministic (``noise="off"`` or a baseline).
        seed: the seed of the model's noise draws inside this call (its previous noise
            stream is restored afterwards), so the draws are reproducible.
        batch_size: images per forward.

    Returns:
        float64 array ``(N,)`` in [0, 1]; 0/1 for a deterministic evaluation.
    """
    model = _module(trained)
    if noise not in ("off", "on"):
        raise ValueError(f"noise must be 'off' or 'on', but found {noise!r}")
    x = check_images(x)
    y = check_labels(y, len(x), model_classes(model))
    draws = positive_int("draws", draws)
    random = is_random(model, noise)
    total = np.zeros(len(x))
    with noise_rng(model, seed), noise_mode(model, noise, samples=samples):
        for _ in range(draws if random else 1):
            total += (predict(model, x, batch_size=batch_size).argmax(1) == y).numpy()
    return total / (draws if random else 1)


def correctness_matrix(runs, x: torch.Tensor, y: torch.Tensor, **kwargs) -> np.ndarray:
    """:func:`correctness` of several training seeds of one model, stacked ``(seeds, N)``."""
    return np.stack([correctness(t, x, y, **kwargs) for t in runs])


def accuracy_table(zoo: dict, splits, *, samples: int = 10, seed: int = 0):
    """Validation and test accuracy of every model of a zoo (Table 1 of the paper).

    Baselines are evaluated once; NSDEs with the noise off (drift path) and with the noise
    on (``samples`` Monte-Carlo passes, mean softmax; one scoring per image, an unbiased
    estimate of the ensemble's expected accuracy whose interval carries the draws' spread
    through the resampled images). Accuracies are averaged over
    the training seeds; the test interval resamples both the seeds and the test images
    (:func:`nsde.stats.hierarchical_interval`); ``test sd over seeds`` is the spread of the
    seeds' test accuracies.

    Returns:
        A ``pandas.DataFrame`` (percent) with columns ``model, eval noise, seeds,
        validation, test, test 95% CI, test sd over seeds``; ``df.attrs["correct"]`` maps
        ``(model, eval noise)`` to the ``(seeds, N)`` test correctness.
    """
    import pandas as pd

    from nsde.stats import hierarchical_interval

    rows, scores = [], {}
    for name, runs in zoo.items():
        settings = [("off", 1)] if runs[0].spec.kind == "baseline" else [("off", 1), ("on", samples)]
        for noise, k in settings:
            val = correctness_matrix(runs, splits.val.x, splits.val.y, noise=noise, samples=k, seed=seed)
            test = correctness_matrix(runs, splits.test.x, splits.test.y, noise=noise, samples=k, seed=seed)
            iv = hierarchical_interval(test, seed=seed)
            label = "-" if runs[0].spec.kind == "baseline" else (f"on, {k} passes" if noise == "on" else "off")
            scores[(name, label)] = test
            rows.append({"model": name, "eval noise": label, "seeds": len(runs),
                         "validation": 100 * float(val.mean()), "test": 100 * iv.estimate,
                         "test 95% CI": f"[{100 * iv.low:.1f}, {100 * iv.high:.1f}]",
                         "test sd over seeds": 100 * float(test.mean(1).std(ddof=1)) if len(runs) > 1 else float("nan")})
    df = pd.DataFrame(rows).round(1)
    df.attrs["correct"] = scores
    return df


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Counts ``(num_classes, num_classes)``: rows true class, columns predicted class."""
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {y_true.size} vs {y_pred.size}")
    for name, v in (("y_true", y_true), ("y_pred", y_pred)):
        if v.size and (v.min() < 0 or v.max() >= num_classes):
            raise ValueError(f"{name} holds class {int(v.max() if v.max() >= num_classes else v.min())}, "
                             f"outside [0, {num_classes})")
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    return m


def plot_history(runs: dict[str, list[list[dict]]], *, title: str = "Training curves"):
    """Loss and accuracy per epoch for several models (one line per seed).

    Args:
        runs: ``{label: [history, ...]}`` with histories from :func:`nsde.training.train`.
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
