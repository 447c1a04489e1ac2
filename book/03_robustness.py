# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Robustness to random noise and adversarial attacks
#
# The paper's central claim is that injecting noise into the residual blocks makes the
# classifier more robust. It supports the claim with two tables, both measured on 32 test
# images and one trained model of each kind: accuracy under additive random noise (its
# Table 2) and accuracy under the APGD-CE attack with small L2 budgets (its Table 3). This
# chapter repeats both to the standard a robustness reviewer would ask for:
#
# * **every training seed** of both models enters every verdict, with intervals that resample
#   the seeds and the images, so a verdict describes the method and not one initialisation;
# * **every comparison is paired**: the models are scored on the same images, and a
#   difference counts only when its 95% interval excludes zero;
# * a random model is scored by its **expected** accuracy: each image is scored by several
#   fresh noisy ensembles, not by one lucky or unlucky draw;
# * the attacks include what the paper's left out: an attack **adaptive** to the noise
#   (Expectation over Transformation, EOT), AutoAttack's protocol for randomised defences
#   (attacking every image), a gradient-free attack (Square), and the gradient-masking checks
#   of Athalye et al. (2018);
# * the NSDE's ensemble is compared not only with the baseline but with **its own noise-off
#   network**, which separates "training with noise helps" from "noise at test time helps".
#
# All attacks are AutoAttack's own implementations (`pyautoattack`), wrapped by
# `nsde.measures.attacks`; every sentence of a verdict is written by a tested function of
# `nsde.report.verdicts` from the numbers above it.

# %% tags=["parameters"]
profile = "quick"

# %% tags=["hide-input"]
import time

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown

from nsde.measures import attacks as at
from nsde.report import findings
from nsde.report import paper
from nsde.report import verdicts
from nsde.measures import robustness as rb
from nsde.report import figures
from nsde.studies import protocols
from nsde.stats.compare import compare_tables, format_tables, interval_at
from nsde.data import load_dataset
from nsde.measures.evaluation import correctness_matrix, eval_subset
from nsde.core.noise import SHAPES
from nsde.studies.profiles import get_profile
from nsde._infra.runtime import configure
from nsde.studies.zoo import train_zoo

P = get_profile(profile)
configure(P.seed)
t_start = time.perf_counter()
data = load_dataset(P.dataset, image_size=P.image_size, seed=P.seed, n_per_class=P.n_per_class)
zoo = train_zoo(data, P)
base_runs, nsde_runs = zoo["baseline"], zoo[f"nsde-{P.noise_shape}"]
P.describe(["robust_n_images", "shaped_intensities", "attack_pool", "attack_n_images", "attack_eps", "apgd_n_iter",
            "eot_iter", "adaptive_eps", "draws", "aa_n_iter", "square_n_queries", "check_n_images",
            "eval_samples", "n_seeds"])

# %% [markdown]
# ## What is evaluated, and how
#
# * **Three classifiers, every seed.** The baseline; the NSDE with its noise **off** (the
#   drift path: the same weights, a deterministic network); and the NSDE **ensemble**, its
#   noise on, whose prediction is the mean softmax of `eval_samples` noisy passes (as in Liu
#   et al.'s Neural SDE code). Each has `n_seeds` training seeds.
# * **Random noise.** Intensity is the standard deviation of the added noise on spectrograms
#   scaled to [0, 1]; the noisy image is clipped back to [0, 1], so the SNR column is measured
#   on the perturbation actually delivered. All classifiers see the *same* noisy images.
# * **Threat model of the attacks.** Untargeted L2 attacks on images in [0, 1]. The attacker
#   knows the weights, the architecture and the law of the noise (its shape, `sigma`, where it
#   is injected), but not the draws, which are fresh at every forward pass. The ensemble is
#   attacked as the random function it is, one fresh noise draw per forward pass (the
#   passes the ensemble averages; EOT averages the gradients of `eot_iter` of them), and
#   scored as the classifier it is used as: each attacked image gets the mean correctness of
#   `draws` fresh ensembles, drawn independently of the attack.
# * **Which images.** For the comparisons between classifiers, the attacked images are the
#   first `attack_n_images` of a seeded random pool of `attack_pool` test images that **every
#   classifier, every seed, classifies correctly** when clean, so that "robust accuracy" is the
#   fraction that survives and the comparison is like for like. For the paper's own
#   comparison, the non-adaptive attack also runs on that many images drawn at random
#   (raw accuracy, as the paper reports).

