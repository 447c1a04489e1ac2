"""Tiny stand-in models for the robustness and attack tests (seconds, no training)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Linear(nn.Module):
    """logits = W flatten(x) + b."""

    def __init__(self, d: int, classes: int = 2):
        super().__init__()
        self.fc = nn.Linear(d, classes)

    def forward(self, x):
        return self.fc(x.flatten(1))


class NoisyNet(nn.Module):
    """A tiny conv net whose hidden features get additive Gaussian noise when the noise is on.

    Follows the contract of nsde.core.models: ``set_noise(noise, seed=None, samples=1)``; noise
    draws come from a private generator, so reseeding the global RNG does not freeze them.
    """

    def __init__(self, classes: int = 3, sigma: float = 0.5):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 4 * 4, classes)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        self.sigma = sigma
        self.num_classes, self.in_chans = classes, 1
        self.gen = torch.Generator().manual_seed(1234)
        self.noise_state = ("train", None, 1)

    def set_noise(self, noise, seed=None, samples=1):
        self.noise_state = (noise, seed, samples)

    def get_noise(self):
        return self.noise_state

    def reseed_noise(self, seed):
        self.gen.manual_seed(seed)

    def noise_stream(self):
        return self.gen.get_state()

    def restore_noise_stream(self, state):
        self.gen.set_state(state)

    def _once(self, x, on):
        h = F.avg_pool2d(torch.relu(self.conv(x)), 2)
        if on:
            seed = self.noise_state[1]
            if seed is None:
                z = torch.randn(h.shape, generator=self.gen)
            else:
                z = torch.randn(h.shape[1:], generator=torch.Generator().manual_seed(seed)).expand_as(h)
            h = h + self.sigma * z
        return self.fc(h.flatten(1))

    def forward(self, x):
        noise, _, samples = self.noise_state
        on = noise == "on" or (noise == "train" and self.training)
        if not on or samples == 1:
            return self._once(x, on)
        probs = torch.stack([self._once(x, True).softmax(1) for _ in range(samples)]).mean(0)
        return probs.log()


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


def images(n=24, size=8, seed=0, classes=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, size, size, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    return x, y
