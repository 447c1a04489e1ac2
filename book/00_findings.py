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
# Every claim of the paper {cite}`brogan2024nsde`, the questions it leaves open (its Sec. 5)
# and the questions this book adds, with what the paper reports and what this build finds,
# on each data set the book was built with: the simulated harmonic-signals data (`harmonic`)
# and, where the PLAID chapter ran, real appliance recordings (`plaid`). Each verdict links
# to the chapter that shows the evidence and carries its estimate, NSDE minus baseline,
# with a 95% interval whose unit is the training seed, the sizes it rests on and the
# smallest effect those sizes would detect with 80% power. "How to read a verdict" defines
# the words and proves their error rates.
#
# Nothing on this page is typed in: the claims and the paper's numbers come from
# `nsde.report.claims` and `nsde.report.paper`, every verdict was computed by
# `nsde.report.claims.judge` in the chapter that links to it, during this build (this page
# runs after all of them). "not run" means no chapter of this build recorded that finding.

# %% tags=["parameters"]
profile = "quick"

# %% tags=["remove-cell"]
from IPython.display import Markdown

from nsde.report import findings, provenance
from nsde.studies.setup import setup

S = setup(profile, zoo=False)
table = findings.findings_table(profile)
found = findings.load(profile)

# %% tags=["remove-input"]
datasets = [c for c in table.columns if c != "paper"]
print(f"profile {profile!r}; data sets: {', '.join(datasets)}")
print("claims with a verdict:", "; ".join(f"{d} {int((table[d] != 'not run').sum())} of {len(table)}"
                                         for d in datasets))
# NBVAL_CHECK_OUTPUT

# %% [markdown]
# ## What was compared, and under which threat model
#
# * **The networks.** Every column of the table is about the networks this build trained, not
#   the paper's ConvNeXt-Base on the ORNL recordings; the row "models" of each finding below
#   names them (architecture, image size, epochs, training data, seeds). The training
#   chapter says where these networks stand against the paper's baseline.
# * **Random noise.** Additive Gaussian noise (white, and spatially shaped) on spectrograms
#   scaled to [0, 1], clipped back to [0, 1].
# * **Attacks.** Untargeted L2 attacks on images in [0, 1], at the paper's four budgets. The
#   attacker knows the weights, the architecture and the law of the NSDE's noise, not its
#   draws; the scored classifier is the NSDE ensemble (the mean softmax of several noisy
#   passes), and the adaptive verdict counts each image at the worst attack of a battery
#   that differentiates the ensemble's own output.

# %% tags=["remove-input"]
Markdown(findings.findings_table(profile).reset_index().to_markdown(index=False))

# %% [markdown]
# ## The evidence behind each verdict

# %% tags=["remove-input"]
Markdown(findings.evidence(profile) or "No chapter has recorded a finding in this build yet.")

# %% tags=["remove-input"]
Markdown(provenance.footer(S, "00_findings"))
