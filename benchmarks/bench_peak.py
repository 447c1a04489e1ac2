"""Training, evaluation and attack throughput as a fraction of this machine's matrix-product peak.

In the same run, in paired rounds (``benchmarks/_rounds.py``: every workload once per round,
shuffled; rounds another process disturbed are not counted), this measures

* the **peak**: FLOP/s of a 2048x2048 matrix product, in fp32 and in bf16;
* the **default model's training step** (ResNet-10-T, 64x64, batch 32, forward + backward +
  AdamW; the default profile's sizes), in fp32 and in bf16 (autocast, channels-last);
* a **noisy ensemble pass** (NSDE, Brownian noise, ``samples=4``, ``nsde.core.predict.predict``
  at its batch of 256) and an **EOT gradient** (``nsde.measures.attacks.eot_gradient``,
  ``draws=5`` on 100 images: the default profile's ``eot_iters`` and attack set),

and prints images/s, the FLOPs per image counted by ``torch.utils.flop_counter.FlopCounterMode``
(matrix products and convolutions, forward and backward), the FLOP/s they make and their
fraction of the peak of the same precision (median over rounds of the within-round ratio,
95% bootstrap interval). The training step uses the training loop's AdamW kernel (fused where
PyTorch has one). Options add candidates: ``--compile`` (``torch.compile``, inductor),
``--unfused`` (AdamW's per-tensor loop, as before),
``--batches 64 128`` (larger training batches than the profile's, for reference only),
``--loop`` (the ensemble's passes and the EOT gradient's draws one at a time, as before
they were stacked along the batch).

    python benchmarks/bench_peak.py [--rounds 15] [--arch resnet10t] [--compile] [--unfused] [--batches 64 128]
                                    [--loop] [--only train ensemble eot]
"""
from __future__ import annotations

import argparse
import contextlib

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from _rounds import ratio_interval, run_rounds
from nsde._infra.runtime import configure, optimizer_options
from nsde.core.models import STACK_PASSES, build_model, noise_mode
from nsde.core.predict import predict
from nsde.measures.attacks import eot_gradient

N = 2048


def _peak_fn(dtype):
    g = torch.Generator().manual_seed(0)
    a = torch.randn(N, N, generator=g).to(dtype)
    b = torch.randn(N, N, generator=g).to(dtype)

    def fn():
        torch.mm(a, b)
        torch.mm(b, a)
    return fn, 2 * 2 * N ** 3


