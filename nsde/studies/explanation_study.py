"""Fig. 4 and Table 4 of Brogan et al. (arXiv 2409.01532) as tests: attribution stability and
attribution-based confidence (ABC) of the baseline and the NSDE, every training seed.

The design, declared here before any data is seen:

* **Images**: a seeded subset of the test split (``attr_n_images``), the same for every model
  and seed; the stability measure on its first half.
* **The NSDE on one noise path** (``noise="on"``, ``noise_seed=0``) for prediction,
  attribution and every mutated sample, so that ABC and the stability measure describe one
  well-defined function.
* **Fig. 4's claim** (``fig4``): the log sum of IG attribution changes under ``N(0, 0.01^2)``
  perturbations, per image (averaged over its perturbations), NSDE minus baseline on the
  same images, seeds paired (:func:`nsde.stats.inference.seed_test`); top-k overlap and
  Spearman's rank correlation are secondary.
* **Table 4's claim** (``table4``): per seed, ABC's mean on the correct minus on the incorrect
  predictions (a contrast on different images per seed), NSDE minus baseline, paired t over
  seeds (:func:`nsde.stats.inference.per_seed_test`).
* **ABC as a reliability signal** (``abc-reliability``, our question): per seed, the AUROC of
  ABC minus that of the maximum softmax probability for telling right from wrong
  predictions, averaged over both models and both conditions (clean, noisy), t over seeds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd
import torch

from nsde.measures.abc import abc_by_outcome, abc_confidence, cached_abc
from nsde.measures.attribution import cached_attributions, cached_stability, completeness_gap, explaining
from nsde.measures.evaluation import eval_subset
from nsde.measures.reliability import auroc, risk_coverage
from nsde.measures.robustness import noisy_inputs
from nsde.report.claims import Verdict, judge
from nsde.stats.inference import per_seed_test, seed_test
from nsde.studies.protocols import ABCSettings, Classifier, StabilitySettings

__all__ = ["PATH", "MEASURES", "ExplanationStudy", "explanation_study", "figure_images", "figure_maps", "table4",
           "contrast_sentences", "published_variant", "completeness", "risk_coverage_curves"]

#: The NSDE's fixed noise path for explanations.
PATH = dict(noise="on", noise_seed=0)
#: The stability measures: ``{column: (name, lower is more stable)}``.
MEASURES = {"log_change": ("log sum of attribution changes", True), "topk": ("top-10% overlap", False),
            "spearman": ("Spearman rank correlation", False)}


@dataclass
class ExplanationStudy:
    """The results of :func:`explanation_study`.

    Attributes:
        stability: ``{model: [per-seed stability tables]}``.
        per_image: ``{model: {measure: (seeds, images)}}`` (perturbations averaged).
        abc: ``{(model, condition): [cached_abc result per seed]}``.
        by_outcome: ``{(model, condition): per-seed ABC on correct / incorrect predictions}``.
        verdicts: ``{"fig4", "table4", "abc-reliability": Verdict}``; ``secondary``: the
            stability tests of the other measures.
        reliability: per (model, condition, seed): AUROC of ABC and of the softmax.
        n_images, n_stability: images explained, and of the stability measure.
    """

    stability: dict
    per_image: dict
    abc: dict
    by_outcome: dict
    reliability: pd.DataFrame
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    secondary: dict = field(default_factory=dict)
    n_images: int = 0
    n_stability: int = 0


def explanation_study(models: Mapping[str, Classifier], splits, *, n_images: int | None, n_steps: int,
                      abc: ABCSettings, stability: StabilitySettings, noisy_intensity: float = 0.1,
                      seed: int = 0) -> ExplanationStudy:
    """Explain, measure stability and ABC for each model and seed, and judge the claims.

    Args:
        models: ``{label: Classifier}`` of the baseline and the NSDE (in that order).
        splits: the data.
        n_images: test images explained (a seeded subset; ``None``: all).
        n_steps: Integrated Gradients steps.
        abc, stability: the protocol's settings (:mod:`nsde.studies.protocols`).
        noisy_intensity: the std of the white noise of the second (noisy) condition.
        seed: seed of the subset, the perturbations and the mutations.
    """
    labels = list(models)
    if len(labels) != 2:
        raise ValueError(f"explanation_study compares two models (baseline, NSDE), but found {labels}")
    x, y = eval_subset(splits.test.x, splits.test.y, n_images, seed=seed)
    n_stab = max(2, len(x) // 2)
    stab = {name: [cached_stability(t, x[:n_stab], n_steps=n_steps, seed=seed, **stability.kwargs(), **PATH)
                   for t in c.runs] for name, c in models.items()}
    per_image = {name: {m: np.stack([t.groupby("image")[m].mean().to_numpy() for t in tables]) for m in MEASURES}
                 for name, tables in stab.items()}
    (_, noisy, _), = noisy_inputs(x, [noisy_intensity], "white", seed=seed + 1)
    conditions = {"clean": x, f"white noise {noisy_intensity:g}": noisy}
    results = {(name, cond): [cached_abc(t, xc, y, n_steps=n_steps, seed=seed, **abc.kwargs(), **PATH) for t in c.runs]
               for name, c in models.items() for cond, xc in conditions.items()}
    by_outcome = {k: abc_by_outcome([r["abc"].numpy() for r in rs], [r["correct"].numpy() for r in rs])
                  for k, rs in results.items()}
    rel = []
    for (name, cond), rs in results.items():
        for i, r in enumerate(rs):
            correct = r["correct"].numpy()
            rel.append({"model": name, "condition": cond, "seed": i, "n": len(correct),
                        "n incorrect": int((~correct).sum()), "ABC": auroc(r["abc"].numpy(), correct),
                        "softmax": auroc(r["msp"].numpy(), correct)})
    study = ExplanationStudy(stab, per_image, results, by_outcome, pd.DataFrame(rel), n_images=len(x),
                             n_stability=n_stab)
    base, nsde = labels
    tests = {m: seed_test(per_image[nsde][m], per_image[base][m]) for m in MEASURES}
    study.verdicts["fig4"] = judge("fig4", tests["log_change"])
    study.secondary = {m: t for m, t in tests.items() if m != "log_change"}
    cb, cn = by_outcome[(base, "clean")]["contrast"], by_outcome[(nsde, "clean")]["contrast"]
    if cb.notna().all() and cn.notna().all():
        study.verdicts["table4"] = judge("table4", per_seed_test(cn.to_numpy(), cb.to_numpy()))
    d = study.reliability.dropna(subset=["ABC", "softmax"])
    per_seed = (d["ABC"] - d["softmax"]).groupby(d["seed"]).mean()  # models and conditions averaged per seed
    if len(per_seed) >= 1 and len(d):
        study.verdicts["abc-reliability"] = judge("abc-reliability", per_seed_test(per_seed.to_numpy()))
    return study


def figure_images(splits, n_images: int | None, *, seed: int = 0, n: int = 4):
    """``(x, y)``: the first image of each of ``n`` classes among the explained images."""
    x, y = eval_subset(splits.test.x, splits.test.y, n_images, seed=seed)
    idx = [int(np.flatnonzero(y.numpy() == c)[0]) for c in list(dict.fromkeys(y.tolist()))[:n]]
    return x[idx], y[idx]


def figure_maps(models: Mapping[str, Classifier], x, *, n_steps: int, nt_samples: int, seed: int = 0) -> dict:
    """Fig. 4's panels: ``{"<model>\\n<method>": attributions}`` of each model's first seed
    for its predicted class, IG, IG + NoiseTunnel and saliency."""
    names = {"ig": "IG", "noisetunnel": "IG+NoiseTunnel", "saliency": "saliency"}
    maps = {}
    for name, c in models.items():
        run = c.runs[0]
        with explaining(run.model, **PATH), torch.no_grad():
            pred = run.model(x).argmax(1)
        for method, a in cached_attributions(run, x, pred, n_steps=n_steps, nt_samples=nt_samples, seed=seed,
                                             **PATH).items():
            short = "baseline" if name.lower().startswith("baseline") else "NSDE"
            maps[f"{short}\n{names[method]}"] = a
    return maps


def table4(study: ExplanationStudy, paper_table: Mapping) -> pd.DataFrame:
    """Mean ABC on correct and incorrect clean predictions per model (mean over seeds, 95%
    interval over seeds), beside the paper's Table 4."""
    rows = []
    for (name, cond), t in study.by_outcome.items():
        if cond != "clean":
            continue
        total = (t["n correct"] + t["n incorrect"]).sum()
        row = {"model": name, "seeds": len(t), "accuracy": f"{t['n correct'].sum() / total:.3f}"}
        for col in ("correct", "incorrect"):
            v = t[col].dropna().to_numpy()
            if len(v) == 0:
                row[f"ABC {col} (ours)"] = "-"
            elif len(v) == 1:
                row[f"ABC {col} (ours)"] = f"{v[0]:.3f}"
            else:
                iv = per_seed_test(v).interval
                row[f"ABC {col} (ours)"] = f"{iv.estimate:.3f} [{iv.low:.3f}, {iv.high:.3f}]"
        rows.append(row)
    out = pd.DataFrame(rows).set_index("model")
    paper_rows = list(paper_table.values())
    out["ABC correct (paper)"] = [r["correct"] for r in paper_rows][:len(out)]
    out["ABC incorrect (paper)"] = [r["incorrect"] for r in paper_rows][:len(out)]
    return out


