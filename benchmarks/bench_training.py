"""Training step cost of the Neural SDE versus its baseline (nsde.core.models, nsde.core.training).

Prints training samples/s (forward + backward + AdamW step) of the baseline ConvNeXt and of
its NSDE variants (Brownian sheet, white, pink noise), and the NSDE/baseline step-cost ratio.
All models start from the same weights and keep them (learning rate 0: step times depend
on the weights), they take their steps in rounds of one step each in a shuffled order, and
the ratio is the median over rounds of the within-round ratio, so the slow drifts of a
shared, noisy CPU bias no model; rounds that another process disturbed are not counted
(``benchmarks/_rounds.py``). Each model runs in the precision the book trains it in
(``nsde._infra.runtime.precision(device, arch)``: ConvNeXts in fp32 on a CPU) unless
``--precision`` says otherwise. On CUDA the same for ConvNeXt-Base at 224x224 in bf16 with
channels_last (the paper's scale).

    python benchmarks/bench_training.py [--arch resnet10t convnext_atto] [--size 64] [--batch 32] [--steps 30]
                                        [--precision auto|bf16|fp32]
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from _rounds import ratio_interval, run_rounds
from nsde._infra.runtime import configure, optimizer_options, precision
from nsde.core.models import build_model


def _step_fn(model, x, y, device):
    cuda = device.type == "cuda"
    # lr = 0: the step does all the work of a real one (AdamW computes its update) but the
    # weights stay put, so step times do not drift apart as the models' weights diverge.
    opt = torch.optim.AdamW(model.parameters(), lr=0.0, **optimizer_options(device))  # as training does

    def step():
        logits = model(x)  # the model applies its precision (bf16 autocast + channels_last or fp32)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if cuda:
            torch.cuda.synchronize()
    return step


def bench(arch: str, size: int, batch: int, steps: int, device: torch.device, shapes=("brownian", "white", "pink"),
          prec: str = "auto"):
    prec = precision(device, arch) if prec == "auto" else prec
    torch.manual_seed(0)
    x = torch.rand(batch, 1, size, size, device=device)
    y = torch.randint(0, 16, (batch,), device=device)
    models = {"baseline": build_model(arch, "baseline", image_size=size, num_classes=16)}
    for s in shapes:
        models[f"nsde-{s}"] = build_model(arch, "nsde", noise_shape=s, sigma=0.1, image_size=size, num_classes=16)
        models[f"nsde-{s}"].load_state_dict(models["baseline"].state_dict())
    fns = {}
    for name, m in models.items():
        m.to(device).train().set_precision(prec)
        fns[name] = _step_fn(m, x, y, device)
        fns[name]()  # warm-up
        fns[name]()
    rounds = run_rounds(fns, steps)
    times = rounds.times
    base = np.array(times["baseline"])
    print(f"{arch} {size}x{size} batch {batch} on {device.type} ({torch.get_num_threads()} threads, {prec}), "
          f"{rounds.describe()}. 'ratio': median over rounds of NSDE/baseline step time in the same "
          f"round, with its 95% bootstrap interval")
    print(f"{'model':<16}{'ms/step':>10}{'samples/s':>12}{'ratio':>8}{'95% interval':>18}")
    for name, ts in times.items():
        est, low, high = ratio_interval(ts, base)
        med = float(np.median(ts))
        print(f"{name:<16}{1e3 * med:>10.1f}{batch / med:>12.1f}{est:>8.3f}"
              f"{f'[{low:.3f}, {high:.3f}]':>18}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", nargs="+", default=["resnet10t", "convnext_atto"],
                   help="architectures (default: the CPU profiles' model and the smallest ConvNeXt)")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=30, help="counted (undisturbed) rounds")
    p.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"),
                   help="auto: the precision the book trains each model in")
    a = p.parse_args()
    configure()
    for arch in a.arch:
        bench(arch, a.size, a.batch, a.steps, torch.device("cpu"), prec=a.precision)
    if torch.cuda.is_available():
        bench("convnext_base", 224, 64, max(a.steps, 20), torch.device("cuda"))
    else:
        print("no CUDA device: the convnext_base 224x224 bf16 GPU benchmark was skipped")


if __name__ == "__main__":
    main()
