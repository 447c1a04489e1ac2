# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Explanations and attribution-based confidence
#
# The paper explains its two classifiers with attribution maps (its Fig. 4: Integrated
# Gradients and IG + NoiseTunnel, computed with Captum), states that "the logarithm of the
# sum of the change in attributions is smaller for neural SDEs", and scores every prediction
# with ABC, the *attribution-based confidence* of Jha et al. (2019): a mean ABC of 0.497 on
# correct and 0.188 on incorrect predictions for ConvNeXt, 0.599 / 0.189 for the Neural SDE
# (its Table 4). It leaves open whether ABC actually tracks reliability (its open question 2).
# This chapter
#
# 1. draws Fig. 4 for both models with three methods on one colour scale;
# 2. measures attribution stability under small input perturbations, with intervals;
# 3. computes Table 4 and sets it beside the paper's;
# 4. tests ABC as a reliability signal: can it tell correct from incorrect predictions
#    (AUROC) better than the plain maximum softmax probability (MSP), on clean inputs and
#    under noise?
#
# **Noise mode.** A Neural SDE computes a random function. Integrated Gradients batches the
# interpolation steps of an image into one forward pass, so it needs a deterministic
# function: every NSDE quantity in this chapter (prediction, softmax, attributions, ABC's
# mutated samples) is computed on **one fixed noise path** (`noise="on"`, `noise_seed=0`: one
# noise field broadcast over the batch). We use one path (`noise_paths=1`), not an average
# over several: ABC and the stability measure then describe one well-defined function, the
# one whose predictions are scored. The baseline has no noise.

# %% tags=["parameters"]
profile = "quick"

# %% tags=["hide-input"]
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown

from nsde.measures import attribution as at
from nsde.measures import abc as cf
from nsde.measures import reliability as rl
from nsde.report import figures
from nsde.report import findings
from nsde.report import paper
from nsde.report import verdicts
from nsde.stats.compare import compare_scores
from nsde.data import load_dataset
from nsde.measures.evaluation import eval_subset
from nsde.studies.profiles import get_profile
from nsde.measures.robustness import noisy_inputs
from nsde._infra.runtime import configure
from nsde.stats.intervals import Interval, format_interval
from nsde.studies.zoo import train_zoo

P = get_profile(profile)
configure(P.seed)
t_start = time.perf_counter()
data = load_dataset(P.dataset, image_size=P.image_size, seed=P.seed, n_per_class=P.n_per_class)
zoo = train_zoo(data, P)
models = {"Baseline": zoo["baseline"], f"Neural SDE ({P.noise_shape})": zoo[f"nsde-{P.noise_shape}"]}
paper_names = dict(zip(models, ["ConvNeXt-Base", "Neural SDE"]))
P.describe(["attr_n_images", "ig_n_steps", "nt_samples", "abc_n_mutations", "stability_n_perturbations", "n_seeds"])

# %% [markdown]
# ## What is evaluated, at which scale
#
# Attributions cost one forward and one backward pass per interpolation step, so
# explanations are computed on a seeded random subset of the test split (`attr_n_images`
# images; the whole split when the profile says `null`), and the stability measure on its
# first half. IG uses Gauss-Legendre quadrature with `ig_n_steps` points (the completeness
# check below shows whether they suffice; the library default and the `paper` profile use
# Captum's 50); Fig. 4 uses `nt_samples` NoiseTunnel samples; ABC draws `abc_n_mutations`
# samples; the stability measure uses `stability_n_perturbations` perturbations per image.
# On the CPU profiles the subset is small, so intervals are wide, and the chapter says so;
# the `paper` profile explains the whole test split.
# Every setting is printed below.
#
# **ABC's open choices.** Features are drawn with probability proportional to
# `|A_j / x_j|` (IG attributions `A` of the predicted class, zero baseline; denominator
# floored at 1e-3 so that near-black pixels do not divide by ~0), and mutated to the baseline
# value 0. The published algorithm mutates each feature independently with probability
# `P_j`, which changes about *one* pixel per sample: on a spectrogram of thousands of pixels
# almost no prediction would ever change and ABC would be ~1 for everything. Third-party
# code normalises `P` inside 2x2 patches, which mutates about one pixel in four. We follow
# that rate with an explicit law: each sample mutates **25% of the pixels**, drawn without
# replacement from `P` (`mask_law="categorical"`, `n_features=0.25`). The published one-pixel
# variant is shown once for comparison.

