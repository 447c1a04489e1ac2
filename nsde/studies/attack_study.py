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
from nsde.report.verdicts import english_list
from nsde.stats.compare import endpoint_tests, pool_seeds, scores
from nsde.stats.inference import seed_test
from nsde.studies.protocols import BASELINE, ENSEMBLE, NOISE_OFF, Classifier, clean_correct_subset

__all__ = ["AttackSpec", "battery", "attack_images", "AttackStudy", "attack_classifier", "attack_study", "MASKING_MARGIN",
           "ZERO_TOLERANCE", "masking_checks", "convergence", "convergence_study", "convergence_sentence",
           "masking_study", "noise_sources", "rescoring_sentence"]


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
    x: object = None
    y: object = None
    settings: dict = field(default_factory=dict)


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
    study = AttackStudy(eps, {}, {}, n_images=len(y), pool=n_pool, eligible=n_eligible, x=x, y=y,
                        settings=dict(n_iter=n_iter, eot_iter=eot_iter, draws=draws, seed=seed))
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


#: The non-inferiority margin of every masking check: an attack within this many points of
#: robust accuracy of the stronger one counts as just as strong.
MASKING_MARGIN = 0.02
#: Robust accuracy at most this at a large budget counts as "reaches 0".
ZERO_TOLERANCE = 0.05


def _noninferior(a: pd.DataFrame, b: pd.DataFrame, label: str, margin: float, eps: Sequence[float]) -> list[dict]:
    """``acc(a) - acc(b)`` at each budget, judged against the margin with the one-sided 95%
    bounds (the two-sided 90% interval): "passed" when the gap is shown below the margin,
    "failed" when it is shown above it, "cannot tell" otherwise."""
    rows = []
    for e in eps:
        t = seed_test(scores(a, e), scores(b, e), level=0.90)
        result = "passed" if t.high < margin else "failed" if t.low > margin else "cannot tell"
        rows.append({"check": label, "eps": e, "gap": t.estimate, "low": t.low, "high": t.high, "result": result})
    return rows


def masking_checks(study: AttackStudy, *, extra: Mapping[str, pd.DataFrame] | None = None,
                   large: pd.DataFrame | None = None, margin: float = MASKING_MARGIN) -> pd.DataFrame:
    """The gradient-masking checks of Athalye et al. (2018) as non-inferiority tests.

    For every classifier, each attack of the battery against the battery's worst case (a
    weaker attack, a masked gradient, is flagged: its robust accuracy is shown above the
    worst case by more than ``margin``), and the worst case against itself at the next
    larger budget (accuracy must not rise with the budget); for the tables of ``extra``
    (more iterations, more EOT draws, float32 gradients, Square ...: ``{label: table}`` on
    the ensemble's first seed, on the same images) the profile's ensemble attack against
    them; ``large``: the strongest attack at a large budget, where robust accuracy must be
    ``~0`` (its one-sided 95% upper bound at most :data:`ZERO_TOLERANCE`).

    Returns:
        DataFrame ``classifier, check, eps, gap, low, high, result`` (fractions; ``low,
        high`` the 90% interval of the gap; ``result`` "passed", "failed" or "cannot tell").
    """
    rows = []
    for label, tables in study.tables.items():
        worst = tables["worst case"]
        for name, t in tables.items():
            if name != "worst case":
                rows += [{"classifier": label, **r} for r in
                         _noninferior(t, worst, f"{name} as strong as the battery", margin, study.eps)]
        for lo, hi in zip(study.eps, study.eps[1:]):
            t = seed_test(scores(worst, hi), scores(worst, lo), level=0.90)
            rows.append({"classifier": label, "check": f"worst case does not rise from eps {lo:g}", "eps": hi,
                         "gap": t.estimate, "low": t.low, "high": t.high,
                         "result": "passed" if t.high < margin else "failed" if t.low > margin else "cannot tell"})
    for name, t in (extra or {}).items():
        ref = t.attrs.get("reference")
        if ref is not None:
            rows += [{"classifier": ENSEMBLE, **r} for r in
                     _noninferior(ref, t, f"the profile's attack as strong as {name}", margin,
                                  [e for e in study.eps if e in set(t["eps"])])]
    if large is not None:
        for e in large["eps"]:
            s = scores(large, e)
            t = seed_test(s, level=0.90)
            rows.append({"classifier": ENSEMBLE, "check": "robust accuracy at a large budget is ~0", "eps": e,
                         "gap": t.estimate, "low": t.low, "high": t.high,
                         "result": "passed" if t.high <= ZERO_TOLERANCE else "failed" if t.low > ZERO_TOLERANCE
                         else "cannot tell"})
    return pd.DataFrame(rows, columns=["classifier", "check", "eps", "gap", "low", "high", "result"])