# %%
x_noise, y_noise = eval_subset(data.test.x, data.test.y, P.robust_n_images, seed=P.seed)
x_pool, y_pool = eval_subset(data.test.x, data.test.y, P.attack_pool, seed=P.seed)
forms = {"baseline": (base_runs, "off", 1), "NSDE, noise off": (nsde_runs, "off", 1),
         "NSDE ensemble": (nsde_runs, "on", P.eval_samples)}
clean = {label: correctness_matrix(runs, x_pool, y_pool, noise=noise, samples=k, draws=P.draws, seed=P.seed)
         for label, (runs, noise, k) in forms.items()}
keep = protocols.clean_correct_subset(clean, P.attack_n_images)
x_att, y_att = x_pool[keep], y_pool[keep]
x_raw, y_raw = x_pool[:len(x_att)], y_pool[:len(x_att)]  # as many random images, for the paper's comparison
n_check = len(x_att) if P.check_n_images is None else min(P.check_n_images, len(x_att))
print(f"noise sweeps: {len(x_noise)} test images; attack pool: {len(x_pool)} images, of which "
      f"{len(protocols.clean_correct_subset(clean, None))} are classified correctly by every classifier and seed in "
      f"every scoring")
print(f"attacked (all correct): {len(x_att)} images; raw subset for the paper's comparison: {len(x_raw)}; "
      f"masking checks: {n_check}")

# %% [markdown]
# ## Table 2: accuracy under additive random noise
#
# First the paper's experiment: white Gaussian noise at the paper's eight intensities, for the
# three classifiers, pooled over the training seeds (accuracy averaged over the seeds; the
# interval resamples seeds and images).

# %%
intensities = list(rb.PAPER_INTENSITIES)
white = {label: rb.noise_seeds(runs, x_noise, y_noise, intensities, input_noise="white", noise=noise, samples=k,
                               seed=P.seed)
         for label, (runs, noise, k) in forms.items()}
table2 = format_tables(white, "intensity")
table2.insert(0, "SNR (dB)", white["baseline"].set_index("intensity")["snr_db"].round(1))
table2.insert(1, "paper ConvNeXt-Base", paper.TABLE2["ConvNeXt-Base"])
table2.insert(2, "paper Neural SDE", paper.TABLE2["Neural SDE"])
print(f"Accuracy (%) with 95% intervals over {P.n_seeds} seeds and {len(x_noise)} images; paper columns: "
      f"{paper.N_EVAL_IMAGES} images, one model, no intervals.")
table2

# %%
fig, ax = plt.subplots(figsize=(7, 4.5))
figures.plot_noise_curves(white, ax=ax, title=f"White Gaussian noise ({len(x_noise)} images, {P.n_seeds} seeds, 95% bands)")
ax.plot(paper.TABLE2["intensity"], paper.TABLE2["ConvNeXt-Base"], "k--", lw=1, label="paper ConvNeXt-Base")
ax.plot(paper.TABLE2["intensity"], paper.TABLE2["Neural SDE"], "k:", lw=1, label="paper Neural SDE")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ### Verdict on Table 2
#
# The paper's claim is that the NSDE is more accurate than the baseline under random noise.
# The comparison is paired (the same noisy images) and pools the seeds of both models.

# %%
cmp_white = compare_tables(white["NSDE ensemble"], white["baseline"], "intensity", seed=P.seed)
claim2 = verdicts.claim_sentence("the NSDE is more accurate under random noise", "The NSDE ensemble",
                                 "the baseline", cmp_white)
findings.record(profile, "table2", data.name, verdicts.claim_word(cmp_white["outcome"]), claim2)
Markdown(claim2)

# %%
print(verdicts.loses_accuracy(white))
# NBVAL_CHECK_OUTPUT

# %% [markdown]
# ### Which noise helps: training with it, or keeping it on?
#
# The NSDE ensemble differs from the baseline in two ways: it was *trained* with noise, and it
# keeps the noise *on* at test time (and averages several passes). Comparing it with its own
# noise-off network separates the two, at the smallest intensities of the paper:

# %%
training = compare_tables(white["NSDE, noise off"], white["baseline"], "intensity", seed=P.seed)
test_time = compare_tables(white["NSDE ensemble"], white["NSDE, noise off"], "intensity", seed=P.seed,
                           same_models=True)
sources = [verdicts.noise_sources_sentence(interval_at(training, i), interval_at(test_time, i),
                                           interval_at(cmp_white, i), condition=f"under white noise of std {i:g}")
           for i in intensities[:2]]
