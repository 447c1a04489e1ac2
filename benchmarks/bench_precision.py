"""bf16 autocast with channels-last against float32: training and attack throughput on this CPU.

The run-time policy (``nsde._infra.runtime.precision``) trains and evaluates in bf16 where the
hardware computes it natively. This benchmark measures what that buys on the CPU profiles'
model (ResNet-10-T) and on the smallest ConvNeXt, for a training step (forward + backward +
AdamW, batch 32) and for the input gradient an attack step needs (batch 100). Both
precisions of one model start from the same weights, take their steps in rounds in a
shuffled order, and the speed-up is the median over rounds of the within-round ratio
fp32 time / bf16 time, with a 95% bootstrap interval.

    python benchmarks/bench_precision.py [--arch resnet10t convnext_atto] [--size 64] [--rounds 20]
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
from nsde.stats.intervals import bootstrap_interval


def _train_step(model, x, y):
    opt = torch.optim.AdamW(model.parameters(), lr=0.0)  # full update work, weights unchanged

    def step():
        loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def _grad_step(model, x, y):
    def step():
        xx = x.clone().requires_grad_(True)
        torch.autograd.grad(F.cross_entropy(model(xx).float(), y, reduction="sum"), [xx])
    return step


def bench(arch: str, size: int, rounds: int) -> None:
    torch.manual_seed(0)
    ref = build_model(arch, "nsde", sigma=0.1, image_size=size, num_classes=16)
    for task, batch, make, mode in (("training step", 32, _train_step, "train"),
                                    ("attack gradient", 100, _grad_step, "eval")):
        x, y = torch.rand(batch, 1, size, size), torch.randint(0, 16, (batch,))
        fns = {}
        for prec in ("fp32", "bf16"):
            m = build_model(arch, "nsde", sigma=0.1, image_size=size, num_classes=16)
            m.load_state_dict(ref.state_dict())
            m.train(mode == "train").set_precision(prec)
            m.set_noise("train" if mode == "train" else "on")
            fns[prec] = make(m, x, y)
            fns[prec]()
            fns[prec]()
        times = {p: [] for p in fns}
        order, rng = list(fns), random.Random(0)
        for _ in range(rounds):
            rng.shuffle(order)
            for p in order:
                t = time.perf_counter()
                fns[p]()
                times[p].append(time.perf_counter() - t)
        fp32, bf16 = np.array(times["fp32"]), np.array(times["bf16"])
        iv = bootstrap_interval(fp32 / bf16, statistic=np.median)
        print(f"{arch:<14}{task:<17}{batch / np.median(fp32):>10.0f}{batch / np.median(bf16):>10.0f}"
              f"{iv.estimate:>9.2f}x [{iv.low:.2f}, {iv.high:.2f}]")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", nargs="+", default=["resnet10t", "convnext_atto"])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--rounds", type=int, default=20)
    a = p.parse_args()
    info = configure()
    if precision("cpu") != "bf16":
        print(f"this CPU has no native bfloat16 (policy: {info['precision']}); bf16 is emulated and slow here")
    print(f"{a.size}x{a.size}, {info['threads']} threads, {a.rounds} rounds; images/s and the speed-up fp32/bf16")
    print(f"{'model':<14}{'task':<17}{'fp32':>10}{'bf16':>10}{'speed-up':>10}")
    for arch in a.arch:
        bench(arch, a.size, a.rounds)


if __name__ == "__main__":
    main()
