"""Predictions of a model under its current noise setting: the one forward loop that the
training loop (validation), every measure and every attack score through.

A model's noise setting (:func:`nsde.core.models.noise_mode`) decides what ``predict``
computes: the drift path (``noise="off"``) or the mean softmax of noisy passes
(``noise="on"``, ``samples=K``).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from nsde._infra.checks import check_images, check_labels, check_model_input, positive_int, unwrap_model
from nsde._infra.runtime import eval_mode, model_device

__all__ = ["predict", "evaluate"]


def _module(model) -> nn.Module:
    return unwrap_model(model)[0]


@torch.no_grad()
def predict(model, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Softmax probabilities under the model's current noise setting, in ``eval()``.

    ``noise="train"`` means no noise here; set ``noise="on"`` (with ``samples=K``) for
    noisy predictions.

    Args:
        model: a model from :func:`nsde.core.models.build_model` (or a ``TrainedModel``).
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
        model: a model from :func:`nsde.core.models.build_model`.
        data: a split (``.x``, ``.y``) or a tuple ``(x, y)``.

    Returns:
        ``{"loss": float, "acc": float}``.
    """
    x, y = (data.x, data.y) if hasattr(data, "x") else data
    probs = predict(model, x, batch_size=batch_size)
    y = check_labels(y, len(x), probs.shape[1])
    loss = F.nll_loss(probs.clamp_min(1e-12).log(), y).item()
    return {"loss": loss, "acc": (probs.argmax(1) == y).float().mean().item()}
