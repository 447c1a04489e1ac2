# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Findings at a glance
#
# Every claim of the paper and every open question it names, with what the paper reports and
# what this book finds, on each data set the book was built with: the simulated
# harmonic-signals data (`harmonic`) and, where the PLAID chapter ran, real appliance
# recordings (`plaid`). Each verdict links to the chapter that shows the evidence; the
# sentences below the table give the numbers and their 95% intervals, which resample the
# test images and, wherever a model was trained from several seeds, the seeds too.
#
# Nothing on this page is typed in: the paper's numbers come from `nsde.report.paper`, and every
# verdict was computed by a tested function of `nsde.report.verdicts` in the chapter that links to
# it, during this build (this page runs after all of them). "not run" means no chapter of
# this build recorded that finding.
#
# How to read a verdict on a claim: **holds** (the NSDE is better at every setting the paper
# used), **holds in part** (better at some, worse at none), **is mixed** (better at some,
# worse at others), **does not hold** (worse at some, better at none), **is not supported**
# (no difference at any setting).

# %% tags=["parameters"]
profile = "quick"

# %% tags=["remove-input"]
from IPython.display import Markdown

from nsde.report import findings
from nsde.studies.profiles import get_profile

P = get_profile(profile)
table = findings.findings_table(profile)
datasets = [c for c in table.columns if c != "paper"]
print(f"profile {profile!r}; data sets: {', '.join(datasets)}")
print("claims with a verdict:", "; ".join(f"{d} {int((table[d] != 'not run').sum())} of {len(table)}"
                                         for d in datasets))
# NBVAL_CHECK_OUTPUT

# %% tags=["remove-input"]
Markdown(table.reset_index().to_markdown(index=False))

# %% [markdown]
# ## The evidence behind each verdict

# %% tags=["remove-input"]
found = findings.load(profile)
lines = []
for claim, (text, chapter) in findings.CLAIMS.items():
    rows = found[found["claim"] == claim]
    if len(rows):
        lines.append(f"**{text}** ([chapter]({chapter}))\n")
        lines += [f"- *{r.dataset}*: {r.detail}" for r in rows.itertuples()]
        lines.append("")
Markdown("\n".join(lines) if lines else "No chapter has recorded a finding in this build yet.")
