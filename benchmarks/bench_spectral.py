"""Benchmark: one model's I-ASIDE decomposition (nsde.measures.iaside).

Times the exact Shapley decomposition of one convnext_atto (untrained weights, noise off)
over 2^M band coalitions x K images at 64x64 (target on a 2-core CPU: K = 500 in <= 5
minutes), then, on a subset, the speed-up of batched coalition evaluation (many
coalitions per forward pass) over evaluating one coalition at a time as the reference
code does (a forward pass per coalition and mini-batch of 10 images), and over one
coalition at a time with all subset images in one pass. With CUDA, repeats the full
decomposition on the GPU.

Usage::

    python benchmarks/bench_spectral.py [--k 500] [--size 64] [--bands 8] [--subset 40]
"""
from __future__ import annotations

import argparse
import time

import torch

from nsde._infra.runtime import seed_everything
from nsde.core.models import build_model
from nsde.measures.iaside import all_coalitions, coalition_values, spectral_importance


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=500, help="images of the evaluation set")
    ap.add_argument("--size", type=int, default=64, help="image side")
    ap.add_argument("--bands", type=int, default=8, help="number of bands M")
    ap.add_argument("--batch-size", type=int, default=512, help="(coalition, image) pairs per forward")
    ap.add_argument("--subset", type=int, default=40, help="images of the speed-up comparison")
    ap.add_argument("--subset-coalitions", type=int, default=32, help="coalitions of the speed-up comparison")
    ap.add_argument("--skip-full", action="store_true", help="only run the speed-up comparison")
    args = ap.parse_args()

    seed_everything(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"CUDA: {torch.cuda.is_available()}")
    model = build_model("convnext_atto", "baseline", image_size=args.size, num_classes=16)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(args.k, 1, args.size, args.size, generator=g)  # stand-in spectrograms in [0, 1]
    y = torch.randint(0, 16, (args.k,), generator=g)
    n_coal = 2**args.bands

    # --- speed-up of batched coalitions on a subset -----------------------------------------
    xs, ys = x[: args.subset], y[: args.subset]
    coal = all_coalitions(args.bands)[torch.linspace(0, n_coal - 1, args.subset_coalitions).long()]
    pairs = len(coal) * len(xs)

    def one_at_a_time(images_per_pass):
        return torch.stack([coalition_values(model, xs, ys, args.bands, coalitions=coal[i:i + 1],
                                             batch_size=images_per_pass, show_progress=False)[0]
                            for i in range(len(coal))])

    batched, t_b = timed(lambda: coalition_values(model, xs, ys, args.bands, coalitions=coal,
                                                  batch_size=args.batch_size, show_progress=False))
    ref, t_r = timed(lambda: one_at_a_time(10))
    whole, t_w = timed(lambda: one_at_a_time(len(xs)))
    assert torch.allclose(batched, ref, atol=1e-4) and torch.allclose(batched, whole, atol=1e-4)
    print(f"\nsubset: {len(coal)} coalitions x {len(xs)} images = {pairs} forward items, CPU")
    print(f"  batched ({args.batch_size} pairs/pass):          {t_b:7.2f} s  {pairs / t_b:6.0f} items/s")
    print(f"  one coalition at a time, 10 images/pass:  {t_r:7.2f} s  {pairs / t_r:6.0f} items/s"
          f"  -> batched is {t_r / t_b:.2f}x faster")
    print(f"  one coalition at a time, {len(xs)} images/pass:  {t_w:7.2f} s  {pairs / t_w:6.0f} items/s"
          f"  -> batched is {t_w / t_b:.2f}x faster")

    if args.skip_full:
        return
    # --- the full decomposition ---------------------------------------------------------------
    res, t_full = timed(lambda: spectral_importance(model, x, y, n_bands=args.bands,
                                                    batch_size=args.batch_size))
    print(f"\nfull decomposition, CPU: {n_coal} coalitions x {args.k} images at {args.size}x{args.size} "
          f"= {n_coal * args.k} forward items in {t_full:.1f} s ({n_coal * args.k / t_full:.0f} items/s; "
          f"target <= 300 s: {'met' if t_full <= 300 else 'NOT met'})")
    print(f"  efficiency check: sum psi = {res.shapley.sum():.6f}, v(all) - v(none) = "
          f"{res.v_all - res.v_empty:.6f}; SRS = {res.srs:.3f}")

    if torch.cuda.is_available():
        gpu = model.to("cuda")
        spectral_importance(gpu, x[:16], y[:16], n_bands=args.bands, show_progress=False)  # warm-up
        torch.cuda.synchronize()
        res_g, t_gpu = timed(lambda: spectral_importance(gpu, x, y, n_bands=args.bands,
                                                         batch_size=4096, show_progress=False))
        torch.cuda.synchronize()
        print(f"full decomposition, GPU ({torch.cuda.get_device_name()}): {t_gpu:.1f} s "
              f"({n_coal * args.k / t_gpu:.0f} items/s, {t_full / t_gpu:.1f}x the CPU); "
              f"max |psi_gpu - psi_cpu| = {abs(res_g.shapley - res.shapley).max():.2e}")


if __name__ == "__main__":
    main()