i0 = intensities[0]
findings.record(profile, "noise-sources", data.name, f"at noise {i0:g}: " + verdicts.noise_sources_verdict(
    interval_at(training, i0), interval_at(test_time, i0)), " ".join(sources))
Markdown("\n\n".join(f"- {s}" for s in sources))

# %% [markdown]
# ### Shaped input noise
#
# The same sweep with spatially correlated noise of equal mean power, at the profile's
# `shaped_intensities`: the Brownian sheet (variance growing from one corner), and stationary
# power-law noise (pink 1/f, brown 1/f^2), which concentrates its power at low spatial
# frequencies.

# %%
shaped = {shape: {label: rb.noise_seeds(runs, x_noise, y_noise, P.shaped_intensities, input_noise=shape,
                                        noise=noise, samples=k, seed=P.seed)
                  for label, (runs, noise, k) in forms.items()}
          for shape in SHAPES if shape != "white"}
pd.concat({shape: format_tables(t, "intensity") for shape, t in shaped.items()}, names=["noise shape"])

# %%
fig, axes = plt.subplots(1, len(shaped), figsize=(4.5 * len(shaped), 4), sharey=True)
for ax, (shape, tables) in zip(axes, shaped.items()):
    figures.plot_noise_curves(tables, ax=ax, title=f"{shape} noise")
fig.suptitle("Accuracy under shaped input noise (95% bands)")
fig.tight_layout()
plt.show()

# %%
Markdown("\n".join(f"- **{shape} noise.** " + verdicts.comparison_sentence(
    "The NSDE ensemble", "the baseline", compare_tables(t["NSDE ensemble"], t["baseline"], "intensity", seed=P.seed))
    for shape, t in shaped.items()))

# %% [markdown]
# ## Table 3: APGD-CE under L2 budgets
#
# **What an L2 budget means depends on the image size.** An L2 budget `eps` spread evenly
# over `P` input values changes each by `eps / sqrt(P)` (RMS). The paper does not state its
# input size; ConvNeXt-Base is usually fed 224x224 images, where `eps = 0.05` is an RMS change
# of 2.2e-4 per pixel. At this profile's size the same `eps` is larger per pixel, so equal
# budgets are *not* equally strong attacks across sizes.

# %%
eps_table = pd.DataFrame({
    "eps": list(P.attack_eps),
    f"eps/sqrt(px) at {P.image_size}x{P.image_size}": [f"{at.eps_per_pixel(e, (1, P.image_size, P.image_size)):.2e}"
                                                       for e in P.attack_eps],
    "eps/sqrt(px) at 224x224": [f"{at.eps_per_pixel(e, (1, 224, 224)):.2e}" for e in P.attack_eps],
    f"eps at {P.image_size}x{P.image_size} matching 224x224": [f"{e * P.image_size / 224:.3g}" for e in P.attack_eps],
})
print(eps_table.to_string(index=False))
# NBVAL_CHECK_OUTPUT

# %% [markdown]
# First the paper's protocol: the **non-adaptive** attack (one noise draw per gradient step)
# on images drawn at random, first seed of each model, as the paper ran it; raw accuracy.

# %%
common = dict(n_iter=P.apgd_n_iter, seed=P.seed, draws=P.draws)
raw = {"baseline": at.attack_seeds(base_runs[:1], x_raw, y_raw, P.attack_eps, noise="off", **common),
       "NSDE ensemble, non-adaptive": at.attack_seeds(nsde_runs[:1], x_raw, y_raw, P.attack_eps, noise="on",
                                                      samples=P.eval_samples, **common)}
paper3 = pd.DataFrame({k: v for k, v in paper.TABLE3.items() if k != "eps"}, index=paper.TABLE3["eps"])
table3_paper = format_tables(raw, "eps").join(paper3.add_prefix("paper "))
print(f"Raw robust accuracy (%) on {len(x_raw)} random test images, first seed; paper: {paper.N_EVAL_IMAGES} "
      "images.")
table3_paper

# %% [markdown]
# Now the like-for-like comparison on the images every classifier gets right, every seed:
# the non-adaptive attack on all three classifiers at every budget, and the **adaptive**
# attack on the ensemble at the paper's budgets (EOT: each gradient step averages
# `eot_iter` noise draws).

