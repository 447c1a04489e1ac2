# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # The paper's future work: which noise, and how much?
#
# The paper injects Brownian-shaped noise and says it shapes it "as implemented in" its
# reference [8], Jha et al. {cite}`jha2022shaping` (Sec. 1). That method is iterative: train a Neural
# SDE, compute the attributions of its predictions, and reshape the noise of the next round
# so that it concentrates where the attributions are high, starting from uniform noise. The
# paper names improved noise shaping as future work (Sec. 5). This chapter trains a grid
# of Neural SDEs, one per noise shape and level, and scores each on every measure of the
# book beside the baseline:
#
# * **shapes**: white, the Brownian sheet (the paper's), pink and brown power-law noise, and
#   **attribution-shaped** noise (our design of Jha et al.'s method, `nsde.studies.attribution_noise`);
# * **levels** `sigma` (the noise-to-activation ratio of `nsde.core.models`);
# * **measures**: clean accuracy; accuracy under white input noise (the area under the
#   accuracy-intensity curve); APGD-CE, non-adaptive and adaptive (EOT); attribution
#   stability (top-10% overlap, Spearman, log change); ABC's AUROC; the SRS of I-ASIDE.
#
# **Our design of Jha et al.'s method** (no code of it is public; every choice is a parameter of
# `nsde.studies.attribution_noise.shaped_rounds`): the attribution is the saliency map (absolute input
# gradient) of the true class, unless the profile says IG (`envelope_attribution`); the
# envelope puts the noise power of each pixel in proportion to its attribution's magnitude,
# with a quarter of the power kept uniform everywhere (`mix = 0.25`); in the network it is
# area-pooled to each stage's resolution and normalised to unit mean power, so `sigma` keeps
# its meaning, and multiplies the Brownian-sheet increments; round 0 is the uniform Brownian
# NSDE, each later round trains a new NSDE (same initial weights) with the envelopes of the
# previous round's attributions (`envelope_rounds`); at test time the envelope is the mean of
# the training envelopes, one fixed map, so attacks differentiate exactly the evaluated
# function.
#
# **Budget, and what the grid can say.** Every grid cell is one trained network (the first
# training seed of the profile), so the grid's differences are about *these trained
# networks*, not about the shapes as methods: a seed-to-seed spread would need several
# networks per cell. Each difference is Holm-adjusted over every (cell, measure) pair of the
# grid. The measures run on `shape_n_images` test images (clean accuracy on the whole test
# split). The `paper` profile runs every shape at four levels with two shaping rounds and IG
# attributions.

# %% tags=["parameters"]
profile = "quick"

# %% tags=["hide-input"]
import time

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown
from myst_nb import glue

from nsde.core.noise import parse_grid
from nsde.measures.attribution import attribute
from nsde.measures.evaluation import eval_subset
from nsde.report import figures, findings, provenance, verdicts
from nsde.stats.compare import compare_scores
from nsde.studies import noise_shapes as ss
from nsde.studies.attribution_noise import map_agreement
from nsde.studies.setup import setup

S = setup(profile)
P, data = S.profile, S.data
t_start = S.started
baseline = S.zoo["baseline"][0]
grid = parse_grid(P.shape_grid)
P.describe(["shape_grid", "envelope_rounds", "envelope_attribution", "shape_n_images", "eot_iter"])

# %% [markdown]
# ## Does a cheap attribution give the same envelope?
#
# Integrated Gradients costs `ig_n_steps` backward passes per image, saliency one. The
# envelope only keeps each map area-pooled to the feature maps' resolution, so what matters
# is whether the two rank the coarse regions alike: per image, the Spearman correlation of
# the two pooled maps, on the Brownian NSDE of round 0.

