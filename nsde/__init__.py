"""nsde: Neural SDE spectrogram classifiers, reproduced.

The reproducible companion of Brogan et al., "Improving Robustness of Spectrogram
Classifiers with Neural Stochastic Differential Equations" (IEEE MLSP 2024,
arXiv 2409.01532). Submodules, one per concern:

- :mod:`nsde.data`: harmonic-signal simulator, STFT spectrograms, splits, loaders
- :mod:`nsde.noise`: spatial noise shapers (white, Brownian sheet, power law)
- :mod:`nsde.models`: ConvNeXt / ResNet baselines and their Neural-SDE variants
- :mod:`nsde.training`: one training loop, cached trained models
- :mod:`nsde.robustness`: random-noise sweeps and APGD-CE / EOT attacks
- :mod:`nsde.attribution`: Integrated Gradients, NoiseTunnel, saliency, stability
- :mod:`nsde.confidence`: attribution-based confidence (ABC) and its reliability
- :mod:`nsde.spectral`: I-ASIDE spectral importance decomposition
- :mod:`nsde.stats`, :mod:`nsde.cache`, :mod:`nsde.runtime`, :mod:`nsde.profiles`

The most used names are re-exported here and imported on first use, so ``import nsde``
stays fast.
"""
from __future__ import annotations

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    # data
    "DataConfig": "data",
    "load_splits": "data",
    # noise and models
    "make_shaper": "noise",
    "build_model": "models",
    "noise_mode": "models",
    # training
    "TrainConfig": "training",
    "ModelSpec": "training",
    "train": "training",
    "train_or_load": "training",
    "train_zoo": "training",
    "train_fraction_zoo": "training",
    "predict": "training",
    # experiments
    "noise_accuracy": "robustness",
    "attribute": "attribution",
    # shared
    "default_device": "runtime",
    "seed_everything": "runtime",
    "wilson_interval": "stats",
    "bootstrap_interval": "stats",
}

_SUBMODULES = {"data", "noise", "models", "training", "robustness", "attribution", "confidence",
               "spectral", "stats", "cache", "runtime", "profiles", "runbook", "paper"}

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
