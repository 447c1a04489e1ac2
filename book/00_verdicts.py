# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # How to read a verdict
#
# Every verdict of this book is a statistical test of one **primary endpoint** per claim,
# declared in `nsde.report.claims` before any data were seen, with the training seed as the
# unit: seed `i` of the baseline and seed `i` of the NSDE share their initial weights, the
# order of the training images and the training subset, so they are paired; the test set's
# own sampling is added to the seeds' spread (a crossed seeds x images design
# {cite}`clark1973fallacy`, `nsde.stats.inference.seed_test`, with `S - 1` degrees of
# freedom). The words:
#
# * **holds**: the endpoint differs from 0 in the paper's direction (its 95% interval excludes
#   0 on that side), and so does every setting on its own (Holm {cite}`holm1979`);
# * **holds in part**: the endpoint does, but not every setting does on its own (possibly
#   none: the average excludes 0 while no single setting does), none against;
# * **is mixed**: settings differ significantly in both directions;
# * **does not hold**: the endpoint differs from 0 against the paper's direction;
# * **equivalent**: no difference, shown: the two one-sided tests {cite}`schuirmann1987tost`
#   put it inside a margin declared with the claim (two points of accuracy for the
#   accuracy claims);
# * **inconclusive**: none of these. The data cannot tell; the sentence says which effects the
#   interval still allows, whether the paper's own effect is among them, and the smallest
#   effect these sizes would detect with 80% power.
#
# A claim without a direction (a question of ours, such as where the noise helps) is
# answered **higher**, **lower**, **equivalent** or **inconclusive**.
#
# **Why these tests, and how we know they work.** A method is chosen by its measured error
# rates {cite}`bouthillier2021variance`. This page simulates the very pipeline the chapters
# run (`nsde.report.calibration`): per-image correctness tables with a latent image
# difficulty shared by both models, a model x image interaction, a random effect per training
# seed, and accuracies falling over the noise intensities, the sizes of each estimated from
# **this build's own Table 2**, then the chance rule, the endpoint test and the verdict.
# Under no true difference it measures how often a difference is announced (nominal: 5%)
# and how often the 95% interval covers the truth (nominal: 95%); under true differences,
# the power. An earlier version of this book resampled seeds and images in a bootstrap: on
# such tables it announced a difference far more often than the nominal 5% (its row in the
# recorded table below);
# `tests/test_calibration.py` keeps a copy of that mistake and checks that the calibration
# catches it.

# %% tags=["parameters"]
profile = "quick"

# %% tags=["remove-cell"]
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown
from myst_nb import glue

from nsde.report import calibration, findings, provenance
from nsde.runbook import REPO
from nsde.studies import noise_study as ns
from nsde.studies.protocols import BASELINE, ENSEMBLE
from nsde.studies.setup import setup

S = setup(profile)
P, data = S.profile, S.data

# %% [markdown]
# ## The sizes of this build
#
# From the robustness chapter's Table 2 (its results are cached, so nothing is recomputed):
# the accuracy at each informative intensity, and the shares of the latent variance that
# come from the images, from the model x image interaction and from the training seed.

# %%
noise = ns.noise_study(S.classifiers, data, n_images=P.noise_n_images, seed=P.seed)
structure, basis = calibration.structure_of_study(noise.test[ENSEMBLE], noise.test[BASELINE], "intensity",
                                                  noise.informative)
sizes = pd.Series({"training seeds per model": P.n_seeds, "test images": noise.n_images,
                   "informative intensities": len(noise.informative), "estimated from": basis,
                   "image share r_image": round(structure.r_image, 3),
                   "model x image share r_pair": round(structure.r_pair, 3),
                   "seed share r_seed": round(structure.r_seed, 4)}, name="this build")
sizes.to_frame()

# %% [markdown]
# ## Error rates and power of this build's Table 2 verdict
#
# Simulated at this build's sizes (seeds, images, intensities and variance shares) and run
# through the chance rule, the endpoint test and the verdict; each row is one true
# difference of the endpoint (ensemble minus baseline, averaged over the intensities).

# %%
effects = [0.0, 0.02, 0.05, 0.10]
table = calibration.calibrate(structure, n_seeds=P.n_seeds, n_images=noise.n_images, effects=effects,
                              reps=calibration.BOOK_REPS, seed=P.seed, chance=noise.chance)
shown = calibration.summary(table)
glue("cal-reps", calibration.BOOK_REPS, display=False)
shown

# %%
print(f"simulated: {len(effects)} true differences x {calibration.BOOK_REPS} replicates")  # NBVAL_CHECK_OUTPUT
print(calibration.summary_sentence(table))

# %%
fig, ax = plt.subplots(figsize=(6, 4))
calibration.plot_power(table, ax=ax)
glue("fig-power", fig, display=False)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig-power
# :name: "fig-power"
# Power of the Table 2 verdict (the probability that it says "holds" or "holds in part")
# against the true difference, simulated at this build's sizes ({glue:text}`cal-reps`
# replicates per point); the dashed line is the 5% of the null.
# ```
#
# ## The smallest effect each verdict of this build could detect
#
# For every verdict the chapters recorded: its estimate and interval, and the minimal
# detectable effect at 80% power at its own sizes and variance (the noncentral t of its
# test). A verdict of "inconclusive" with a detectable effect larger than the paper's own
# says that the build was too small to test the paper's number, not that the number is
# wrong.

# %%
found = findings.load(profile)
found[["claim", "dataset", "verdict", "estimate", "sizes", "mde"]].rename(columns={"mde": "detectable (80%)"})

# %% [markdown]
# ## What more training seeds would buy

# %% tags=["remove-input"]
from nsde.report import paper
from nsde.report.claims import paper_table2_effect, paper_table3_effect

Markdown("The same minimal detectable effect for the main claims' endpoints if each model had been trained from "
         "more seeds, at this build's own variance: the budget a reader would need to test the paper's effects "
         f"(Table 2: {100 * paper_table2_effect(paper.TABLE2['intensity']):+.1f} points averaged over its "
         f"intensities; Table 3: {100 * paper_table3_effect(paper.TABLE3['eps']):+.2f} points averaged over its "
         "budgets).")

# %%
findings.power_frontier(profile)

# %% [markdown]
# ## The recorded calibration (`results/calibration.csv`)
#
# `benchmarks/bench_calibration.py` runs the same simulation with more replicates than a build
# can afford (the column `replicates`), at the audit's sizes (192 images, the paper's eight
# intensities) and, when a default build is in its cache, at that build's own sizes; beside
# the book's seed-level test it runs the two methods it was chosen over. It records
# `results/calibration.csv`. At a true difference of 0 the column "announces a difference" is
# the false-positive rate (nominal 5%); otherwise it is the power; "coverage" is the share of
# 95% intervals that hold the true difference.

# %% tags=["remove-input"]
recorded = REPO / "results" / "calibration.csv"
pd.read_csv(recorded) if recorded.is_file() else Markdown("No calibration has been recorded yet.")

# %% tags=["remove-input"]
Markdown(provenance.footer(S, "00_verdicts"))
