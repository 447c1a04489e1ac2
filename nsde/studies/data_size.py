"""The Neural SDE with less training data: Brogan et al. (arXiv 2409.01532, Sec. 5) say it
helps "even in low-data-availability scenarios" from one data size; this module varies it.

Baseline/NSDE pairs are trained on class-stratified fractions of the training split
(:func:`train_fraction_zoo`; every pair shares the subset and the seed, and every size gets
the same number of optimisation steps, :func:`fraction_epochs`) and scored on the whole test
split, clean and under white noise (:func:`data_size_table`), with paired NSDE-minus-baseline
differences. With several training seeds per size, the difference resamples seeds and images.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from nsde._infra.cache import cached_call
from nsde._infra.checks import number_list, positive_int
from nsde.core.training import ModelSpec, TrainConfig, TrainedModel, train_or_load
from nsde.data import stratified_subset
from nsde.measures.evaluation import correctness
from nsde.measures.robustness import noisy_inputs
from nsde.report.claims import Verdict, judge
from nsde.stats.compare import compare_scores, pool_interval
from nsde.stats.inference import seed_test
from nsde.studies.zoo import recipe

__all__ = ["fraction_epochs", "train_fraction_zoo", "data_size_table", "less_data_verdict"]


def fraction_epochs(epochs: int, fraction: float) -> int:
    """Epochs on ``fraction`` of the training split that take as many optimisation steps as
    ``epochs`` on all of it (``ceil(epochs / fraction)``): a smaller set is not also a
    shorter training, so its models can converge as the full set's do.

    Args:
        epochs: epochs on the full training split (>= 1).
        fraction: the share of the split, in (0, 1].
    """
    epochs = positive_int("epochs", epochs)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], but found {fraction:g}")
    return int(np.ceil(round(epochs / fraction, 9)))


def train_fraction_zoo(splits, profile, fractions, *, n_seeds: int = 1,
                       device: torch.device | None = None) -> dict[float, dict[str, list[TrainedModel]]]:
    """Baseline and NSDE trained on class-stratified fractions of the training split.

    Every pair shares the data and the seed; every size takes the same number of
    optimisation steps (:func:`fraction_epochs`: ``epochs / fraction`` epochs), so a smaller
    set means less data, not also less training. Fraction 1 is the model of
    :func:`nsde.core.training.train_zoo` with the same profile (loaded from the cache).

    Args:
        splits: the data.
        profile: the profile (``arch, epochs, batch_size, lr, sigma, noise_shape, seed``).
        fractions: shares of the training split, each in (0, 1].
        n_seeds: training seeds per size (``seed, seed + 1, ...``).
        device: default ``nsde._infra.runtime.default_device()``.

    Returns:
        ``{fraction: {"baseline": [TrainedModel, ...], "nsde-<shape>": [...]}}``, fractions
        in increasing order.
    """
    fractions = sorted(set(number_list("fractions", fractions, strictly_positive=True)))
    if fractions[-1] > 1:
        raise ValueError(f"fractions must lie in (0, 1], but found {fractions[-1]:g}")
    n_seeds = positive_int("n_seeds", n_seeds)
    p = profile
    specs = [ModelSpec(arch=p.arch, kind="baseline", **recipe(p.arch)),
             ModelSpec(arch=p.arch, kind="nsde", noise_shape=p.noise_shape, sigma=float(p.sigma), **recipe(p.arch))]
    out: dict[float, dict[str, list[TrainedModel]]] = {}
    for f in fractions:
        cfgs = [TrainConfig(epochs=fraction_epochs(p.epochs, f), batch_size=p.batch_size, lr=float(p.lr), seed=p.seed + i,
                            train_fraction=f) for i in range(n_seeds)]
        out[f] = {spec.name: [train_or_load(spec, cfg, splits, device=device) for cfg in cfgs] for spec in specs}
    return out


def data_size_table(runs: dict[float, dict[str, list[TrainedModel]]], splits, *, intensities=(0.0,),
                    samples: int = 10, seed: int = 0) -> pd.DataFrame:
    """Test accuracy of each pair of :func:`train_fraction_zoo`, clean and under white noise.

    The baseline is evaluated with its drift path, the NSDE with the noise on
    (``samples`` passes, mean softmax), as in the robustness chapter. Every model sees
    the same noisy test images (:func:`nsde.measures.robustness.noisy_inputs`). Intervals: 95%,
    resampling seeds and images (:mod:`nsde.stats.intervals`). The per-image scores are cached
    under the models' keys, the test images and the arguments.

    Returns:
        A ``pandas.DataFrame``, one row per (fraction, intensity), accuracies in [0, 1]:
        ``fraction, train images, seeds, intensity, baseline, baseline low, baseline high,
        nsde, nsde low, nsde high, difference, difference low, difference high``.
    """
    x, y = splits.test.x, splits.test.y
    levels = number_list("intensities", intensities, minimum=0.0)
    noisy = noisy_inputs(x, levels, "white", seed)
    rows, scores = [], {}
    for f, pair in runs.items():
        base = next(v for k, v in pair.items() if k == "baseline")
        nsde = next(v for k, v in pair.items() if k != "baseline")
        n_train = len(stratified_subset(splits.train, f, seed=base[0].train_cfg.seed))
        for intensity, xi, _ in noisy:
            cb, cn = cached_call("data_size", data_size_table, lambda: (
                np.stack([correctness(t, xi, y, noise="off", seed=seed) for t in base]),
                np.stack([correctness(t, xi, y, noise="on", samples=samples, seed=seed) for t in nsde])),
                model=[t.key for t in base + nsde], tensors=(x, y), arguments=dict(intensities=[intensity],
                                                                                   samples=samples, seed=seed),
                version=3, name="correct.pt")
            row = {"fraction": f, "train images": n_train, "seeds": len(base), "intensity": intensity}
            for name, c in (("baseline", cb), ("nsde", cn)):
                iv = pool_interval(c, seed=seed)
                row.update({name: iv.estimate, f"{name} low": iv.low, f"{name} high": iv.high})
            d = compare_scores(cn, cb, seed=seed)
            row.update({"difference": d.estimate, "difference low": max(-1.0, d.low),
                        "difference high": min(1.0, d.high)})
            rows.append(row)
            scores[(f, intensity)] = (cn, cb)
    df = pd.DataFrame(rows)
    df.attrs["scores"] = scores
    return df


def less_data_verdict(table: pd.DataFrame) -> Verdict:
    """The paper's question as a test (claim ``less-data``): the NSDE-minus-baseline accuracy
    at the smallest training set minus the same at the full one, per image and seed
    (averaged over the input-noise levels), seeds paired
    (:func:`nsde.stats.inference.seed_test`); a regulariser that helps most when data are
    scarce makes it positive. Per noise level the same contrast is secondary (Holm).

    Args:
        table: :func:`data_size_table` with at least two training-set sizes.
    """
    scores = table.attrs["scores"]
    fractions = sorted({f for f, _ in scores})
    if len(fractions) < 2:
        raise ValueError("the less-data question needs at least two training-set sizes")
    small, full = fractions[0], fractions[-1]
    levels = sorted({i for _, i in scores})

    def contrast(i):
        (ns, bs), (nf, bf) = scores[(small, i)], scores[(full, i)]
        return (ns - bs) - (nf - bf)

    per_level = {i: seed_test(contrast(i)) for i in levels}
    primary = seed_test(np.mean([contrast(i) for i in levels], axis=0))
    return judge("less-data", primary, settings=per_level if len(levels) > 1 else None, included=levels,
                 what="noise level")