def _flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def _train(arch, prec, batch, size, compiled=False, fused=True):
    torch.manual_seed(0)
    model = build_model(arch, "baseline", image_size=size, num_classes=16).train().set_precision(prec)
    x, y = torch.rand(batch, 1, size, size), torch.randint(0, 16, (batch,))
    # the full update with the weights unchanged (lr 0), with the training loop's AdamW kernel
    opt = torch.optim.AdamW(model.parameters(), lr=0.0, **(optimizer_options("cpu") if fused else {}))
    net = torch.compile(model) if compiled else model

    def step():
        loss = F.cross_entropy(net(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def fwd_bwd():
        F.cross_entropy(model(x).float(), y).backward()
        model.zero_grad(set_to_none=True)
    return step, _flops(fwd_bwd), batch


def _nsde(arch, prec, size):
    torch.manual_seed(0)
    return build_model(arch, "nsde", noise_shape="brownian", sigma=0.1, image_size=size,
                       num_classes=16).eval().set_precision(prec)


def _ensemble(arch, prec, size, n=256, samples=4, loop=False):
    model = _nsde(arch, prec, size)
    x = torch.rand(n, 1, size, size)

    def run():
        with noise_mode(model, "on", samples=samples):
            model._noise.stack = not loop
            try:
                return predict(model, x, batch_size=n)
            finally:
                model._noise.stack = STACK_PASSES
    with noise_mode(model, "on", samples=1):  # FLOPs of one pass, times the passes
        flops = _flops(lambda: predict(model, x, batch_size=n)) * samples
    return run, flops, n


def _eot(arch, prec, size, n=100, draws=5, loop=False):
    model = _nsde(arch, prec, size)
    x, y = torch.rand(n, 1, size, size), torch.randint(0, 16, (n,))

    def run():
        with noise_mode(model, "on"):
            return eot_gradient(model, x, y, draws, stack=not loop)
    def one_draw():  # the input gradient only, as autograd.grad computes it (FlopCounterMode
        # cannot follow autograd.grad, so: backward with the weights frozen)
        xs = x.clone().requires_grad_(True)
        F.cross_entropy(model(xs), y, reduction="sum").backward()

    params = [q for q in model.parameters() if q.requires_grad]
    with noise_mode(model, "on"):
        for q in params:
            q.requires_grad_(False)
        try:
            flops = _flops(one_draw) * draws
        finally:
            for q in params:
                q.requires_grad_(True)
    return run, flops, n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="resnet10t")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--rounds", type=int, default=15, help="counted (undisturbed) rounds")
    p.add_argument("--compile", action="store_true", help="add torch.compile'd training steps")
    p.add_argument("--batches", type=int, nargs="*", default=[], help="extra training batch sizes (bf16)")
    p.add_argument("--unfused", action="store_true", help="add training steps with AdamW's per-tensor loop")
    p.add_argument("--loop", action="store_true", help="add the one-draw-at-a-time ensemble and EOT passes")
    p.add_argument("--only", nargs="*", default=None, help="workloads to run: train ensemble eot")
    a = p.parse_args()
    configure()
    only = set(a.only or ("train", "ensemble", "eot"))
    peaks = {"fp32": _peak_fn(torch.float32), "bf16": _peak_fn(torch.bfloat16)}
    work: dict[str, tuple] = {}  # name -> (fn, flops per call, images per call, precision)
    for prec in ("fp32", "bf16"):
        if "train" in only:
            work[f"train {prec}"] = (*_train(a.arch, prec, a.batch, a.size), prec)
            if a.compile:
                work[f"train {prec} compiled"] = (*_train(a.arch, prec, a.batch, a.size, compiled=True), prec)
            if a.unfused:
                work[f"train {prec} AdamW loop"] = (*_train(a.arch, prec, a.batch, a.size, fused=False), prec)
        if "ensemble" in only:
            work[f"ensemble K=4 {prec}"] = (*_ensemble(a.arch, prec, a.size), prec)
            if a.loop:
                work[f"ensemble K=4 {prec} loop"] = (*_ensemble(a.arch, prec, a.size, loop=True), prec)
        if "eot" in only:
            work[f"EOT 5 draws {prec}"] = (*_eot(a.arch, prec, a.size), prec)
            if a.loop:
                work[f"EOT 5 draws {prec} loop"] = (*_eot(a.arch, prec, a.size, loop=True), prec)
    if "train" in only:
        for b in a.batches:
            work[f"train bf16 batch {b}"] = (*_train(a.arch, "bf16", b, a.size), "bf16")
    fns = {f"peak {k}": v[0] for k, v in peaks.items()}
    fns.update({k: v[0] for k, v in work.items()})
    for name, fn in fns.items():  # warm-up (oneDNN primitives, compilation)
        fn()
        fn()
    rounds = run_rounds(fns, a.rounds)
    t = {k: np.array(v) for k, v in rounds.times.items()}
    print(f"{a.arch} {a.size}x{a.size} on cpu ({torch.get_num_threads()} threads), {rounds.describe()}")
    print(f"{'workload':<26}{'images/s':>10}{'GFLOP/img':>11}{'GFLOP/s':>9}{'peak GFLOP/s':>14}"
          f"{'of peak':>9}{'95% interval':>17}")
    for k, (_, flops) in peaks.items():
        print(f"{'peak ' + k + ' (2048^2 mm)':<26}{'':>10}{'':>11}{flops / np.median(t['peak ' + k]) / 1e9:>9.0f}")
    for name, (_, flops, images, prec) in work.items():
        peak_flops = peaks[prec][1]
        # fraction per round: (flops / t_work) / (peak flops / t_peak) = (flops / peak_flops) * t_peak / t_work
        est, low, high = ratio_interval(t[f"peak {prec}"] * flops / peak_flops, t[name])
        rate = flops / np.median(t[name])
        print(f"{name:<26}{images / np.median(t[name]):>10.0f}{flops / images / 1e9:>11.3f}{rate / 1e9:>9.0f}"
              f"{peak_flops / np.median(t['peak ' + prec]) / 1e9:>14.0f}{est:>9.1%}"
              f"{f'[{low:.1%}, {high:.1%}]':>17}", flush=True)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
