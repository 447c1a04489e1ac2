"""Tiny models for the robustness and attack tests (seconds, no training): the real Neural SDE
of the package at random weights, and stand-ins with known answers (linear, coin, quantised)."""
import torch
import torch.nn as nn


class Linear(nn.Module):
    """logits = W flatten(x) + b."""

    def __init__(self, d: int, classes: int = 2):
        super().__init__()
        self.fc = nn.Linear(d, classes)

    def forward(self, x):
        return self.fc(x.flatten(1))


def NoisyNet(classes: int = 3, sigma: float = 0.5, noise_shape: str = "white", seed: int = 0):
    """The package's own Neural SDE (``nsde.core.models.build_model``: a ResNet-10-T with noise
    in its residual blocks) at 32x32, random weights from ``seed``, in ``eval()``: the tests
    exercise the real noise contract (``set_noise``, ``reseed_noise``, ``noise_stream``...)."""
    from nsde.core.models import build_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model("resnet10t", "nsde", noise_shape=noise_shape, sigma=sigma, num_classes=classes,
                           image_size=32).eval()


class Coin(nn.Module):
    """A random classifier that is right (class 0) with probability ``p`` per forward pass.

    Its expected accuracy on images labelled 0 is exactly ``p``, whatever the input.
    """

    def __init__(self, p: float):
        super().__init__()
        self.p, self.sigma, self.num_classes = p, 1.0, 2
        self.bias = nn.Parameter(torch.zeros(1))
        self.gen = torch.Generator().manual_seed(7)
        self.noise_state = ("train", None, 1)

    def set_noise(self, noise, seed=None, samples=1):
        self.noise_state = (noise, seed, samples)

    def get_noise(self):
        return self.noise_state

    def reseed_noise(self, seed):
        self.gen.manual_seed(seed)

    def forward(self, x):
        right = torch.rand(len(x), generator=self.gen) < self.p
        logits = torch.stack([right.float(), (~right).float()], 1) * 5.0
        return logits + 0 * self.bias + 0 * x.flatten(1)[:, :1]


class Quantised(nn.Module):
    """A classifier behind a non-differentiable quantiser: gradients are zero (masked)."""

    def __init__(self, inner: nn.Module, levels: int = 4):
        super().__init__()
        self.inner, self.levels = inner, levels
        self.num_classes, self.in_chans = getattr(inner, "num_classes", None), 1

    def forward(self, x):
        return self.inner(torch.round(x * self.levels) / self.levels)


def images(n=24, size=32, seed=0, classes=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, size, size, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    return x, y