def contrast_sentences(study: ExplanationStudy) -> list[str]:
    """Per model, whether ABC is higher on its correct than on its incorrect clean
    predictions (paired over seeds), said in numbers and against the paper's Table 4 (where
    it is higher on correct predictions for both models)."""
    lines = []
    for (name, cond), t in study.by_outcome.items():
        if cond != "clean":
            continue
        c = t["contrast"].dropna().to_numpy()
        if len(c) == 0:
            lines.append(f"{name}: no seed has both correct and incorrect predictions, so the contrast is undefined.")
            continue
        if len(c) == 1:
            lines.append(f"{name}: ABC correct minus incorrect {c[0]:+.3f} (one seed: no interval).")
            continue
        test = per_seed_test(c)
        word = ("higher on correct predictions, as in the paper's Table 4" if test.low > 0 else
                "higher on incorrect predictions: the reverse of the paper's Table 4, where ABC is higher on "
                "correct ones for both models" if test.high < 0 else
                "not distinguishable between correct and incorrect predictions at these sizes")
        lines.append(f"{name}: ABC is {word} (correct minus incorrect {test.estimate:+.3f} [{test.low:+.3f}, "
                     f"{test.high:+.3f}], {len(c)} seeds).")
    return lines


def published_variant(models: Mapping[str, Classifier], study: ExplanationStudy, splits, n_images, abc: ABCSettings,
                      *, seed: int = 0) -> pd.DataFrame:
    """ABC with the published law (independent draws, about one mutated pixel per sample) on
    the clean explained images, first seed of each model."""
    x, _ = eval_subset(splits.test.x, splits.test.y, n_images, seed=seed)
    out = {}
    for name, c in models.items():
        r = study.abc[(name, "clean")][0]
        v = abc_confidence(c.runs[0].model, x, target=r["pred"], attributions=r["attributions"],
                           n_mutations=abc.n_mutations, mask_law="bernoulli", n_features=1, seed=seed, **PATH)
        out[name] = {"mean ABC": f"{v.mean():.3f}", "share of images with ABC = 1": f"{(v == 1).float().mean():.2f}"}
    return pd.DataFrame(out).T