# %%
round0 = ss.grid_models(data, P, [("brownian", P.sigma)])[("brownian", P.sigma)]
xs, ys = eval_subset(data.train.x, data.train.y, 32, seed=P.seed)
maps = {m: attribute(round0.model, xs, ys, m, n_steps=P.ig_n_steps, noise="on", noise_seed=0) for m in ("ig", "saliency")}
agreement = pd.DataFrame({f"{s}x{s}": map_agreement(maps["ig"], maps["saliency"], (s, s)).numpy()
                          for s in (P.image_size // 4, P.image_size // 8, P.image_size // 16)}).describe().loc[
    ["mean", "25%", "50%", "75%"]]
agreement.round(2)

# %% [markdown]
# ## The grid
#
# Training (or loading) every NSDE of the grid; the attribution-shaped ones run their
# shaping rounds. Then every model, and the baseline, is scored on the same images.

# %%
t0 = time.perf_counter()
models = ss.grid_models(data, P, grid, rounds=P.envelope_rounds, attribution=P.envelope_attribution)
metrics = ss.grid_metrics(models, baseline, data, P, n_images=P.shape_n_images, eps=P.attack_eps[0])
diffs = ss.grid_differences(metrics, seed=P.seed)
print(f"{len(models)} NSDEs and the baseline scored in {time.perf_counter() - t0:.0f} s")

# %%
worst = min(float(sc["clean"].mean()) for sc in metrics["scores"].values())
print("grid:", ", ".join(f"{shape}@{sigma:g}" for shape, sigma in models))
print("the least accurate model of the grid", verdicts.beats_chance(worst, data.num_classes, 2))
# NBVAL_CHECK_OUTPUT

# %%
print("Accuracies in percent, other measures as numbers; per-image measures with the half-width of their paired "
      "95% interval against the baseline.")
ss.grid_table(diffs)

# %% [markdown]
# The heat maps show each grid cell's difference from the baseline, coloured so that blue is
# always better (for the log change of attributions, lower is better); a dot marks a cell
# whose paired interval excludes zero; grey cells are not in this profile's grid.

# %%
fig = figures.plot_grid(diffs, higher_is_better=ss.HIGHER_IS_BETTER,
                        title=f"Noise shape x sigma, difference from the baseline ({P.shape_n_images} images; blue: "
                              "better; dot: Holm-adjusted over the grid)")
glue("fig-grid", plt.gcf(), display=False)
plt.close("all")

# %% [markdown]
# ```{glue:figure} fig-grid
# :name: "fig-grid"
# Each cell of the noise-shape grid minus the baseline, per measure, coloured so that
# blue is better (one trained network per cell; a dot marks a difference Holm-adjusted
# over the whole grid; grey cells are not in this profile's grid).
# ```

# %% [markdown]
# ## The paper's Brownian noise against attribution-shaped noise
#
# At each level where both were trained, the Brownian NSDE against the attribution-shaped
# one, directly and paired on the same images, measure by measure, and what each costs in
# clean accuracy against the baseline. The sentences are computed from the numbers above.

# %%
clean = {label: compare_scores(metrics["scores"][label]["clean"], metrics["scores"]["baseline"]["clean"], seed=P.seed)
         for label in models}
lines = []
for sigma in sorted({s for shape, s in grid if shape == "attribution"}):
    if ("brownian", sigma) in models:
        cmp = ss.compare_cells(metrics, ("brownian", sigma), ("attribution", sigma), seed=P.seed)
        lines.append(f"**sigma {sigma:g}.** " + verdicts.shape_choice_sentence(
            cmp, "Brownian noise", "attribution-shaped noise", clean_a=clean[("brownian", sigma)],
            clean_b=clean[("attribution", sigma)]))
counts = ss.grid_counts(diffs)
lines.append(verdicts.grid_best_sentence(counts))
verdict = "\n\n".join(lines)
findings.record_text(profile, "noise-shape", data.name, verdicts.grid_verdict(counts), verdict,
                     sizes=f"one trained network per cell, {P.shape_n_images} images",
                     models=S.describe_models(seeds=1, noise="noise of each grid cell's shape and sigma"))
Markdown(verdict)

# %%
counts

# %% tags=["remove-input"]
Markdown(provenance.footer(S, "08_noise_shapes"))
