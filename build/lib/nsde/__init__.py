"""nsde: Neural SDE spectrogram classifiers, reproduced.

The reproducible companion of Brogan et al., "Improving Robustness of Spectrogram
Classifiers with Neural Stochastic Differential Equations" (IEEE MLSP 2024,
arXiv 2409.01532). The package is layered; a module imports only from the layers below
it (``tests/test_layers.py`` checks every import):

=====================  ===============================================================
``nsde.runbook``       execute the chapters and build the book
``nsde.studies``       the book's experiments; the only layer that reads a profile
``nsde.report``        the paper's numbers, claims, verdicts, calibration, figures
``nsde.measures``      accuracy, noise, attacks, attributions, ABC, I-ASIDE
``nsde.core``          noise shapers, models, predictions, the training loop
``nsde.data``          simulator, spectrograms, loaders, leak-free splits
``nsde.stats``         intervals, paired comparisons, seed-level tests, power
``nsde._infra``        run-time policy, cache, input checks, distributed helpers
=====================  ===============================================================

The names below are the public API, imported on first use so that ``import nsde`` stays
fast; everything else is reached through its subpackage.
"""
from __future__ import annotations

from importlib import import_module

__version__ = "0.2.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    # data
    "load_dataset": "nsde.data",
    "DataConfig": "nsde.data",
    "load_splits": "nsde.data",
    # the method
    "make_shaper": "nsde.core.noise",
    "build_model": "nsde.core.models",
    "noise_mode": "nsde.core.models",
    "ModelSpec": "nsde.core.training",
    "TrainConfig": "nsde.core.training",
    "train": "nsde.core.training",
    "train_or_load": "nsde.core.training",
    "predict": "nsde.core.predict",
    # measures
    "correctness": "nsde.measures.evaluation",
    "noise_accuracy": "nsde.measures.robustness",
    "run_attack": "nsde.measures.attacks",
    "attribute": "nsde.measures.attribution",
    # studies
    "get_profile": "nsde.studies.profiles",
    "train_zoo": "nsde.studies.zoo",
    # infrastructure
    "configure": "nsde._infra.runtime",
    "default_device": "nsde._infra.runtime",
    "seed_everything": "nsde._infra.runtime",
    # statistics
    "wilson_interval": "nsde.stats.intervals",
    "bootstrap_interval": "nsde.stats.intervals",
}

_SUBPACKAGES = ("data", "core", "measures", "stats", "report", "studies", "runbook")

__all__ = sorted(_EXPORTS) + list(_SUBPACKAGES)


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return import_module(f"{__name__}.{name}")
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nsde' has no attribute {name!r}")


def __dir__():
    return __all__
