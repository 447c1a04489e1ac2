# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Less training data: a statement of the paper, tested
#
# The paper closes by saying that the Neural SDE "can provide benefits even in
# low-data-availability scenarios" (Sec. 5), from its one data set of 625 examples per
# class, and names low-data and few-shot settings as future work; it never varies the
# training-set size. This chapter does. Noise injection is a regulariser, and regularisers usually matter most when data
# are scarce, so one could expect the NSDE to lose less accuracy than the baseline as the
# training set shrinks, or to keep its robustness to input noise better. This chapter
# measures it.
#
# **Design.** We train the baseline and the NSDE (the chapter-2 noise shape and `sigma`) on
# class-stratified random subsets of the training split: the fractions `train_fractions` of
# the profile, plus the full split, whose models are those of chapter 2 (loaded from the
# cache), each from the profile's `n_seeds` training seeds. Both models of a pair share the
# subset and the seed, and every size takes the same number of optimisation steps (`epochs`
# divided by the fraction, printed below), so that a smaller
# set means less data, not also less training, and its models can converge as the full
# set's do (the convergence line below says whether they did).
# The validation split (best-epoch selection) and the test split are the full ones, so every
# size is scored on the same images: all test images, clean and under white Gaussian
# noise at the intensities `data_size_intensities` (the same draw for every model). As in the
# robustness chapter, the baseline runs its drift path and the NSDE keeps its noise on with
# `eval_samples` Monte-Carlo passes. The NSDE-minus-baseline difference has a 95% interval
# whose unit is the training seed (paired: the same images, seed `i` with seed `i`).

# %% tags=["parameters"]
profile = "quick"

# %% tags=["hide-input"]
import time

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown
from myst_nb import glue

import timm  # noqa: F401  (imported here so its one-time import warnings land in this cell)

from nsde.report import findings, provenance, verdicts
from nsde.report.figures import plot_data_size
from nsde.studies.data_size import data_size_table, fraction_epochs, less_data_verdict, train_fraction_zoo
from nsde.studies import regime
from nsde.studies.setup import setup

S = setup(profile, zoo=False)
P, data = S.profile, S.data
P.describe(["train_fractions", "data_size_intensities", "n_seeds", "eval_samples", "epochs"])

# %%
fractions = sorted({float(f) for f in P.train_fractions} | {1.0})
t0 = time.perf_counter()
runs = train_fraction_zoo(data, P, fractions, n_seeds=P.n_seeds)
print(f"{P.arch}, training fractions {fractions} of {len(data.train)} images, epochs per fraction "
      f"{ {f: fraction_epochs(P.epochs, f) for f in fractions} } (the same number of steps), "
      f"{P.n_seeds} seeds per size and model")  # NBVAL_CHECK_OUTPUT
print(f"trained or loaded {2 * len(fractions) * P.n_seeds} models in {time.perf_counter() - t0:.0f} s")
print(regime.convergence_sentence({f"{name} on {f:g} of the data": r for f, pair in runs.items()
                                   for name, r in pair.items()}))

# %% [markdown]
# ## Accuracy against training-set size
#
# One row per training-set size and input-noise level; accuracies in percent with 95%
# intervals over seeds and images. `NSDE - baseline` is the paired difference on the same
# test images.

# %%
table = data_size_table(runs, data, intensities=P.data_size_intensities, samples=P.eval_samples, seed=P.seed)


def pct(row, name):
    return f"{100 * row[name]:.1f} [{100 * row[name + ' low']:.1f}, {100 * row[name + ' high']:.1f}]"


shown = pd.DataFrame({
    "training images": table["train images"],
    "input noise std": table["intensity"],
    "baseline": [pct(r, "baseline") for _, r in table.iterrows()],
    f"NSDE ({P.noise_shape}, noise on)": [pct(r, "nsde") for _, r in table.iterrows()],
    "NSDE - baseline": [pct(r, "difference") for _, r in table.iterrows()],
})
shown

# %%
fig = plot_data_size(table, title=f"Baseline and NSDE ({P.arch}) against training-set size")
glue("fig-data-size", plt.gcf(), display=False)
plt.close("all")

# %% [markdown]
# ```{glue:figure} fig-data-size
# :name: "fig-data-size"
# Test accuracy of the baseline and the NSDE (noise on) against the training-set size,
# clean and under white noise, every training seed (95% intervals with the seed as
# unit).
# ```

# %% [markdown]
# ## What the data say
#
# The sentences below are computed from the table. A difference counts only when its paired
# 95% interval excludes zero.

# %%
sentences = [verdicts.data_size_sentence(table, level) for level in sorted(table["intensity"].unique())]
less = less_data_verdict(table)
findings.record(profile, less, data.name, models=S.models_text)
Markdown("\n".join(f"- {line}" for line in [less.sentence(), *sentences]))

# %% [markdown]
# ## Summary
#
# - The paper's statement about scarce data (Sec. 5) is put to a test at this book's scale: the table and the
#   figure show, for every training-set size, both models' accuracy on all test images,
#   clean and under white noise, and the paired NSDE-minus-baseline difference; the verdict
#   is the test of whether that difference is larger at the smallest size than at the
#   full one.
# - Read the verdict lines above for this profile's answer. A regulariser that helps when
#   data are scarce would show a difference that grows as the training set shrinks; the
#   intervals say whether it does here.
# - Limits: the same number of steps at every size (more passes over less data); the `paper`
#   profile repeats the study at ConvNeXt-Base scale.

# %% tags=["remove-input"]
Markdown(provenance.footer(S, "06_less_data"))
