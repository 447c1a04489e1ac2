"""Attribution-shaped noise (nsde.studies.attribution_noise): its extra training-step cost over Brownian noise,
and the cost of one reshaping round (attributions over the training split).

Step cost: the Brownian NSDE and the attribution-shaped one (the same network, each step with
a fresh batch of per-image envelopes) take training steps in rounds, in a shuffled order, from
the same weights (learning rate 0); the ratio is the median over rounds of the within-round
step-time ratio, with a 95% bootstrap interval. Reshaping: images/s of the envelopes of
saliency and of IG (``--ig-steps``) attributions.

    python benchmarks/bench_shaping.py [--arch resnet10t] [--size 64] [--batch 32] [--rounds 30]
"""
from __future__ import annotations

import argparse
import random
import time

import numpy as np
import torch
import torch.nn.functional as F

from nsde._infra.runtime import configure, precision
from nsde.core.models import build_model
from nsde.measures.attribution import attribute
from nsde.stats.intervals import bootstrap_interval
from nsde.studies.attribution_noise import attribution_envelope


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="resnet10t")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--ig-steps", type=int, default=16)
    a = p.parse_args()
    configure()
    torch.manual_seed(0)
    x, y = torch.rand(a.batch, 1, a.size, a.size), torch.randint(0, 16, (a.batch,))
    envelopes = attribution_envelope(torch.randn(a.batch, 1, a.size, a.size))
    models = {}
    for name in ("brownian", "attribution-shaped"):
        m = build_model(a.arch, "nsde", noise_shape="brownian", sigma=0.1, image_size=a.size, num_classes=16).train()
        if models:
            m.load_state_dict(next(iter(models.values()))[0].state_dict())
        m.set_precision(precision("cpu", a.arch))
        models[name] = (m, torch.optim.AdamW(m.parameters(), lr=0.0))

    def step(name):
        m, opt = models[name]
        if name == "attribution-shaped":
            m.set_envelope(envelopes)  # what the training loop does for every batch
        loss = F.cross_entropy(m(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for name in models:
        step(name), step(name)
    times = {name: [] for name in models}
    order, rng = list(models), random.Random(0)
    for _ in range(a.rounds):
        rng.shuffle(order)
        for name in order:
            t = time.perf_counter()
            step(name)
            times[name].append(time.perf_counter() - t)
    base = np.array(times["brownian"])
    shaped = np.array(times["attribution-shaped"])
    iv = bootstrap_interval(shaped / base, statistic=np.median)
    print(f"{a.arch} {a.size}x{a.size} batch {a.batch}, {a.rounds} rounds")
    print(f"training step: Brownian {a.batch / np.median(base):.0f} images/s, attribution-shaped "
          f"{a.batch / np.median(shaped):.0f} images/s; step-time ratio {iv.estimate:.3f} [{iv.low:.3f}, {iv.high:.3f}]")
    model = models["brownian"][0].eval()
    for method, kw in (("saliency", {}), ("ig", {"n_steps": a.ig_steps})):
        t = time.perf_counter()
        attribution_envelope(attribute(model, x, y, method, batch_size=a.batch, noise="on", noise_seed=0, **kw))
        print(f"reshaping round ({method}{f', {a.ig_steps} steps' if kw else ''}): "
              f"{a.batch / (time.perf_counter() - t):.0f} training images/s")


if __name__ == "__main__":
    main()
