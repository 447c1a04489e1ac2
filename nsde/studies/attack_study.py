"""Table 3 of Brogan et al. (arXiv 2409.01532) to the field's standard: every classifier
attacked by one battery, each image counted at the worst attack, and the verdicts.

The design, declared here before any data is seen:

* **Images** (:func:`attack_images`): the first ``attack_n_images`` of a seeded pool of test
  images that every classifier classifies correctly at every seed, when clean, so that
  robust accuracy is the share that survives; the same number of images drawn at random
  gives the raw accuracy the paper reports, beside it.
* **The battery** (:func:`battery`): on every classifier APGD-CE and APGD-DLR (AutoAttack's,
  ``apgd_n_iter`` iterations; DLR needs 3 classes or more); on the NSDE ensemble also the
  paper's non-adaptive APGD-CE (one noise draw per step), APGD-CE with EOT over single noisy
  passes, and APGD-CE and APGD-DLR on the **ensemble's own output** (its log mean softmax
  over ``eval_samples`` passes, the function that is scored) with EOT over ``eot_iter``
  fresh ensembles, and the transfer of the attack on its own noise-off network. The
  baseline and the noise-off network get the same iterations; EOT is moot for them.
* **Worst case per image** (:func:`nsde.measures.attacks.worst_case`): an image is robust
  only if it survives every attack of the battery; the worst candidate is chosen on one
  stream of scorings and reported on an independent one.
* **Primary endpoints**: ``table3``: the non-adaptive attack (the paper's protocol), NSDE
  ensemble minus baseline, averaged over the paper's budgets; ``table3-adaptive``: the
  worst case over the battery, the same difference. Seeds are paired by index.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from nsde._infra.checks import model_classes
from nsde.measures.attacks import PAPER_EPS, attack_table, run_attack, transfer_table, worst_case
from nsde.measures.evaluation import correctness_matrix, eval_subset
from nsde.report.claims import Verdict, judge
from nsde.stats.compare import endpoint_tests, pool_seeds
from nsde.studies.protocols import BASELINE, ENSEMBLE, NOISE_OFF, Classifier, clean_correct_subset

__all__ = ["AttackSpec", "battery", "attack_images", "AttackStudy", "attack_classifier", "attack_study"]


@dataclass(frozen=True)
class AttackSpec:
    """One attack of the battery, as :func:`nsde.measures.attacks.run_attack` runs it.

    Attributes:
        name: its label on the pages.
        attack: ``"apgd-ce"`` or ``"apgd-dlr"``.
        target: ``"passes"`` (single noisy passes) or ``"ensemble"`` (the scored ensemble).
        eot_iter: fresh draws averaged per gradient step.
    """

    name: str
    attack: str
    target: str = "passes"
    eot_iter: int = 1


def battery(classifier: Classifier, *, eot_iter: int, n_classes: int) -> list[AttackSpec]:
    """The attacks run on ``classifier`` (module docstring)."""
    losses = ["apgd-ce"] + (["apgd-dlr"] if n_classes >= 3 else [])
    if classifier.noise == "off":
        return [AttackSpec(a.upper(), a) for a in losses]
    specs = [AttackSpec("APGD-CE, non-adaptive", "apgd-ce"),
             AttackSpec(f"APGD-CE, EOT-{eot_iter} on single passes", "apgd-ce", "passes", eot_iter)]
    specs += [AttackSpec(f"{a.upper()}, EOT-{eot_iter} on the ensemble", a, "ensemble", eot_iter) for a in losses]
    return specs


def attack_images(models: Mapping[str, Classifier], splits, *, pool: int | None, n: int | None, draws: int,
                  seed: int = 0):
    """``(x_attacked, y_attacked, x_raw, y_raw, pool size, eligible)``: the images every
    classifier gets right at every seed and scoring (the first ``n``), and as many random
    test images for the paper's raw accuracy."""
    x_pool, y_pool = eval_subset(splits.test.x, splits.test.y, pool, seed=seed)
    clean = {label: correctness_matrix(c.runs, x_pool, y_pool, draws=draws, seed=seed, **c.eval)
             for label, c in models.items()}
    eligible = clean_correct_subset(clean, None)
    keep = eligible[:n] if n is not None else eligible
    return x_pool[keep], y_pool[keep], x_pool[:len(keep)], y_pool[:len(keep)], len(x_pool), len(eligible)


@dataclass
class AttackStudy:
    """The results of :func:`attack_study`.

    Attributes:
        eps: the budgets attacked.
        tables: ``{classifier: {attack name: pooled table}}`` on the attacked images, with
            ``"worst case"`` the battery's per-image minimum.
        raw: ``{classifier: pooled table}`` of the paper's non-adaptive attack on random
            images (raw accuracy), first seed.
        verdicts: ``{"table3", "table3-adaptive": Verdict}``.
        n_images: attacked images; pool, eligible: the pool and how many qualified.
        sources: per classifier and budget, how often each attack gave the worst case.
    """

    eps: list[float]
    tables: dict[str, dict[str, pd.DataFrame]]
    raw: dict[str, pd.DataFrame]
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    n_images: int = 0
    pool: int = 0
    eligible: int = 0
    sources: dict[str, pd.DataFrame] = field(default_factory=dict)