# %%
t_attacks = time.perf_counter()
attacked = {"baseline": at.attack_seeds(base_runs, x_att, y_att, P.attack_eps, noise="off", **common),
            "NSDE, noise off": at.attack_seeds(nsde_runs, x_att, y_att, P.attack_eps, noise="off", **common),
            "NSDE ensemble, non-adaptive": at.attack_seeds(nsde_runs, x_att, y_att, P.attack_eps, noise="on",
                                                           samples=P.eval_samples, **common),
            f"NSDE ensemble, EOT-{P.eot_iter}": at.attack_seeds(nsde_runs, x_att, y_att, P.adaptive_eps, noise="on",
                                                                samples=P.eval_samples, eot_iter=P.eot_iter,
                                                                **common)}
eot_label = f"NSDE ensemble, EOT-{P.eot_iter}"
table3 = format_tables(attacked, "eps")
table3.insert(0, "eps/sqrt(px)", [f"{at.eps_per_pixel(e, x_att.shape[1:]):.1e}" for e in table3.index])
print(f"Robust accuracy (%) on {len(x_att)} images every classifier classifies correctly when clean, "
      f"{P.n_seeds} seeds, 95% intervals over seeds and images.")
table3

# %%
print(verdicts.broken_at(attacked, max(P.attack_eps), at_most=0.1))
# NBVAL_CHECK_OUTPUT

# %%
fig, ax = plt.subplots(figsize=(7, 4.5))
figures.plot_attack_curves(attacked, ax=ax, title=f"APGD-CE, L2 ({P.image_size}x{P.image_size}, {len(x_att)} images, "
                                             f"95% bands)")
plt.show()

# %% [markdown]
# **AutoAttack's protocol for randomised defences** (`version='rand'`: APGD-CE, then APGD-DLR,
# both with EOT), first seed, at the smallest adaptive budget, with every image attacked and
# the worse of the two attacks kept per image. AutoAttack's own checks and log
# are printed, not silenced. The profile runs `aa_n_iter` iterations (the protocol: 100).

# %%
aa = at.run_attack(nsde_runs[0], x_att, y_att, P.adaptive_eps[:1], attack="autoattack-rand", noise="on",
                   samples=P.eval_samples, eot_iter=P.eot_iter, n_iter=P.aa_n_iter, seed=P.seed,
                   draws=P.draws)
print(f"AutoAttack-rand with {P.aa_n_iter} iterations" + (" (fewer than the protocol's 100)" if P.aa_n_iter < 100 else ""))
for eps, log in aa["log"].items():
    print(f"eps {eps:g}:", *[f"  {m}" for m in dict.fromkeys(log)], sep="\n")
aa_table = at.attack_table(aa, x_att.shape)
eot_first = at.attack_table(attacked[eot_label].attrs["results"][0], x_att.shape)
s0 = nsde_runs[0].seed
format_tables({f"AutoAttack-rand (seed {s0})": aa_table, f"EOT-{P.eot_iter} (seed {s0})": eot_first}, "eps")

# %% [markdown]
# ## Checks for gradient masking
#
# A sound white-box evaluation shows accuracy that does not rise with the budget, that
# reaches zero at a large budget, that does not rise with more iterations or more EOT draws,
# and a white-box attack at least as strong as a transfer attack and as a gradient-free one.
# The checks run on the adaptive attack against the first seed's ensemble, on the first
# `check_n_images` attacked images, at the second adaptive budget:
#
# * **more iterations** (twice `apgd_n_iter`) and **more EOT draws** (twice `eot_iter`);
# * **transfer** from the NSDE's *own noise-off network* (same weights, no noise: the natural
#   surrogate, since masking would come from the noise);
# * the gradient-free **Square** attack on the ensemble (searching on one fixed noise path, so
#   that its accept-or-reject decisions do not follow lucky draws);
# * the same attack with **float32 gradients** (the book computes in bf16 where the hardware
#   has it, and low-precision gradients are a known source of masking).
#
# Each comparison is paired on the same images and counts only beyond its 95% interval, so
# the tolerance is the scoring noise itself.

# %%
x_chk, y_chk = x_att[:n_check], y_att[:n_check]
eps_chk = [P.adaptive_eps[min(1, len(P.adaptive_eps) - 1)]]
kw = dict(noise="on", samples=P.eval_samples, seed=P.seed, draws=P.draws)
ref = at.attack_table(at.run_attack(nsde_runs[0], x_chk, y_chk, eps_chk, n_iter=P.apgd_n_iter, eot_iter=P.eot_iter, **kw))
more_iters = at.attack_table(at.run_attack(nsde_runs[0], x_chk, y_chk, eps_chk, n_iter=2 * P.apgd_n_iter,
                                           eot_iter=P.eot_iter, **kw))
