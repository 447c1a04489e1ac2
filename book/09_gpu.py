# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # The paper's scale on a GPU
#
# The CPU profiles train ResNet-10-T on 64x64 spectrograms; the paper trains ConvNeXt-Base on
# (probably) 224x224 ones. `benchmarks/paper_scale.py` (`make gpu-run`) is the prepared run
# of the `paper` profile on a CUDA machine: it measures ConvNeXt-Base's bf16 training
# throughput and model FLOP utilisation, trains the baseline and the NSDE as far as a time
# budget allows, and computes Tables 1-3, writing small result files with their provenance
# to `results/gpu/`. This page renders whatever run was recorded there; nothing on it is
# computed by the CPU build of the book.

# %% tags=["parameters"]
profile = "quick"

# %% tags=["remove-input"]
import json

import pandas as pd
import torch
from IPython.display import Markdown

from nsde.report import provenance
from nsde.runbook import REPO
from nsde.studies.setup import setup

S = setup(profile, zoo=False)

results = REPO / "results" / "gpu"
recorded = (results / "provenance.json").exists()
if not recorded:
    here = "" if torch.cuda.is_available() else ", and this build had no GPU"
    text = (f"**No GPU run has been recorded yet**{here}. To record one, on a CUDA machine: "
            "`make gpu-run` (about 10 minutes of one GPU), then commit `results/gpu/`.")
else:
    prov = json.loads((results / "provenance.json").read_text())
    text = ("**A recorded GPU run** (not computed by this build): " + ", ".join(
        f"{k} `{prov[k]}`" for k in ("gpu", "device", "torch", "precision", "profile", "commit", "started")
        if k in prov) + f". Command: `{prov.get('command', '?')}`.")
print("recorded result files:", ", ".join(sorted(f.name for f in results.glob("*"))) if recorded else "none")
# NBVAL_CHECK_OUTPUT
Markdown(text)

# %% tags=["remove-input"]
if recorded and (results / "throughput.json").exists():
    tp = json.loads((results / "throughput.json").read_text())
    display(pd.Series(tp, name="throughput").to_frame())  # noqa: F821  (IPython's display)

# %% tags=["remove-input"]
for name in ("models.json", "timings.json"):
    if recorded and (results / name).exists():
        display(pd.DataFrame(json.loads((results / name).read_text())).T if name == "models.json"  # noqa: F821
                else pd.Series(json.loads((results / name).read_text()), name="seconds").to_frame())

# %% tags=["remove-input"]
for name in ("table1.csv", "table2.csv", "table3.csv", "table3_adaptive.csv"):
    if recorded and (results / name).exists():
        print(name)
        display(pd.read_csv(results / name))  # noqa: F821

# %% tags=["remove-input"]
Markdown(provenance.footer(S, "09_gpu"))