def attack_classifier(c: Classifier, x, y, eps: Sequence[float], *, n_iter: int, eot_iter: int, draws: int,
                      seed: int = 0, transfer_from: Sequence[dict] | None = None) -> tuple[dict, list[dict]]:
    """Run the battery on every seed of ``c``: ``({attack: pooled table}, [worst case per seed])``.

    ``transfer_from`` holds, per seed, the APGD-CE results of the NSDE's own noise-off
    network (their adversarial images join the ensemble's battery).
    """
    specs = battery(c, eot_iter=eot_iter, n_classes=model_classes(c.runs[0].model) or 3)
    per_attack: dict[str, list[dict]] = {s.name: [] for s in specs}
    worst = []
    for i, run in enumerate(c.runs):
        results = {}
        for s in specs:
            results[s.name] = run_attack(run, x, y, eps, attack=s.attack, target=s.target, eot_iter=s.eot_iter,
                                         n_iter=n_iter, draws=draws, seed=seed, **c.eval)
            per_attack[s.name].append(results[s.name])
        if transfer_from is not None:
            t = transfer_table(transfer_from[i], run, y, draws=draws, seed=seed, **c.eval)
            results["transfer from its noise-off network"] = {
                "eps": list(eps), "adv": transfer_from[i]["adv"], "clean": results[specs[0].name]["clean"],
                "correct": {e: np.asarray(t.attrs["correct"][e]) for e in eps}}
            per_attack.setdefault("transfer from its noise-off network", []).append(
                results["transfer from its noise-off network"])
        worst.append(worst_case(run, results, x, y, draws=draws, seed=seed, **c.eval) | {"results": results})
    tables = {name: pool_seeds([attack_table(r, x.shape) for r in rs], "eps", seed=seed) for name, rs in per_attack.items()}
    tables["worst case"] = pool_seeds([attack_table(w, x.shape) for w in worst], "eps", seed=seed)
    return tables, worst


def _sources(worst: list[dict]) -> pd.DataFrame:
    rows = []
    for w in worst:
        for eps, names in w["source"].items():
            for name in names:
                rows.append({"eps": eps, "attack": name})
    return pd.crosstab(pd.DataFrame(rows)["attack"], pd.DataFrame(rows)["eps"]) if rows else pd.DataFrame()


def attack_study(models: Mapping[str, Classifier], splits, *, eps: Sequence[float], pool: int | None,
                 n_images: int | None, n_iter: int, eot_iter: int, draws: int, seed: int = 0) -> AttackStudy:
    """Attack the three classifiers with the battery and judge the paper's Table 3 claims.

    Args:
        models: the three classifiers (:func:`nsde.studies.protocols.classifiers`).
        splits: the data.
        eps: the L2 budgets (the paper's four, in the book).
        pool, n_images: candidate test images and how many of the eligible ones to attack.
        n_iter, eot_iter: APGD iterations and EOT draws.
        draws: fresh scorings per image of a random classifier.
        seed: seed of the images, the attacks and the scorings.
    """
    eps = [float(e) for e in eps]
    x, y, x_raw, y_raw, n_pool, n_eligible = attack_images(models, splits, pool=pool, n=n_images, draws=draws, seed=seed)
    study = AttackStudy(eps, {}, {}, n_images=len(y), pool=n_pool, eligible=n_eligible)
    if len(y) < 2:
        return study
    off_tables, off_worst = attack_classifier(models[NOISE_OFF], x, y, eps, n_iter=n_iter, eot_iter=eot_iter,
                                              draws=draws, seed=seed)
    transfer = [w["results"]["APGD-CE"] for w in off_worst]
    for label, c in models.items():
        if label == NOISE_OFF:
            study.tables[label], worst = off_tables, off_worst
        else:
            study.tables[label], worst = attack_classifier(c, x, y, eps, n_iter=n_iter, eot_iter=eot_iter, draws=draws,
                                                           seed=seed, transfer_from=transfer if c.noise == "on" else None)
        study.sources[label] = _sources(worst)
    for label in (BASELINE, ENSEMBLE):
        c = models[label]
        study.raw[label] = attack_table(run_attack(c.runs[0], x_raw, y_raw, eps, attack="apgd-ce", n_iter=n_iter,
                                                   draws=draws, seed=seed, **c.eval), x_raw.shape)
    paper = [e for e in PAPER_EPS if e in eps] or eps
    na = study.tables[ENSEMBLE]["APGD-CE, non-adaptive"]
    primary, per_eps = endpoint_tests(na, study.tables[BASELINE]["APGD-CE"], "eps", paper)
    study.verdicts["table3"] = judge("table3", primary, settings=per_eps, included=paper, what="budget")
    primary, per_eps = endpoint_tests(study.tables[ENSEMBLE]["worst case"], study.tables[BASELINE]["worst case"],
                                      "eps", paper)
    study.verdicts["table3-adaptive"] = judge("table3-adaptive", primary, settings=per_eps, included=paper,
                                              what="budget")
    return study
