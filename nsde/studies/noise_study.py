"""Table 2 of Brogan et al. (arXiv 2409.01532) as a test: accuracy under additive random noise,
the three classifiers of :func:`nsde.studies.protocols.classifiers`, every training seed,
and the verdicts on the paper's claim and on where the noise helps.

The design, declared here before any data is seen:

* **Images.** The test split (``n_images`` of it, a seeded subset, or all of it), every
  classifier and seed on the same noisy images (:func:`nsde.measures.robustness.noisy_inputs`).
* **Which intensities count** (:func:`informative_intensities`). An intensity enters the
  primary endpoint only where every compared classifier beats chance on the *validation*
  split: at every seed, an exact one-sided binomial test of its accuracy against the share
  of the most frequent class rejects at 1% (:func:`nsde.stats.compare.informative_settings`).
  The test split plays no part in the choice; the other intensities are shown and said to
  be uninformative.
* **Primary endpoint** (claim ``table2``): the NSDE ensemble's accuracy minus the
  baseline's, averaged over the informative intensities of the paper's eight, seed ``i``
  paired with seed ``i`` (:func:`nsde.stats.compare.endpoint_tests`); the per-intensity
  differences are secondary (Holm). The verdict is :func:`nsde.report.claims.judge`'s.
* **Where the noise helps**: the same endpoint for the NSDE with its noise off minus the
  baseline (``noise-training``: training with noise) and for the ensemble minus its own
  noise-off network (``noise-test-time``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from nsde.measures.evaluation import eval_subset
from nsde.measures.robustness import PAPER_INTENSITIES, noise_seeds
from nsde.report.claims import Verdict, judge, settings_table
from nsde.report.verdicts import comparison_sentence
from nsde.stats.compare import endpoint_tests, informative_settings
from nsde.studies.protocols import BASELINE, ENSEMBLE, NOISE_OFF, Classifier

__all__ = ["NoiseStudy", "chance_rate", "informative_intensities", "noise_curves", "noise_study", "clean_verdict", "ShapedStudy",
           "shaped_study"]


def chance_rate(y) -> float:
    """The accuracy of always predicting the most frequent class of labels ``y``."""
    y = np.asarray(y).ravel()
    if y.size == 0:
        raise ValueError("chance_rate needs at least one label")
    return float(np.bincount(y.astype(int)).max() / y.size)


def noise_curves(models: Mapping[str, Classifier], x, y, intensities: Sequence[float], *,
                 input_noise: str = "white", seed: int = 0) -> dict[str, pd.DataFrame]:
    """Accuracy against noise intensity for each classifier, pooled over its seeds
    (:func:`nsde.measures.robustness.noise_seeds`; cached per model)."""
    return {label: noise_seeds(c.runs, x, y, list(intensities), input_noise=input_noise, seed=seed, **c.eval)
            for label, c in models.items()}


def informative_intensities(validation: Mapping[str, pd.DataFrame], chance: float, *,
                            alpha: float = 0.01) -> list[float]:
    """The intensities at which every classifier's validation curve beats chance (module docstring)."""
    kept = None
    for table in validation.values():
        ok = set(informative_settings(table, "intensity", chance, alpha=alpha))
        kept = ok if kept is None else kept & ok
    first = next(iter(validation.values()))
    return [float(v) for v in first["intensity"] if v in (kept or set())]


@dataclass
class NoiseStudy:
    """The results of :func:`noise_study`.

    Attributes:
        test: ``{classifier: pooled test curve}`` at the intensities studied.
        validation: the same on the validation split (the chance rule's evidence).
        chance: the chance rate (the share of the most frequent validation class).
        informative: the intensities the primary endpoint averages over.
        verdicts: ``{"table2", "noise-training", "noise-test-time": Verdict}``.
        n_images: test images per curve.
    """

    test: dict[str, pd.DataFrame]
    validation: dict[str, pd.DataFrame]
    chance: float
    informative: list[float]
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    n_images: int = 0

    def at_chance(self) -> list[float]:
        """The intensities left out of the endpoint (some classifier at chance on validation)."""
        return [float(v) for v in next(iter(self.test.values()))["intensity"] if v not in self.informative]