def convergence(run, x, y, eps: float, *, n_iters: Sequence[int], eot_iters: Sequence[int], n_iter: int,
                eot_iter: int, samples: int, draws: int, seed: int = 0, attack: str = "apgd-ce") -> pd.DataFrame:
    """Robust accuracy of the ensemble attack against its iterations and its EOT draws, one
    seed, one budget: ``knob, value, accuracy, low, high, profile`` (the profile's own
    budget marked); ``df.attrs["tables"]`` holds each run's :func:`attack_table` by
    ``(knob, value)``."""
    rows, tables = [], {}
    for knob, values in (("iterations", n_iters), ("EOT draws", eot_iters)):
        for v in sorted({int(v) for v in values} | {n_iter if knob == "iterations" else eot_iter}):
            kw = dict(n_iter=v, eot_iter=eot_iter) if knob == "iterations" else dict(n_iter=n_iter, eot_iter=v)
            r = run_attack(run, x, y, [eps], attack=attack, target="ensemble", noise="on", samples=samples,
                           draws=draws, seed=seed, **kw)
            t = attack_table(r, x.shape)
            tables[(knob, v)] = t
            rows.append({"knob": knob, "value": v, "accuracy": float(t["accuracy"].iloc[0]),
                         "low": float(t["low"].iloc[0]), "high": float(t["high"].iloc[0]),
                         "profile": v == (n_iter if knob == "iterations" else eot_iter)})
    df = pd.DataFrame(rows)
    df.attrs["tables"] = tables
    return df


def _check_images(study: AttackStudy, profile):
    n = len(study.y) if profile.check_n_images is None else min(profile.check_n_images, len(study.y))
    return study.x[:n], study.y[:n]


def convergence_study(models: Mapping[str, Classifier], study: AttackStudy, profile, *, seed: int = 0) -> pd.DataFrame:
    """:func:`convergence` of the ensemble's first seed on the first ``check_n_images``
    attacked images at the largest budget (the profile's ``convergence_n_iter`` and
    ``convergence_eot_iter``)."""
    c = models[ENSEMBLE]
    x, y = _check_images(study, profile)
    return convergence(c.runs[0], x, y, max(study.eps), n_iters=profile.convergence_n_iter,
                       eot_iters=profile.convergence_eot_iter, n_iter=profile.apgd_n_iter, eot_iter=profile.eot_iter,
                       samples=c.samples, draws=profile.draws, seed=seed)


def _gap(a: pd.DataFrame, b: pd.DataFrame, eps: float, margin: float):
    t = seed_test(scores(a, eps), scores(b, eps), level=0.90)
    return t, ("passed" if t.high < margin else "failed" if t.low > margin else "cannot tell")


def convergence_sentence(conv: pd.DataFrame, margin: float = MASKING_MARGIN) -> str:
    """Whether the profile's attack budget is on the flat part of the curves: its robust
    accuracy against the largest budget tried of each knob, with the non-inferiority rule
    of :func:`masking_checks`."""
    tables = conv.attrs["tables"]
    parts = []
    for knob in ("iterations", "EOT draws"):
        rows = conv[conv["knob"] == knob]
        ref, top = rows[rows["profile"]].iloc[0], rows.iloc[-1]
        if top["value"] == ref["value"]:
            parts.append(f"the profile already uses the most {knob} tried ({int(ref['value'])})")
            continue
        a, b = tables[(knob, int(ref["value"]))], tables[(knob, int(top["value"]))]
        t, result = _gap(a, b, float(a["eps"].iloc[0]), margin)
        state = {"passed": "within", "failed": "beyond", "cannot tell": "not shown to be within"}[result]
        parts.append(f"with {int(ref['value'])} {knob} (the profile's) robust accuracy is {100 * ref['accuracy']:.1f}% "
                     f"against {100 * top['accuracy']:.1f}% with {int(top['value'])}, a gap of "
                     f"{100 * t.estimate:+.1f} points [{100 * t.low:+.1f}, {100 * t.high:+.1f}] (90%), {state} the "
                     f"{100 * margin:g}-point margin")
    return "Convergence: " + "; ".join(parts) + "."


