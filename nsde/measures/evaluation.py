"""Scoring trained models: predictions, per-image correctness, Table 1 and its figures.

Every evaluation names when the NSDE noise is on (``noise="off"``: the deterministic drift
path; ``noise="on"`` with ``samples=K``: the mean softmax of K noisy passes, the NSDE
*ensemble*). A random model's correctness on an image is itself random, so
:func:`correctness` returns the **expected** correctness per image, the mean over
``draws`` independent scorings (fresh noise each time): an accuracy computed from it is
the expected accuracy of the ensemble, and a bootstrap over images of it carries both the
spread of the images and of the draws (:func:`nsde.stats.intervals.accuracy_interval`).
"""
from __future__ import annotations

import numpy as np
import torch

from nsde._infra.checks import check_images, check_labels, model_classes, positive_int, unwrap_model
from nsde.core.models import is_random, noise_mode, noise_rng
from nsde.core.predict import predict
from nsde.stats.compare import pool_interval

__all__ = ["eval_subset", "correctness", "correctness_matrix", "accuracy_table", "confusion_matrix"]


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


def correctness(trained, x: torch.Tensor, y: torch.Tensor, *, noise: str = "off", samples: int = 1,
                draws: int = 1, seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """Expected per-image correctness of a model under a named noise setting.

    Args:
        trained: a ``TrainedModel`` or a model from :func:`nsde.core.models.build_model`.
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
    model = unwrap_model(trained)[0]
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
    (:func:`nsde.stats.compare.pool_interval`: the seed is the unit); ``test sd over seeds`` is the spread of the
    seeds' test accuracies.

    Returns:
        A ``pandas.DataFrame`` (percent) with columns ``model, eval noise, seeds,
        validation, test, test 95% CI, test sd over seeds``; ``df.attrs["correct"]`` maps
        ``(model, eval noise)`` to the ``(seeds, N)`` test correctness.
    """
    import pandas as pd

    rows, scores = [], {}
    for name, runs in zoo.items():
        settings = [("off", 1)] if runs[0].spec.kind == "baseline" else [("off", 1), ("on", samples)]
        for noise, k in settings:
            val = correctness_matrix(runs, splits.val.x, splits.val.y, noise=noise, samples=k, seed=seed)
            test = correctness_matrix(runs, splits.test.x, splits.test.y, noise=noise, samples=k, seed=seed)
            iv = pool_interval(test, seed=seed)
            label = "-" if runs[0].spec.kind == "baseline" else (f"on, {k} passes" if noise == "on" else "off")
            scores[(name, label)] = test
            rows.append({"model": name, "eval noise": label, "seeds": len(runs),
                         "validation": 100 * float(val.mean()), "test": 100 * iv.estimate,
                         "test 95% CI": f"[{100 * max(0.0, iv.low):.1f}, {100 * min(1.0, iv.high):.1f}]",
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