def completeness(models: Mapping[str, Classifier], study: ExplanationStudy, splits, n_images, *,
                 seed: int = 0) -> pd.DataFrame:
    """IG's relative completeness gap on the clean explained images, first seed."""
    x, _ = eval_subset(splits.test.x, splits.test.y, n_images, seed=seed)
    out = {}
    for name, c in models.items():
        r = study.abc[(name, "clean")][0]
        g = completeness_gap(c.runs[0].model, x, r["pred"], r["attributions"], **PATH)
        out[name] = {"median |gap| / |f(x) - f(0)|": f"{g['rel_gap'].median():.3g}",
                     "90% quantile": f"{g['rel_gap'].quantile(0.9):.3g}",
                     "median |f(x) - f(0)|": f"{g['delta_f'].abs().median():.3g}"}
    return pd.DataFrame(out).T


def risk_coverage_curves(study: ExplanationStudy, condition: str) -> dict:
    """``{"<model> ABC|MSP": risk-coverage curve}`` of each model's first seed."""
    out = {}
    for (name, cond), rs in study.abc.items():
        if cond != condition:
            continue
        r = rs[0]
        for sig in ("abc", "msp"):
            out[f"{name.split(' ')[0]} {sig.upper()}"] = risk_coverage(r[sig].numpy(), r["correct"].numpy())
    return out
