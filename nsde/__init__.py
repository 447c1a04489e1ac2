"""nsde: Neural SDE spectrogram classifiers, reproduced.

The reproducible companion of Brogan et al., "Improving Robustness of Spectrogram
Classifiers with Neural Stochastic Differential Equations" (IEEE MLSP 2024,
arXiv 2409.01532). Submodules, one per concern:

- :mod:`nsde.data`: data sets (``load_dataset``: simulator, PLAID, your recordings), spectrograms, splits
- :mod:`nsde.noise`: spatial noise shapers (white, Brownian sheet, power law) and envelopes
- :mod:`nsde.models`: ConvNeXt / ResNet baselines and their Neural-SDE variants
- :mod:`nsde.training`: one training loop (one process or torchrun), cached trained models
- :mod:`nsde.evaluation`: predictions, expected per-image correctness, Table 1
- :mod:`nsde.robustness`: random-noise sweeps (Table 2)
- :mod:`nsde.attacks`: APGD-CE / EOT, AutoAttack-rand, Square, gradient-masking checks (Table 3)
- :mod:`nsde.compare`, :mod:`nsde.verdicts`: paired comparisons and the sentences they support
- :mod:`nsde.attribution`: Integrated Gradients, NoiseTunnel, saliency, stability
- :mod:`nsde.confidence`: attribution-based confidence (ABC) and its reliability
- :mod:`nsde.spectral`: I-ASIDE spectral importance decomposition
- :mod:`nsde.shaping`: attribution-shaped noise (Jha et al., AAAI 2022)
- :mod:`nsde.data_size`: the less-training-data study
- :mod:`nsde.stats`, :mod:`nsde.cache`, :mod:`nsde.runtime`, :mod:`nsde.profiles`, :mod:`nsde.distributed`

The most used names are re-exported here and imported on first use, so ``import nsde``
stays fast.
"""
from __future__ import annotations

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    # data
    "load_dataset": "data",
    "DataConfig": "data",
    "load_splits": "data",
    # noise and models
    "make_shaper": "noise",
    "build_model": "models",
    "noise_mode": "models",
    # training and evaluation
    "TrainConfig": "training",
    "ModelSpec": "training",
    "train": "training",
    "train_or_load": "training",
    "train_zoo": "training",
    "predict": "evaluation",
    "correctness": "evaluation",
    # experiments
    "noise_accuracy": "robustness",
    "run_attack": "attacks",
    "attribute": "attribution",
    # shared
    "get_profile": "profiles",
    "configure": "runtime",
    "default_device": "runtime",
    "seed_everything": "runtime",
    "wilson_interval": "stats",
    "bootstrap_interval": "stats",
}

_SUBMODULES = {"data", "noise", "models", "training", "evaluation", "robustness", "attacks", "compare", "verdicts",
               "attribution", "confidence", "spectral", "shaping", "data_size", "stats", "cache", "runtime", "profiles",
               "runbook", "paper", "distributed", "findings"}

__all__ = sorted(_EXPORTS) + sorted(_SUBMODULES)


def __getattr__(name: str):
    if name in _SUBMODULES:
        return import_module(f"{__name__}.{name}")
    if name in _EXPORTS:
        value = getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nsde' has no attribute {name!r}")


def __dir__():
    return __all__