def masking_study(models: Mapping[str, Classifier], study: AttackStudy, profile, *, seed: int = 0,
                  conv: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every gradient-masking check of the chapter (:func:`masking_checks`): the battery
    against its worst case, and on the ensemble's first seed, on the check images at the
    largest budget, the profile's ensemble attack against more iterations and more EOT
    draws (the largest of :func:`convergence_study`), float32 gradients and the Square
    attack; robust accuracy at the ``check_eps`` budgets."""
    c = models[ENSEMBLE]
    x, y = _check_images(study, profile)
    e = max(study.eps)
    conv = conv if conv is not None else convergence_study(models, study, profile, seed=seed)
    tables = conv.attrs["tables"]
    ref = tables[("iterations", int(profile.apgd_n_iter))]
    common = dict(noise="on", samples=c.samples, draws=profile.draws, seed=seed)
    extra = {f"{int(max(profile.convergence_n_iter))} iterations": tables[("iterations", int(max(profile.convergence_n_iter)))],
             f"EOT-{int(max(profile.convergence_eot_iter))}": tables[("EOT draws", int(max(profile.convergence_eot_iter)))],
             "float32 gradients": attack_table(run_attack(c.runs[0], x, y, [e], attack="apgd-ce", target="ensemble",
                                                          n_iter=profile.apgd_n_iter, eot_iter=profile.eot_iter,
                                                          precision="fp32", **common), x.shape),
             "Square (gradient-free)": attack_table(run_attack(c.runs[0], x, y, [e], attack="square",
                                                               n_queries=profile.square_n_queries, **common), x.shape)}
    for t in extra.values():
        t.attrs["reference"] = ref
    large = attack_table(run_attack(c.runs[0], x, y, list(profile.check_eps), attack="apgd-ce", target="ensemble",
                                    n_iter=profile.apgd_n_iter, eot_iter=profile.eot_iter, **common), x.shape)
    return masking_checks(study, extra=extra, large=large)


def noise_sources(study: AttackStudy) -> dict[str, Verdict]:
    """Under the battery's worst case: training with noise (NSDE noise off minus baseline)
    and test-time noise (ensemble minus its noise-off network), over the paper's budgets."""
    out = {}
    if not study.tables:
        return out
    paper = [e for e in PAPER_EPS if e in study.eps] or study.eps
    for key, a, b in (("noise-training-attack", NOISE_OFF, BASELINE), ("noise-test-time-attack", ENSEMBLE, NOISE_OFF)):
        primary, per_eps = endpoint_tests(study.tables[a]["worst case"], study.tables[b]["worst case"], "eps", paper)
        out[key] = judge(key, primary, settings=per_eps, included=paper, what="budget")
    return out


def rescoring_sentence(tables: Mapping[str, Mapping[str, pd.DataFrame]]) -> str:
    """Why a worst case can lie above a single attack of its battery, with the largest such
    excess computed.

    A randomised classifier's adversarial images are scored by fresh noisy ensembles, and
    the worst case is reported on a scoring stream independent of the one that chose it, so
    it and a single attack's figure are two noisy scorings of nearly the same images.

    Args:
        tables: per classifier, ``{attack: pooled table}`` with a ``"worst case"`` entry
            (:attr:`AttackStudy.tables`); accuracies as fractions.
    """
    above = []
    for label, attacks in tables.items():
        worst = attacks["worst case"].set_index("eps")["accuracy"]
        for name, t in attacks.items():
            if name == "worst case":
                continue
            single = t.set_index("eps")["accuracy"]
            for e in worst.index.intersection(single.index):
                if worst[e] > single[e] + 1e-12:
                    above.append((worst[e] - single[e], label, name, e, worst[e], single[e]))
    if not above:
        return "No worst case lies above a single attack of its battery."
    gap, label, name, e, w, a = max(above)
    who = english_list(sorted({x[1] for x in above}))
    return (f"For {who}, the worst case lies above a single attack's figure at {len(above)} (attack, budget) "
            f"pair{'s' if len(above) != 1 else ''}; the largest excess is {100 * gap:.1f} points ({label}, eps "
            f"{e:g}: {100 * w:.1f}% against {100 * a:.1f}% for {name}). This is scoring noise, not a weaker worst "
            "case: attacked images of a randomised classifier are scored by fresh noisy ensembles, and the worst "
            "case is reported on a scoring stream independent of the one that chose it, so the two figures are "
            "two noisy scorings of nearly the same images.")
