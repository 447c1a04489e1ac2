"""Training step cost of the Neural SDE versus its baseline (nsde.models, nsde.training).

Prints training samples/s (forward + backward + AdamW step) of the baseline ConvNeXt and of
its NSDE variants (Brownian sheet, white, pink noise), and the NSDE/baseline step-cost ratio.
Steps of the models are interleaved and the median step time is used, so a shared, noisy
CPU biases no model. On CUDA the same for ConvNeXt-Base at 224x224 in bf16 with
channels_last (the paper's scale).

    python benchmarks/bench_training.py [--arch convnext_atto] [--size 64] [--batch 64] [--steps 10]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from nsde.models import build_model


def _step_fn(model, x, y, device):
    cuda = device.type == "cuda"
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step():
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=cuda):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if cuda:
            torch.cuda.synchronize()
    return step


def bench(arch: str, size: int, batch: int, steps: int, device: torch.device, shapes=("brownian", "white", "pink")):
    torch.manual_seed(0)
    x = torch.rand(batch, 1, size, size, device=device)
    y = torch.randint(0, 16, (batch,), device=device)
    if device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    models = {"baseline": build_model(arch, "baseline", image_size=size)}
    for s in shapes:
        models[f"nsde-{s}"] = build_model(arch, "nsde", noise=s, sigma=0.1, image_size=size)
    fns = {}
    for name, m in models.items():
        m.to(device).train()
        if device.type == "cuda":
            m.to(memory_format=torch.channels_last)
        fns[name] = _step_fn(m, x, y, device)
        fns[name]()  # warm-up
        fns[name]()
    times = {name: [] for name in fns}
    for _ in range(steps):
        for name, fn in fns.items():  # interleaved
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    base = statistics.median(times["baseline"])
    print(f"{arch} {size}x{size} batch {batch} on {device.type} ({torch.get_num_threads()} threads), "
          f"median of {steps} steps")
    print(f"{'model':<16}{'ms/step':>10}{'samples/s':>12}{'ratio':>8}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<16}{1e3 * med:>10.1f}{batch / med:>12.1f}{med / base:>8.3f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="convnext_atto")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=10)
    a = p.parse_args()
    bench(a.arch, a.size, a.batch, a.steps, torch.device("cpu"))
    if torch.cuda.is_available():
        bench("convnext_base", 224, 64, max(a.steps, 20), torch.device("cuda"))
    else:
        print("no CUDA device: the convnext_base 224x224 bf16 GPU benchmark was skipped")


if __name__ == "__main__":
    main()
