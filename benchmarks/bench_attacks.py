"""Benchmark: images/s of APGD-CE (pyautoattack) on the baseline and on the Neural SDE with EOT.

The adaptive attack on the NSDE averages ``eot`` noise draws per gradient, so it costs
about ``eot`` times the baseline attack per image; this script measures that ratio on
this machine (ConvNeXt-atto, 1x64x64 inputs, untrained weights: speed does not depend on
the weights). A CUDA branch runs the same measurement on the GPU when one is present.

Usage: ``python benchmarks/bench_attacks.py [--n 16] [--iters 10] [--eot 20]``
"""
from __future__ import annotations

import argparse
import time

import torch
from pyautoattack.autopgd_base import APGDAttack

from nsde._infra.runtime import configure
from nsde.core.models import build_model, noise_mode


def images_per_s(model, x, y, *, iters: int, eot: int, repeats: int = 2) -> tuple[float, float]:
    """Best-of-``repeats`` throughput of APGD-CE (L2, eps=0.5) over the batch.

    Returns ``(images per wall-clock second, images per process-CPU second)``; the second
    is steadier when other jobs share the cores.

    Times AutoAttack's ``attack_single_run``, the body of ``APGDAttack.perturb``, so that
    every image is attacked for all ``iters`` iterations: ``perturb`` skips images that
    one noisy forward already misclassifies, which would flatter the randomised model.
    The noise is on (one fresh draw per forward), as in :func:`nsde.measures.robustness.apgd_attack`.
    """
    best, best_cpu = float("inf"), float("inf")
    with noise_mode(model, "on"):
        model.eval()
        for _ in range(repeats):
            attack = APGDAttack(model, n_iter=iters, norm="L2", eps=0.5, loss="ce", eot_iter=eot,
                                device=x.device)
            attack.init_hyperparam(x)
            if x.is_cuda:
                torch.cuda.synchronize()
            t0, c0 = time.perf_counter(), time.process_time()
            attack.attack_single_run(x, y)
            if x.is_cuda:
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t0)
            best_cpu = min(best_cpu, time.process_time() - c0)
    return len(x) / best, len(x) / best_cpu


def bench(device: torch.device, n: int, iters: int, eot: int, size: int, arch: str) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, size, size, generator=g).to(device)
    y = torch.randint(0, 16, (n,), generator=g).to(device)
    base = build_model(arch, kind="baseline", image_size=size, num_classes=16).to(device).eval()
    nsde = build_model(arch, kind="nsde", noise_shape="brownian", image_size=size, num_classes=16).to(device).eval()
    for m in (base, nsde):  # warm-up: the first backward passes build oneDNN kernels (seconds each)
        with noise_mode(m, "on"):
            xi = x.clone().requires_grad_(True)
            for _ in range(3):
                torch.autograd.grad(m(xi).sum(), xi)
    r_base = images_per_s(base, x, y, iters=iters, eot=1)
    r_nsde1 = images_per_s(nsde, x, y, iters=iters, eot=1)
    r_eot = images_per_s(nsde, x, y, iters=iters, eot=eot, repeats=1)
    print(f"[{device.type}] {arch} {size}x{size}, {n} images, APGD-CE L2 {iters} iterations "
          f"(images/s wall | per CPU-second)")
    for label, r in [("baseline, APGD-CE", r_base), ("NSDE, non-adaptive (1 draw)", r_nsde1),
                     (f"NSDE, adaptive EOT-{eot}", r_eot)]:
        print(f"  {label:<30s}: {r[0]:8.2f} | {r[1]:8.2f}")
    print(f"  ratio baseline / NSDE EOT-{eot:<4d}: {r_base[0] / r_eot[0]:8.1f}x | {r_base[1] / r_eot[1]:6.1f}x"
          f"   (EOT draws alone: {eot}x)")
    print(f"  ratio baseline / NSDE 1 draw  : {r_base[0] / r_nsde1[0]:8.2f}x | {r_base[1] / r_nsde1[1]:6.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=16, help="images attacked (CPU)")
    ap.add_argument("--iters", type=int, default=10, help="APGD iterations")
    ap.add_argument("--eot", type=int, default=20, help="noise draws per gradient")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--arch", default="convnext_atto")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {configure()['threads']} CPU threads")
    bench(torch.device("cpu"), args.n, args.iters, args.eot, args.size, args.arch)
    if torch.cuda.is_available():
        print(f"GPU: {torch.cuda.get_device_name()}")
        bench(torch.device("cuda"), 8 * args.n, args.iters, args.eot, args.size, args.arch)
    else:
        print("no CUDA device: GPU branch skipped")


if __name__ == "__main__":
    main()