# %%
x_eval, y_eval = eval_subset(data.test.x, data.test.y, P.attr_n_images, seed=P.seed)
n_stab = max(1, len(x_eval) // 2)
ABC = dict(mask_law="categorical", n_features=0.25, floor=1e-3, n_mutations=P.abc_n_mutations)
NOISE_INTENSITY = 0.1  # additive white noise, std on [0, 1] spectrograms (as in chapter 3)
STAB_EPS = 0.01  # perturbation std of the stability measure: NoiseTunnel's 0.01 of the paper
PATH = dict(noise="on", noise_seed=0)  # the NSDE's fixed noise path
print(f"test split: {len(data.test)} images; explained here: {len(x_eval)} "
      f"({len(set(y_eval.tolist()))} classes), every measure on each of {P.n_seeds} training seeds per model")
print(f"IG steps {P.ig_n_steps}, NoiseTunnel samples {P.nt_samples} (std 0.01), ABC samples {P.abc_n_mutations}, "
      f"mutated fraction {ABC['n_features']}")
print(f"stability: {n_stab} images x {P.stability_n_perturbations} perturbations, std {STAB_EPS}")
print(f"noisy condition: white noise, std {NOISE_INTENSITY}")
# NBVAL_CHECK_OUTPUT

# %% [markdown]
# ## Fig. 4: what the models look at
#
# Four test spectrograms of different classes; for each model, Integrated Gradients (zero
# baseline), IG + NoiseTunnel (SmoothGrad: IG averaged over inputs with N(0, 0.01²) noise)
# and saliency (absolute gradient). Each map is divided by its own L1 norm and all panels
# share one diverging colour scale, so a darker pixel means a larger share of that map's
# total attribution, comparable across models and methods. Red pixels push the predicted
# class up, blue ones down (saliency is unsigned).

# %%
fig_idx = [int(np.flatnonzero(y_eval.numpy() == c)[0]) for c in list(dict.fromkeys(y_eval.tolist()))[:4]]
x_fig, y_fig = x_eval[fig_idx], y_eval[fig_idx]
names = {"ig": "IG", "noisetunnel": "IG+NoiseTunnel", "saliency": "saliency"}
maps = {}
for name, runs in models.items():
    with at.explaining(runs[0].model, **PATH), torch.no_grad():
        pred = runs[0].model(x_fig).argmax(1)
    for meth, a in at.cached_attributions(runs[0], x_fig, pred, n_steps=P.ig_n_steps, nt_samples=P.nt_samples,
                                          seed=P.seed, **PATH).items():
        maps[f"{name.split(' ')[0]}\n{names[meth]}"] = a
figures.plot_attributions(x_fig, maps, row_labels=[data.class_names[c] for c in y_fig.tolist()],
                     title="Fig. 4: input and attributions of the predicted class (first seed, shared colour scale)")
plt.show()

# %% [markdown]
# ## Attribution stability
#
# The paper's measure, whose formula it does not give, is taken as
# `log sum_j |a_j(x) - a_j(x + delta)|` on L1-normalised IG maps `a = A / sum|A|` (the sum
# lies in [0, 2]; lower is more stable), with `delta ~ N(0, 0.01²)` per pixel, the target
# held at the class predicted on the clean image. Two rank-based measures common in the
# attribution-robustness literature complete it: the overlap of the 10% most important
# pixels (top-k intersection) and the Spearman rank correlation of `|A|` (higher is more
# stable). Intervals: 95% bootstrap over images (perturbations of an image are averaged
# first).

# %%
stab = {name: [at.cached_stability(t, x_eval[:n_stab], method="ig", n_perturbations=P.stability_n_perturbations,
                                   epsilon=STAB_EPS, topk=0.1, seed=P.seed, n_steps=P.ig_n_steps, **PATH) for t in runs]
        for name, runs in models.items()}
summary = at.stability_summary({f"{name}, seed {i + 1}": t for name, tables in stab.items()
                                for i, t in enumerate(tables)}, seed=P.seed)
summary[["log_change", "topk", "spearman", "images"]]

# %%
figures.plot_stability({name: pd.concat(tables) for name, tables in stab.items()})
plt.show()

# %% [markdown]
# **Verdict on the paper's stability claim**, per measure: the per-image mean over the
# perturbations, for every seed of both models, compared on the same images (the interval
# resamples seeds and images).

# %%
(b_name, n_name) = list(models)
per_image = {name: {m: np.stack([t.groupby("image")[m].mean().to_numpy() for t in tables])
                    for m in ("log_change", "topk", "spearman")} for name, tables in stab.items()}
measures = {"log_change": ("log sum of attribution changes", True), "topk": ("top-10% overlap", False),
            "spearman": ("Spearman rank correlation", False)}
lines = [verdicts.stability_sentence(compare_scores(per_image[n_name][m], per_image[b_name][m], seed=P.seed),
                                     measure=label, lower_is_stable=lower, subject="the NSDE",
                                     paper="it smaller for the Neural SDE" if m == "log_change" else None)
         for m, (label, lower) in measures.items()]
log_diff = compare_scores(per_image[n_name]["log_change"], per_image[b_name]["log_change"], seed=P.seed)
findings.record(profile, "fig4", data.name,
                "NSDE more stable" if log_diff.high < 0 else "NSDE less stable" if log_diff.low > 0 else "no difference",
                lines[0])
Markdown("\n".join(f"- {line}" for line in lines))

# %% [markdown]
# ## Table 4: ABC on correct and incorrect predictions
#
# For each image: the model's prediction and softmax on its noise path, IG of the predicted
# class, then ABC with S samples. Mean ABC over correct and over incorrect predictions, with
# 95% bootstrap intervals (a dash when a group is empty), beside the paper's values.

# %%
(_, noisy_x, _), = noisy_inputs(x_eval, [NOISE_INTENSITY], "white", seed=P.seed + 1)
conditions = {"clean": x_eval, f"white noise {NOISE_INTENSITY}": noisy_x}
results = {(name, cond, i): cf.cached_abc(t, xc, y_eval, ig_steps=P.ig_n_steps, seed=P.seed, **ABC, **PATH)
           for name, runs in models.items() for cond, xc in conditions.items() for i, t in enumerate(runs)}


def pooled(name, cond, key):
    return torch.cat([results[(name, cond, i)][key] for i in range(len(models[name]))]).numpy()


rows = []
for name in models:
    s = cf.abc_summary(pooled(name, "clean", "abc"), pooled(name, "clean", "correct"), seed=P.seed)
    p4 = paper.TABLE4[paper_names[name]]
    rows.append({"model": name, "accuracy": f"{pooled(name, 'clean', 'correct').mean():.3f}",
                 "ABC correct (ours)": "-" if s["correct"] is None else format_interval(s["correct"], percent=False),
                 "ABC incorrect (ours)": "-" if s["incorrect"] is None else format_interval(s["incorrect"], percent=False),
                 "ABC correct (paper)": p4["correct"], "ABC incorrect (paper)": p4["incorrect"]})
print(f"{P.n_seeds} seeds x {len(x_eval)} images per model; mean ABC (the fraction of mutated samples whose "
      "prediction survives) with 95% bootstrap intervals")
pd.DataFrame(rows).set_index("model")

# %%
def per_seed(name, key):
    return [results[(name, "clean", i)][key].numpy() for i in range(len(models[name]))]


on_correct = cf.abc_on_correct(per_seed(n_name, "abc"), per_seed(n_name, "correct"), per_seed(b_name, "abc"),
                               per_seed(b_name, "correct"), seed=P.seed)
abc_text = verdicts.abc_sentence(*on_correct, paper=(paper.TABLE4["Neural SDE"]["correct"],
                                                     paper.TABLE4["ConvNeXt-Base"]["correct"]))
findings.record(profile, "table4", data.name,
                "ABC on correct: " + verdicts.short_difference(on_correct[2], scale=1, unit=""), abc_text)
Markdown(abc_text)

# %% [markdown]
# The published one-pixel variant (independent draws with probability `P_j`, about one
# mutated pixel per sample), on the same clean images, for comparison:

# %%
published = {name: cf.abc_confidence(runs[0].model, x_eval, target=results[(name, "clean", 0)]["pred"],
                                     attributions=results[(name, "clean", 0)]["attributions"], n_mutations=P.abc_n_mutations,
                                     mask_law="bernoulli", n_features=1, seed=P.seed, **PATH)
             for name, runs in models.items()}
pd.DataFrame({name: {"mean ABC": f"{v.mean():.3f}", "share of images with ABC = 1": f"{(v == 1).float().mean():.2f}"}
              for name, v in published.items()}).T

# %% [markdown]
# IG satisfies *completeness* (the attributions sum to `f(x) - f(0)` for the attributed
# logit) only when the integral is well approximated. ABC's sampling law rests on these
# maps, so we check the relative completeness gap of the maps used above:

# %%
gaps = {}
for name, runs in models.items():
    r = results[(name, "clean", 0)]
    g = at.completeness_gap(runs[0].model, x_eval, r["pred"], r["attributions"], **PATH)
    gaps[name] = {"median |gap| / |f(x) - f(0)|": f"{g['rel_gap'].median():.3g}",
                  "90% quantile": f"{g['rel_gap'].quantile(0.9):.3g}",
                  "median |f(x) - f(0)|": f"{g['delta_f'].abs().median():.3g}"}
pd.DataFrame(gaps).T

# %% [markdown]
# ## Does ABC signal reliability?
#
# A confidence score is useful if wrong predictions get lower scores than right ones. The
# AUROC of the score for separating correct (positive) from incorrect predictions measures
# exactly that (0.5: no better than chance; computed with the Mann-Whitney rank formula,
# ties counting one half), with a 95% bootstrap interval. The standard signal to beat is the
# maximum softmax probability (MSP) of the same prediction. We also report the difference
# AUROC(ABC) - AUROC(MSP) with a paired bootstrap interval, and the area under the
# risk-coverage curve (AURC: the error rate among the predictions kept when only the most
# confident are kept, averaged over coverage; lower is better). Clean inputs, and the same
# images with additive white noise (std 0.1), which produces more errors.

# %%
rel_rows, diffs = [], {}
for name in models:
    for cond in conditions:
        correct = pooled(name, cond, "correct")
        for signal in ("abc", "msp"):
            rel_rows.append(rl.reliability_row(pooled(name, cond, signal), correct, seed=P.seed, model=name,
                                               condition=cond, signal=signal.upper()))
        diffs[(name, cond)] = rl.auroc_difference(pooled(name, cond, "abc"), pooled(name, cond, "msp"), correct,
                                                  seed=P.seed)
reliability = pd.DataFrame(rel_rows)
reliability["AUROC [95% CI]"] = [f"{a:.3f} [{lo:.3f}, {hi:.3f}]" if a == a else "n/a (one class)"
                                 for a, lo, hi in zip(reliability.auroc, reliability.auroc_low, reliability.auroc_high)]
reliability.set_index(["model", "condition", "signal"])[["n", "accuracy", "n_incorrect", "AUROC [95% CI]", "aurc"]]

# %%
fig, axes = plt.subplots(1, len(conditions), figsize=(11, 3.8), sharey=True)
for ax, cond in zip(axes, conditions):
    curves = {f"{name.split(' ')[0]} {sig.upper()}": rl.risk_coverage(pooled(name, cond, sig),
                                                                       pooled(name, cond, "correct"))
              for name in models for sig in ("abc", "msp")}
    figures.plot_risk_coverage(curves, ax=ax, title=f"Risk-coverage, {cond}")
fig.tight_layout()
plt.show()

# %% [markdown]
# **Verdict, computed from the numbers above.**

# %%
rel = reliability.set_index(["model", "condition", "signal"])
lines = []
for (name, cond), d in diffs.items():
    row = rel.loc[(name, cond, "ABC")]
    auroc = Interval(row.auroc, row.auroc_low, row.auroc_high, int(row.n))
    lines.append(verdicts.reliability_sentence(name, cond, auroc, d, int(row.n_incorrect)))
overall = verdicts.reliability_overall(list(diffs.values()))
findings.record(profile, "oq2", data.name, verdicts.reliability_verdict(list(diffs.values())), overall)
Markdown("\n".join(f"- {line}" for line in lines) + f"\n\n{overall}")

# %%
print(f"(chapter compute time: {time.perf_counter() - t_start:.0f} s)")
