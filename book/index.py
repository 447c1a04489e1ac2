# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Neural SDE spectrogram classifiers, reproduced
#
# This book is the reproducible companion of Brogan, Kotevska, Torres, Jha and Adams,
# *Improving Robustness of Spectrogram Classifiers with Neural Stochastic Differential
# Equations* {cite}`brogan2024nsde` (IEEE MLSP 2024, [arXiv 2409.01532](https://arxiv.org/abs/2409.01532)).
# The paper turns a ConvNeXt into a Neural SDE by injecting shaped (Brownian) noise into its
# residual blocks while it trains, and reports that the stochastic model is a little less
# accurate on clean spectrograms but more robust to random noise and to APGD-CE attacks, and
# that its explanations are more stable and more confident.
#
# The paper's ORNL recordings are not public: the chapters run on our simulator of them
# (chapter 1 says what it does and does not reproduce) and, in the PLAID chapter, on real
# appliance recordings.
#
# Every chapter re-runs one part of the paper from scratch and tests the paper's claim with
# one primary endpoint declared before the data, the training seed as the unit, and error
# rates proven by simulation ("How to read a verdict"). Where our results disagree with the
# paper, the chapter says so; where the data cannot tell, it says that too.

# %% tags=["parameters"]
profile = "quick"

# %% tags=["remove-cell"]
from IPython.display import Markdown

from nsde.report import findings, provenance
from nsde.runbook import toc_chapters
from nsde.studies.setup import setup

S = setup(profile, zoo=False)

# %% [markdown]
# ## The answer, in this build

# %% tags=["remove-input"]
Markdown(findings.answer(profile))

# %% tags=["remove-input"]
compact = findings.findings_table(profile, compact=True)
Markdown(compact.reset_index().to_markdown(index=False) if len(findings.load(profile)) else
         "No chapter has recorded a finding in this build yet.")

# %% [markdown]
# ## The chapters

# %% tags=["remove-input"]
Markdown(toc_chapters())

# %% [markdown]
# ## How this book is made
#
# Each chapter is a [jupytext](https://jupytext.readthedocs.io) Python file in `book/`,
# executed by [papermill](https://papermill.readthedocs.io) with the parameters of a
# *profile* and rendered by Jupyter Book. All reusable code lives in the `nsde` package; the
# chapters only call it. The profile sets the scale:
#
# - `quick`: a few minutes on 2 CPU cores (what CI runs and checks with nbval);
# - `default`: the paper's data size (10,000 spectrograms, 64x64) with ResNet-10-T, the
#   setting of the regime search nearest the paper's baseline that fits a 2-core CPU;
# - `paper`: the paper's network, ConvNeXt-Base, on 224x224 spectrograms (ConvNeXt's usual
#   input; the paper states no image size), for a GPU.
#
# The numbers on these pages come from the profile this copy of the book was built with;
# each page ends with a note of how it was built. Build it yourself with `make book` (or
# `make book PROFILE=paper` on a GPU).

# %% tags=["remove-input"]
Markdown(provenance.footer(S, "index"))
