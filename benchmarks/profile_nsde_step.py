"""Where the NSDE training step's extra time goes (nsde.core.models), by operator.

Profiles ``--steps`` training steps (forward + backward + AdamW, learning rate 0, as
``bench_training`` takes them) of the baseline and of each NSDE variant with
``torch.profiler``, and prints, per variant, the operators whose self CPU time grew most
against the baseline's, in ms per step, and their share of the whole difference. The rows
name what the noise costs: drawing it (``aten::normal_``), shaping it (``aten::mm``/``bmm``
of the separable filters, ``aten::_fft_*``), its scale (``aten::mean``/``pow``/``sum`` of the
RMS), adding it (``aten::add_``/``addcmul_``) and layout copies (``aten::copy_``,
``aten::clone``). The profiler's own overhead inflates every row alike; read the shares,
not the absolute times (``bench_training`` measures those).

    python benchmarks/profile_nsde_step.py [--arch resnet10t] [--size 64] [--batch 32] [--steps 20]
"""
from __future__ import annotations

import argparse
import statistics
from collections import defaultdict

import torch
from torch.profiler import ProfilerActivity, profile

from bench_training import _step_fn
from nsde._infra.runtime import configure, precision
from nsde.core.models import build_model


def self_times(step, steps: int) -> dict[str, float]:
    """Self CPU time of each operator in ms per step, over ``steps`` profiled steps."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    out: dict[str, float] = defaultdict(float)
    for evt in prof.key_averages():
        out[evt.key] += evt.self_cpu_time_total / 1000.0 / steps
    return dict(out)


def median_times(steps: dict, n_steps: int, rounds: int) -> dict[str, dict[str, float]]:
    """Per model, the median over ``rounds`` of each operator's self time (ms per step);
    the models take turns within each round, so a slow spell of a shared CPU is shared too."""
    for step in steps.values():  # warm-up: allocator, plans of the noise draws, oneDNN primitives
        for _ in range(3):
            step()
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            runs[name].append(self_times(step, n_steps))
    out = {}
    for name, rs in runs.items():
        keys = set().union(*rs)
        out[name] = {k: statistics.median(r.get(k, 0.0) for r in rs) for k in keys}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="resnet10t")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=5, help="steps per profile")
    ap.add_argument("--rounds", type=int, default=7, help="profiles per model, taken in turns")
    ap.add_argument("--shapes", nargs="+", default=["brownian", "white", "pink"])
    ap.add_argument("--top", type=int, default=8)
    args = ap.parse_args(argv)
    configure()
    device = torch.device("cpu")
    prec = precision(device, args.arch)
    torch.manual_seed(0)
    x = torch.rand(args.batch, 1, args.size, args.size, device=device)
    y = torch.randint(0, 16, (args.batch,), device=device)
    base = build_model(args.arch, "baseline", image_size=args.size, num_classes=16).to(device).train()
    base.set_precision(prec)
    steps = {"baseline": _step_fn(base, x, y, device)}
    for shape in args.shapes:
        m = build_model(args.arch, "nsde", noise_shape=shape, sigma=0.1, image_size=args.size, num_classes=16)
        m.load_state_dict(base.state_dict())
        m.to(device).train().set_precision(prec)
        steps[f"nsde-{shape}"] = _step_fn(m, x, y, device)
    times = median_times(steps, args.steps, args.rounds)
    ref = times.pop("baseline")
    total_ref = sum(ref.values())
    print(f"{args.arch} {args.size}x{args.size} batch {args.batch} {prec}, median of {args.rounds} profiles of "
          f"{args.steps} steps; baseline {total_ref:.1f} ms/step of self CPU time (profiler included)")
    for name, t in times.items():
        total = sum(t.values())
        diff = {k: t.get(k, 0.0) - ref.get(k, 0.0) for k in set(t) | set(ref)}
        extra = total - total_ref
        print(f"\n{name}: {total:.1f} ms/step, {extra:+.1f} ms ({total / total_ref:.3f}x); "
              f"operators that grew most (ms/step, share of the difference):")
        for k, d in sorted(diff.items(), key=lambda kv: -kv[1])[:args.top]:
            share = d / extra if extra > 0 else float("nan")
            print(f"  {k:<40s} {d:+7.2f}  {share:6.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