more_draws = at.attack_table(at.run_attack(nsde_runs[0], x_chk, y_chk, eps_chk, n_iter=P.apgd_n_iter,
                                           eot_iter=2 * P.eot_iter, **kw))
drift = at.run_attack(nsde_runs[0], x_chk, y_chk, eps_chk, n_iter=P.apgd_n_iter, noise="off", seed=P.seed)
transfer = at.transfer_table(drift, nsde_runs[0], y_chk, noise="on", samples=P.eval_samples, draws=P.draws,
                             seed=P.seed)
square = at.attack_table(at.run_attack(nsde_runs[0], x_chk, y_chk, eps_chk, attack="square",
                                       n_queries=P.square_n_queries, **kw))
fp32 = at.attack_table(at.run_attack(nsde_runs[0], x_chk, y_chk, eps_chk, n_iter=P.apgd_n_iter, eot_iter=P.eot_iter,
                                     precision="fp32", **kw))
full_curve = at.attack_table(attacked["NSDE ensemble, non-adaptive"].attrs["results"][0], x_att.shape)
checks = pd.concat({
    f"EOT-{P.eot_iter} (first seed)": protocols.masking_checks(ref, iterations=more_iters, eot=more_draws,
                                                        transfer=transfer, square=square, fp32=fp32,
                                                        large_eps=False),
    "non-adaptive, all budgets (first seed)": protocols.masking_checks(full_curve),
}, names=["attack"])
checks[["value", "low", "high"]] = checks[["value", "low", "high"]].round(3)
checks

# %%
format_tables({f"EOT-{P.eot_iter}": ref, f"{2 * P.apgd_n_iter} iterations": more_iters,
               f"EOT-{2 * P.eot_iter}": more_draws, "transfer from its noise-off network": transfer,
               f"Square ({P.square_n_queries} queries)": square, "fp32 gradients": fp32}, "eps")

# %%
mask_text = [verdicts.masking_sentence(checks.loc[name], name) for name in checks.index.get_level_values(0).unique()]
Markdown(" ".join(mask_text))

# %% [markdown]
# ## Verdicts on Table 3
#
# The paper's claim: under APGD-CE at its budgets, the NSDE keeps some accuracy where the
# baseline drops to zero. All sentences below compare classifiers on the same images (every
# classifier right on all of them when clean), pooling every training seed.

# %%
paper_eps = [e for e in paper.TABLE3["eps"] if e in P.attack_eps]
na = compare_tables(attacked["NSDE ensemble, non-adaptive"], attacked["baseline"], "eps", seed=P.seed).loc[paper_eps]
claim3 = verdicts.claim_sentence("the NSDE keeps more accuracy under APGD-CE (the paper's non-adaptive attack)",
                                 "The NSDE ensemble", "the baseline", na, unit="budget", units="budgets")
eot_vs_base = compare_tables(attacked[eot_label], attacked["baseline"], "eps", seed=P.seed)
claim3a = verdicts.claim_sentence("the NSDE keeps more accuracy, against an attack adaptive to its noise",
                                  "The NSDE ensemble", "the baseline", eot_vs_base, unit="budget", units="budgets")
adaptive = verdicts.adaptive_sentence(compare_tables(attacked[eot_label], attacked["NSDE ensemble, non-adaptive"],
                                                     "eps", seed=P.seed, same_models=True), attack=f"EOT-{P.eot_iter}")
train_att = compare_tables(attacked["NSDE, noise off"], attacked["baseline"], "eps", seed=P.seed)
test_att = compare_tables(attacked[eot_label], attacked["NSDE, noise off"], "eps", seed=P.seed, same_models=True)
under_attack = [verdicts.noise_sources_sentence(interval_at(train_att, e), interval_at(test_att, e),
                                                interval_at(eot_vs_base, e),
                                                condition=f"under the adaptive attack at eps {e:g}")
                for e in P.adaptive_eps]
findings.record(profile, "table3", data.name, verdicts.claim_word(na["outcome"]), claim3)
findings.record(profile, "table3-adaptive", data.name, verdicts.claim_word(eot_vs_base["outcome"]),
                f"{claim3a} {adaptive}")
Markdown("\n\n".join(f"- {s}" for s in (claim3, adaptive, claim3a, *under_attack)))

# %%
print(f"attacks took {time.perf_counter() - t_attacks:.0f} s (cached results load instantly); chapter "
      f"{time.perf_counter() - t_start:.0f} s")