def noise_study(models: Mapping[str, Classifier], splits, *, n_images: int | None = None,
                intensities: Sequence[float] = PAPER_INTENSITIES, input_noise: str = "white",
                seed: int = 0) -> NoiseStudy:
    """Score the classifiers under random noise and judge the paper's Table 2 claim.

    Args:
        models: the three classifiers (labels :data:`BASELINE`, :data:`NOISE_OFF`,
            :data:`ENSEMBLE` of :mod:`nsde.studies.protocols`).
        splits: the data (``val`` and ``test`` splits).
        n_images: test (and validation) images scored, a seeded subset; ``None``: all.
        intensities: noise standard deviations (default: the paper's eight).
        input_noise: the shape of the added noise (``"white"``: the paper's Gaussian noise).
        seed: seed of the subsets and of the noise.

    Returns:
        :class:`NoiseStudy`.
    """
    for label in (BASELINE, NOISE_OFF, ENSEMBLE):
        if label not in models:
            raise ValueError(f"noise_study needs the classifiers {BASELINE!r}, {NOISE_OFF!r} and {ENSEMBLE!r}, but "
                             f"found {list(models)}")
    x, y = eval_subset(splits.test.x, splits.test.y, n_images, seed=seed)
    xv, yv = eval_subset(splits.val.x, splits.val.y, n_images, seed=seed)
    levels = [float(i) for i in intensities]
    test = noise_curves(models, x, y, levels, input_noise=input_noise, seed=seed)
    compared = {k: models[k] for k in (BASELINE, ENSEMBLE)}
    validation = noise_curves(compared, xv, yv, levels, input_noise=input_noise, seed=seed + 1)
    chance = chance_rate(yv.numpy())
    informative = informative_intensities(validation, chance)
    study = NoiseStudy(test, validation, chance, informative, n_images=len(y))
    if not informative:
        return study
    for key, a, b in (("table2", ENSEMBLE, BASELINE), ("noise-training", NOISE_OFF, BASELINE),
                      ("noise-test-time", ENSEMBLE, NOISE_OFF)):
        primary, per_level = endpoint_tests(test[a], test[b], "intensity", informative)
        study.verdicts[key] = judge(key, primary, settings=per_level, included=informative,
                                    excluded=study.at_chance(), what="intensity")
    return study


def clean_verdict(models: Mapping[str, Classifier], splits, *, seed: int = 0) -> tuple[Verdict, dict]:
    """Table 1 as a test: the NSDE ensemble's clean test accuracy minus the baseline's, seeds
    paired by index, on the whole test split (the noise curve at intensity 0).

    Returns:
        ``(verdict on claim "table1", {classifier: (seeds, N) test correctness})``.
    """
    x, y = splits.test.x, splits.test.y
    curves = noise_curves({k: models[k] for k in (BASELINE, ENSEMBLE)}, x, y, [0.0], seed=seed)
    primary, _ = endpoint_tests(curves[ENSEMBLE], curves[BASELINE], "intensity", [0.0])
    correct = {k: np.atleast_2d(np.asarray(t.attrs["correct"][0.0])) for k, t in curves.items()}
    return judge("table1", primary), correct


@dataclass
class ShapedStudy:
    """Accuracy under shaped input noise (:func:`shaped_study`).

    Attributes:
        curves: ``{shape: {classifier: pooled curve}}``.
        settings: the Holm-adjusted ensemble-minus-baseline tests over every (shape,
            intensity) pair (:func:`nsde.report.claims.settings_table`).
    """

    curves: dict[str, dict[str, pd.DataFrame]]
    settings: pd.DataFrame

    def sentence(self) -> str:
        """Per shape, where the ensemble is above or below the baseline (Holm-adjusted)."""
        lines = []
        for shape in self.curves:
            rows = self.settings[[k[0] == shape for k in self.settings.index]]
            rows = rows.set_axis([k[1] for k in rows.index])
            lines.append(f"- **{shape} noise.** " + comparison_sentence("The NSDE ensemble", "the baseline", rows))
        return "\n".join(lines)


def shaped_study(models: Mapping[str, Classifier], splits, shapes: Sequence[str], intensities: Sequence[float], *,
                 n_images: int | None = None, seed: int = 0) -> ShapedStudy:
    """The three classifiers under each shape of input noise; the ensemble-minus-baseline
    difference at every (shape, intensity), Holm-adjusted over all of them (secondary)."""
    x, y = eval_subset(splits.test.x, splits.test.y, n_images, seed=seed)
    curves = {s: noise_curves(models, x, y, intensities, input_noise=s, seed=seed) for s in shapes}
    tests = {}
    for s, tables in curves.items():
        _, per_level = endpoint_tests(tables[ENSEMBLE], tables[BASELINE], "intensity", list(intensities))
        tests.update({(s, i): t for i, t in per_level.items()})
    return ShapedStudy(curves, settings_table(tests))
