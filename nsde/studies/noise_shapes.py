"""Open question 1 of Brogan et al. (arXiv 2409.01532): which noise shape, and how much noise?

A grid of NSDEs, one per ``shape@sigma`` entry of the profile (white, Brownian sheet,
pink, brown, and attribution-shaped noise, :mod:`nsde.studies.attribution_noise`), trained on the same data
with the same budget as the baseline, each scored on the same images by the measures of
the other chapters (:func:`grid_metrics`):

* clean accuracy of the ensemble (noise on);
* robustness to random noise: the area under the accuracy-intensity curve (white noise),
  normalised by the intensity range (:func:`nsde.measures.robustness.noise_auc`);
* APGD-CE robust accuracy, non-adaptive and EOT, at one budget;
* attribution stability (top-k overlap, Spearman, log change) as in chapter 4;
* ABC's AUROC for telling right from wrong predictions;
* the spectral robustness score of I-ASIDE (chapter 5).

Every measure but the SRS and the AUROC is per image, so each grid cell gets its paired
difference from the baseline with a 95% bootstrap interval (:func:`grid_differences`), and
:func:`plot_grid` draws one heat map per measure (shape x sigma) of that difference.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from nsde.core.training import ModelSpec, TrainConfig, train_or_load
from nsde.measures import attacks as at
from nsde.measures import iaside as sp
from nsde.measures.abc import cached_abc
from nsde.measures.attribution import cached_stability
from nsde.measures.evaluation import correctness, eval_subset
from nsde.measures.reliability import auroc
from nsde.measures.robustness import noise_accuracy, noise_auc
from nsde.report.claims import settings_table
from nsde.stats.inference import seed_test
from nsde.studies.attribution_noise import shaped_rounds
from nsde.studies.zoo import recipe

__all__ = ["grid_models", "grid_metrics", "grid_differences", "grid_table", "grid_counts", "compare_cells"]


def grid_models(splits, profile, grid: Sequence[tuple[str, float]], *, rounds: int = 1,
                attribution: str = "saliency", device: torch.device | None = None) -> dict:
    """Train (or load) one NSDE per grid entry (first training seed of the profile).

    Attribution-shaped entries run :func:`nsde.studies.attribution_noise.shaped_rounds` on the Brownian sheet
    and keep the last round. Returns ``{(shape, sigma): TrainedModel}``.
    """
    p = profile
    if rounds < 1 and any(shape == "attribution" for shape, _ in grid):
        raise ValueError("the grid names attribution-shaped noise, which needs rounds >= 1 (round 0 is uniform "
                         f"Brownian noise), but rounds={rounds}")
    cfg = TrainConfig(epochs=p.epochs, batch_size=p.batch_size, lr=float(p.lr), seed=p.seed)
    models = {}
    for shape, sigma in grid:
        if shape == "attribution":
            models[(shape, sigma)] = shaped_rounds(splits, p, rounds=rounds, sigma=sigma, attribution=attribution,
                                                   device=device)[-1]
        else:
            spec = ModelSpec(arch=p.arch, kind="nsde", noise_shape=shape, sigma=sigma, **recipe(p.arch))
            models[(shape, sigma)] = train_or_load(spec, cfg, splits, device=device)
    return models


def _per_image(trained, splits, x_eval, y_eval, x_att, y_att, p, intensities, eps, noise: str, samples: int) -> dict:
    """The per-image scores of one model (arrays over the same images for every model)."""
    seed = p.seed
    out = {"clean": correctness(trained, splits.test.x, splits.test.y, noise=noise, samples=samples, seed=seed)}
    curve = noise_accuracy(trained, x_eval, y_eval, intensities, noise=noise, samples=samples, seed=seed)
    out["noise AUC"] = noise_auc(curve, seed=seed)[1]
    na = at.run_attack(trained, x_att, y_att, [eps], noise=noise, samples=samples, n_iter=p.apgd_n_iter, seed=seed,
                       draws=p.draws)
    out["APGD non-adaptive"] = na["correct"][eps]
    eot = at.run_attack(trained, x_att, y_att, [eps], noise=noise, samples=samples, n_iter=p.apgd_n_iter,
                        eot_iter=p.eot_iter if noise == "on" else 1, seed=seed, draws=p.draws)
    out["APGD EOT"] = eot["correct"][eps]
    n_stab = max(1, min(16, len(x_eval) // 4))
    stab = cached_stability(trained, x_eval[:n_stab], method="ig", n_perturbations=1, epsilon=0.01, topk=0.1, seed=seed,
                            n_steps=p.ig_n_steps, noise="on", noise_seed=0)
    for m in ("topk", "spearman", "log_change"):
        out[f"stability {m}"] = stab.groupby("image")[m].mean().to_numpy()
    return out


def grid_metrics(models: dict, baseline, splits, profile, *, n_images: int = 64, eps: float = 0.1,
                 intensities: Sequence[float] = (0.05, 0.1, 0.2, 0.5)) -> dict:
    """Score the baseline and every grid model on the same images.

    Args:
        models: ``{(shape, sigma): TrainedModel}`` from :func:`grid_models`.
        baseline: the baseline ``TrainedModel`` (scored with its drift path).
        splits: the data.
        profile: the profile (``eval_samples, apgd_n_iter, eot_iter, draws, ig_n_steps,
            abc_n_mutations, iaside_n_bands, seed``).
        n_images: test images of the noise, attack, stability and ABC measures.
        eps: the attacks' L2 budget.
        intensities: the white-noise intensities of the noise AUC.

    Returns:
        ``{"scores": {label: {measure: per-image array}}, "scalars": {label: {"ABC AUROC":
        float, "SRS": float}}}`` with ``label`` ``"baseline"`` or ``(shape, sigma)``.
    """
    p = profile
    x_eval, y_eval = eval_subset(splits.test.x, splits.test.y, n_images, seed=p.seed)
    scores, scalars = {}, {}
    everyone = {"baseline": (baseline, "off", 1), **{k: (m, "on", p.eval_samples) for k, m in models.items()}}
    for label, (trained, noise, k) in everyone.items():
        scores[label] = _per_image(trained, splits, x_eval, y_eval, x_eval, y_eval, p, list(intensities), eps,
                                   noise, k)
        abc = cached_abc(trained, x_eval[:32], y_eval[:32], mask_law="categorical", n_features=0.25,
                         n_mutations=p.abc_n_mutations, n_steps=p.ig_n_steps, seed=p.seed, noise="on", noise_seed=0)
        srs = sp.cached_spectral_importance(trained, x_eval[:32], y_eval[:32], n_bands=p.iaside_n_bands,
                                            replace="random", noise="off", seed=p.seed, show_progress=False).srs
        scalars[label] = {"ABC AUROC": auroc(abc["abc"].numpy(), abc["correct"].numpy()), "SRS": srs}
    return {"scores": scores, "scalars": scalars}


#: Measures where a higher value is better (all per-image measures but the log change).
HIGHER_IS_BETTER = {"clean": True, "noise AUC": True, "APGD non-adaptive": True, "APGD EOT": True,
                    "stability topk": True, "stability spearman": True, "stability log_change": False}


def _good(outcome: str, measure: str, higher: str = "better", lower: str = "worse") -> str:
    """An outcome (``higher``/``lower``) read in the measure's good direction."""
    if outcome == "no difference":
        return "no difference"
    return higher if (outcome == "higher") == HIGHER_IS_BETTER[measure] else lower


