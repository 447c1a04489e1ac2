"""Benchmark: simulate + transform the default harmonic-signals dataset (NSDE paper shape).

Generates the 10,000-sample dataset (16 classes x 625, 64x64 spectrograms) with the
vectorised, chunked generator and prints samples/s and peak memory, then runs the
obvious alternative, a per-sample loop (batch of one) over the same code, on a subset
and prints the speed ratio. Targets (issue 3): <= 30 s and <= 2 GB on a 2-core CPU.

Usage: python benchmarks/bench_data.py [--n-per-class 625] [--image-size 64] [--naive 160]
"""
from __future__ import annotations

import argparse
import os
import resource
import time

import torch

from nsde.data import DataConfig, generate_dataset


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-per-class", type=int, default=625)
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--naive", type=int, default=160, help="samples for the per-sample loop")
    args = ap.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")
    cfg = DataConfig(n_per_class=args.n_per_class, image_size=args.image_size)
    n = 16 * cfg.n_per_class
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    generate_dataset(DataConfig(n_per_class=6, image_size=cfg.image_size), show_progress=False)  # warm-up
    base = _peak_rss_mb()
    t, c = time.perf_counter(), _cpu_s()
    data = generate_dataset(cfg, show_progress=False)
    dt, cpu = time.perf_counter() - t, _cpu_s() - c
    peak = _peak_rss_mb()
    print(f"vectorised: {n} samples ({tuple(data.x.shape)}) in {dt:.1f} s = {n / dt:.0f} samples/s; "
          f"peak RSS {peak:.0f} MB (process before generation {base:.0f} MB; images {data.x.numel() * 4 / 2**20:.0f} MB)")
    load = os.getloadavg()[0]
    print(f"CPU time {cpu:.1f} s over {torch.get_num_threads()} threads (load average {load:.1f}: on a busy machine "
          f"the wall time exceeds CPU time / threads = {cpu / torch.get_num_threads():.1f} s)")
    # the obvious alternative: one sample at a time through the same code, on a subset
    small = DataConfig(n_per_class=max(1, args.naive // 16), image_size=cfg.image_size)
    m = 16 * small.n_per_class
    t = time.perf_counter()
    one = generate_dataset(small, chunk=1, show_progress=False)
    dt1 = time.perf_counter() - t
    t = time.perf_counter()
    vec = generate_dataset(small, show_progress=False)
    dtv = time.perf_counter() - t
    same = torch.allclose(one.x, vec.x, atol=1e-4)
    print(f"per-sample loop: {m} samples in {dt1:.2f} s = {m / dt1:.0f} samples/s; vectorised on the same "
          f"subset {m / dtv:.0f} samples/s; speed-up x{dt1 / dtv:.1f} (full run vs loop: x{(n / dt) / (m / dt1):.1f}); "
          f"identical images: {same}")
    print(f"targets: time {'OK' if dt <= 30 else 'MISSED'} ({dt:.1f} s <= 30 s), "
          f"memory {'OK' if peak <= 2048 else 'MISSED'} ({peak:.0f} MB <= 2048 MB)")


if __name__ == "__main__":
    main()
