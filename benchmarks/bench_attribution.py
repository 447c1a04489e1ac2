"""Benchmark: images/s of Integrated Gradients (50 steps) and ABC, batched vs the naive loop.

:func:`nsde.measures.attribution.attribute` sends ``batch_size`` images per Captum call and lets
Captum batch the interpolation steps (``internal_batch_size`` interpolated images per
forward); :func:`nsde.measures.abc.abc_confidence` scores ``batch_size`` mutated images per
forward. The obvious alternative is the naive loop: one image per call and one
interpolation step (or one mutated sample) per forward. This script measures both on a
ConvNeXt-atto Neural SDE (brownian noise on a fixed path, as the chapter uses it) at
1x64x64 (untrained weights: speed does not depend on the weights), prints images/s and
the speed-up, and repeats the measurement on the GPU when CUDA is present.

Usage: ``python benchmarks/bench_attribution.py [--n 8] [--naive-n 2] [--steps 50] [--samples 50]``
"""
from __future__ import annotations

import argparse
import time

import torch

from nsde._infra.runtime import configure
from nsde.core.models import build_model
from nsde.measures.abc import abc_confidence
from nsde.measures.attribution import attribute


def _timed(fn, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def bench(device: torch.device, *, n: int, naive_n: int, steps: int, samples: int, size: int, arch: str,
          ibs: int, fraction: float) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, size, size, generator=g)
    model = build_model(arch, kind="nsde", noise_shape="brownian", image_size=size, num_classes=16).to(device).eval()
    t = torch.randint(0, 16, (n,), generator=g)
    attribute(model, x[:1], t[:1], "ig", n_steps=2)  # warm-up
    ig_kw = dict(n_steps=steps, noise_seed=0)

    tb = _timed(lambda: attribute(model, x, t, "ig", batch_size=n, internal_batch_size=ibs, **ig_kw), device)
    tn = _timed(lambda: [attribute(model, x[i:i + 1], t[i:i + 1], "ig", batch_size=1, internal_batch_size=1,
                                   **ig_kw) for i in range(naive_n)], device)
    ig_b, ig_n = n / tb, naive_n / tn

    a = attribute(model, x, t, "ig", batch_size=n, internal_batch_size=ibs, **ig_kw)
    abc_kw = dict(attributions=a, n_mutations=samples, mask_law="categorical", n_features=fraction, noise_seed=0)
    tb = _timed(lambda: abc_confidence(model, x, batch_size=max(256, samples), **abc_kw), device)
    tn = _timed(lambda: abc_confidence(model, x[:naive_n], batch_size=1, **{**abc_kw, "attributions": a[:naive_n]}),
                device)
    abc_b, abc_n = n / tb, naive_n / tn

    print(f"[{device.type}] {arch} NSDE (fixed noise path) {size}x{size}; batched: {n} images, "
          f"naive: {naive_n} images")
    print(f"  IG, {steps} steps, internal_batch_size={ibs}: {ig_b:8.2f} images/s")
    print(f"  IG, {steps} steps, naive (1 step/forward) : {ig_n:8.2f} images/s   speed-up x{ig_b / ig_n:.1f}")
    print(f"  ABC, S={samples}, batched forwards        : {abc_b:8.2f} images/s  (attributions given)")
    print(f"  ABC, S={samples}, naive (1 sample/forward): {abc_n:8.2f} images/s   speed-up x{abc_b / abc_n:.1f}")
    print(f"  ABC incl. its IG, batched               : {1 / (1 / ig_b + 1 / abc_b):8.2f} images/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8, help="images of the batched runs")
    ap.add_argument("--naive-n", type=int, default=2, help="images of the naive loops")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--arch", default="convnext_atto")
    ap.add_argument("--ibs", type=int, default=64, help="Captum internal_batch_size")
    ap.add_argument("--fraction", type=float, default=0.25, help="ABC: fraction of features mutated")
    args = ap.parse_args()
    print(f"torch threads: {configure()['threads']}")
    kw = dict(steps=args.steps, samples=args.samples, size=args.size, arch=args.arch, ibs=args.ibs,
              fraction=args.fraction)
    bench(torch.device("cpu"), n=args.n, naive_n=args.naive_n, **kw)
    if torch.cuda.is_available():
        bench(torch.device("cuda"), n=max(args.n, 64), naive_n=max(args.naive_n, 4), **{**kw, "ibs": 512})


if __name__ == "__main__":
    main()