def _paired(a, b, measure: str) -> tuple[np.ndarray, np.ndarray]:
    """Two models' per-image scores on the images where both are defined (NaN: e.g. a
    constant attribution map has no rank correlation)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ok = ~(np.isnan(a) | np.isnan(b))
    if not ok.any():
        raise ValueError(f"measure {measure!r} is undefined (NaN) on every image of both models")
    return a[ok], b[ok]


def grid_differences(metrics: dict, seed: int = 0) -> pd.DataFrame:
    """Each grid model minus the baseline, per measure, corrected for the grid's size.

    Every grid cell is one trained network (the first training seed), so these differences
    are about those networks, not about the method: the interval of each is over the
    images (:func:`nsde.stats.inference.seed_test` with one seed), simultaneous over every
    (cell, measure) pair shown (Bonferroni), and a difference counts only when Holm's
    adjustment over all of them rejects at 5%.

    Returns:
        DataFrame with one row per (shape, sigma, measure): ``shape, sigma, measure, value,
        baseline, difference, low, high, p`` (Holm-adjusted), ``outcome, better``
        (``better`` is the outcome read in the measure's good direction: "better", "worse"
        or "no difference").
    """
    base = metrics["scores"]["baseline"]
    tests, values, scalars = {}, {}, []
    for label, sc in metrics["scores"].items():
        if label == "baseline":
            continue
        shape, sigma = label
        for m, v in sc.items():
            a, b = _paired(v, base[m], m)
            tests[(shape, sigma, m)] = seed_test(a, b)
            values[(shape, sigma, m)] = (float(a.mean()), float(b.mean()))
        for m, v in metrics["scalars"][label].items():
            scalars.append({"shape": shape, "sigma": sigma, "measure": m, "value": v,
                            "baseline": metrics["scalars"]["baseline"][m],
                            "difference": v - metrics["scalars"]["baseline"][m], "low": float("nan"),
                            "high": float("nan"), "p": float("nan"), "outcome": "no interval",
                            "better": "no interval"})
    rows = []
    if tests:
        table = settings_table(tests)
        for (shape, sigma, m), r in table.iterrows():
            value, baseline = values[(shape, sigma, m)]
            rows.append({"shape": shape, "sigma": sigma, "measure": m, "value": value, "baseline": baseline,
                         "difference": r["estimate"], "low": r["low"], "high": r["high"], "p": r["p"],
                         "outcome": r["outcome"], "better": _good(r["outcome"], m)})
    return pd.DataFrame(rows + scalars)


#: Measures shown in percent (accuracies); the others are shown as numbers.
PERCENT = ("clean", "noise AUC", "APGD non-adaptive", "APGD EOT")


def grid_table(diffs: pd.DataFrame) -> pd.DataFrame:
    """The grid as a table for reading: one row per model (the baseline first), one column
    per measure; accuracies in percent, the other measures as numbers, each per-image
    measure with the half-width of its paired 95% interval from the baseline."""
    def cell(r):
        if r.outcome == "no interval":
            return f"{r.value:.3f}"
        if r.measure in PERCENT:
            return f"{100 * r.value:.1f} (±{50 * (r.high - r.low):.1f})"
        return f"{r.value:.3f} (±{(r.high - r.low) / 2:.3f})"

    measures = list(dict.fromkeys(diffs["measure"]))
    table = diffs.assign(cell=[cell(r) for r in diffs.itertuples()]).pivot_table(
        index=["shape", "sigma"], columns="measure", values="cell", aggfunc="first", sort=False)
    base = diffs.groupby("measure", sort=False)["baseline"].first()
    base_row = pd.DataFrame({m: [f"{100 * base[m]:.1f}" if m in PERCENT else f"{base[m]:.3f}"]
                             for m in measures},
                            index=pd.MultiIndex.from_tuples([("baseline", 0.0)], names=["shape", "sigma"]))
    return pd.concat([base_row, table])[measures]


def grid_counts(diffs: pd.DataFrame) -> pd.DataFrame:
    """Per grid model, on how many per-image measures it is better / worse than the baseline
    (Holm-adjusted over the grid), sorted by the net count (better minus worse)."""
    per = diffs[diffs["better"].isin(["better", "worse"])]
    counts = per.groupby(["shape", "sigma", "better"]).size().unstack(fill_value=0)
    for col in ("better", "worse"):
        if col not in counts:
            counts[col] = 0
    all_cells = diffs[["shape", "sigma"]].drop_duplicates().set_index(["shape", "sigma"]).index
    counts = counts.reindex(all_cells, fill_value=0)[["better", "worse"]]
    counts.columns.name = None
    return counts.assign(net=counts["better"] - counts["worse"]).sort_values("net", ascending=False, kind="stable")


def compare_cells(metrics: dict, a: tuple[str, float], b: tuple[str, float], seed: int = 0) -> pd.DataFrame:
    """Grid model ``a`` against grid model ``b`` on every per-image measure (paired over the
    images, Holm-adjusted over the measures).

    Returns:
        DataFrame indexed by measure: ``difference, low, high`` (a - b) and ``better``
        ("a", "b" or "no difference", read in the measure's good direction).
    """
    for label in (a, b):
        if label not in metrics["scores"]:
            raise KeyError(f"{label} is not in the grid; scored: {list(metrics['scores'])}")
    tests = {m: seed_test(*_paired(metrics["scores"][a][m], metrics["scores"][b][m], m)) for m in metrics["scores"][a]}
    table = settings_table(tests)
    return pd.DataFrame({"difference": table["estimate"], "low": table["low"], "high": table["high"],
                         "better": [_good(o, m, "a", "b") for m, o in table["outcome"].items()]}).rename_axis("measure")


