"""Paired, interleaved timing rounds that leave out the rounds another process disturbed.

Every benchmark here compares alternatives (NSDE vs baseline, bf16 vs fp32, a candidate vs
the current code) on a small shared CPU. Each round runs every alternative once, in a new
shuffled order, so slow drifts bias none of them; the comparison is made within rounds.
On Linux a round also reads the machine's CPU counters (``/proc/stat``) and this process's
CPU time: a round in which *other* processes used more than ``quiet`` of the machine's CPU
is not counted (on two cores, one other busy thread takes half of them, and a two-thread
PyTorch step then waits on a descheduled thread and slows down several-fold), and rounds go
on until ``rounds`` clean ones are counted or ``max_rounds`` were run. Without
``/proc/stat`` every round counts.
"""
from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = ["Rounds", "run_rounds", "ratio_interval"]


def _busy_ticks() -> int | None:
    """CPU ticks the whole machine spent busy since boot (``None`` without ``/proc/stat``)."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return user + nice + system + irq + softirq + steal


@dataclass
class Rounds:
    """Times of the counted rounds: ``times[name][i]`` is the seconds of ``name`` in round ``i``."""

    times: dict[str, list[float]]
    run: int = 0
    others: list[float] = field(default_factory=list)  # the share of CPU others took, per round run
    counted: int = 0  # undisturbed rounds (``times`` holds every round when there was none)

    def describe(self) -> str:
        busy = np.array(self.others) if self.others else np.zeros(0)
        extra = f"; other processes took a median {np.median(busy):.0%} of the CPU per round" if busy.size else ""
        if self.counted == 0:
            return f"no undisturbed round in {self.run}: all counted{extra}"
        return f"{self.counted} of {self.run} rounds counted (undisturbed){extra}"


def run_rounds(fns: dict[str, Callable[[], object]], rounds: int, *, max_rounds: int | None = None,
               quiet: float = 0.1, seed: int = 0, wait: float = 2.0) -> Rounds:
    """Time ``fns`` in paired rounds (see the module docstring).

    Args:
        fns: name -> a callable doing one unit of work (a training step, a forward pass).
        rounds: counted rounds wanted.
        max_rounds: rounds run at most (default ``4 * rounds``); then the rounds counted so
            far are returned, or, if none was undisturbed, every round.
        quiet: the largest share of the machine's CPU other processes may take in a round.
        seed: seed of the shuffled orders.
        wait: seconds to pause after a disturbed round (a busy neighbour often stays busy).
    """
    max_rounds = max_rounds or 4 * rounds
    ncpu = os.cpu_count() or 1
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    names = list(fns)
    rng = random.Random(seed)
    clean: dict[str, list[float]] = {n: [] for n in names}
    every: dict[str, list[float]] = {n: [] for n in names}
    out = Rounds(clean)
    while out.counted < rounds and out.run < max_rounds:
        order = names[:]
        rng.shuffle(order)
        b0, c0, w0 = _busy_ticks(), os.times(), time.perf_counter()
        times = {}
        for name in order:
            t = time.perf_counter()
            fns[name]()
            times[name] = time.perf_counter() - t
        b1, c1, w1 = _busy_ticks(), os.times(), time.perf_counter()
        out.run += 1
        for n in names:
            every[n].append(times[n])
        if b0 is None:
            share = 0.0
        else:
            own = (c1.user - c0.user) + (c1.system - c0.system)
            share = max(0.0, (b1 - b0) / hz - own) / (ncpu * (w1 - w0))
        out.others.append(share)
        if share <= quiet:
            out.counted += 1
            for n in names:
                clean[n].append(times[n])
        elif wait:
            time.sleep(wait)
    if out.counted == 0:
        out.times = every
    return out


def ratio_interval(num: list[float], den: list[float], level: float = 0.95, n_boot: int = 2000, seed: int = 0):
    """Median over rounds of ``num / den`` with its percentile-bootstrap interval: ``(est, low, high)``."""
    r = np.asarray(num, dtype=float) / np.asarray(den, dtype=float)
    est = float(np.median(r))
    if r.size < 2:
        return est, float("nan"), float("nan")
    g = np.random.default_rng(seed)
    boots = np.median(r[g.integers(0, r.size, size=(n_boot, r.size))], axis=1)
    a = (1 - level) / 2
    return est, float(np.quantile(boots, a)), float(np.quantile(boots, 1 - a))
