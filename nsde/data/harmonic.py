"""The simulated harmonic-signals data set: its configuration, generation and cache.

Reproduces the shape of the NSDE paper's dataset (arXiv 2409.01532, Sec. 4.1): 16 classes
x 625 spectrograms = 10,000, split at random 70/15/15 (stratified per class here) into
train / validation / test. Each sample is one recording window of one class's injected
signal as seen at ONE of the six sensor locations; the location is assigned per sample,
balanced within each class (sample ``j`` of class ``c`` is recorded at location
``(j + c) mod 6``), so every location appears ~equally often in every class.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor

from nsde._infra.cache import artifact_dir
from nsde._infra.runtime import progress
from nsde.data.simulator import CLASS_NAMES, LOCATION_NAMES, SimulatorConfig, simulate
from nsde.data.spectrogram import STFTConfig, check_image_size, spectrogram
from nsde.data.splits import (SignalDataset, Splits, load_saved_splits, make_splits, min_class_size, save_splits,
                              split_counts)

__all__ = ["DataConfig", "dataset_layout", "generate_dataset", "load_splits"]

DATA_VERSION = 5  # bump when the generator or the split changes, so stale caches are not reused
CHUNK = 256  # samples per vectorised chunk (results do not depend on it)


@dataclass(frozen=True)
class DataConfig:
    """Everything that determines the dataset; its hash keys the cache.

    Attributes:
        n_per_class: samples per class (paper: 625, i.e. 10,000 in all).
        image_size: spectrogram side in pixels (64 default, 224 paper scale).
        seed: seed of the simulation and of the split.
        split: train / validation / test fractions (paper: 70/15/15).
        simulator: the simulated experiment (sample rate, SNR per location, ...).
        stft: the STFT and image parameters.
    """

    n_per_class: int = 625
    image_size: int = 64
    seed: int = 0
    split: tuple[float, float, float] = (0.70, 0.15, 0.15)
    simulator: SimulatorConfig = field(default_factory=SimulatorConfig)
    stft: STFTConfig = field(default_factory=STFTConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"DataConfig.seed must be a non-negative int, got {self.seed!r}")
        if len(self.split) != 3 or min(self.split) <= 0 or not math.isclose(sum(self.split), 1.0):
            raise ValueError(f"DataConfig.split must be 3 positive fractions summing to 1, got {self.split}")
        need = min_class_size(self.split)
        n = self.n_per_class
        if isinstance(n, bool) or not isinstance(n, int) or n < need:
            counts = split_counts(n, self.split) if isinstance(n, int) and not isinstance(n, bool) and n > 0 else None
            gives = f" (it gives {counts[0]}/{counts[1]}/{counts[2]} per class)" if counts else ""
            raise ValueError(f"DataConfig.n_per_class must be an int >= {need}, so that a {tuple(self.split)} "
                             f"train/val/test split gives every split a sample of each class, got {n!r}{gives}")
        check_image_size(self.image_size, self.stft, self.simulator.sample_rate, self.simulator.f_max,
                         self.simulator.window)


def dataset_layout(cfg: DataConfig) -> tuple[Tensor, Tensor]:
    """Label and sensor location of every sample: ``(y, location)``, int64 ``(16 n,)``."""
    n, C = cfg.n_per_class, len(CLASS_NAMES)
    y = torch.arange(C).repeat_interleave(n)
    j = torch.arange(n).repeat(C)
    return y, (j + y) % cfg.simulator.n_locations


def generate_dataset(cfg: DataConfig, *, chunk: int = CHUNK, show_progress: bool = True) -> SignalDataset:
    """Simulate and transform the whole dataset (no split, no cache).

    Args:
        cfg: the dataset configuration.
        chunk: samples per vectorised batch (the result does not depend on it).
        show_progress: show a progress bar (silent under ``TQDM_DISABLE``).

    Returns:
        a ``SignalDataset`` with ``meta``: ``location`` int64, ``f0`` float32 (N, 4) Hz,
        ``amplitude`` float32 (N, 4) (0 for absent waveforms), ``snr_db`` float32, ``index`` int64.
    """
    y, loc = dataset_layout(cfg)
    N = len(y)
    x = torch.empty(N, 1, cfg.image_size, cfg.image_size)
    f0 = torch.empty(N, 4)
    amp = torch.empty(N, 4)
    snr = torch.empty(N)
    starts = range(0, N, chunk)
    for s in (progress(starts, desc="simulating") if show_progress else starts):
        sl = slice(s, min(s + chunk, N))
        idx = torch.arange(sl.start, sl.stop)
        out = simulate(y[sl], seed=cfg.seed, index=idx, location=loc[sl], config=cfg.simulator, return_parts=True)
        x[sl] = spectrogram(out["x"], cfg.image_size, cfg.stft, cfg.simulator.sample_rate)
        f0[sl] = out["params"]["f0"].float()
        amp[sl] = out["params"]["amplitude"]
        snr[sl] = out["snr_db"].float()
    meta = {"location": loc, "f0": f0, "amplitude": amp, "snr_db": snr, "index": torch.arange(N),
            "record": torch.arange(N)}
    return SignalDataset(x, y, meta)


def load_splits(cfg: DataConfig = DataConfig(), *, refresh: bool = False) -> Splits:
    """The simulated dataset's splits, generated once and cached under the config's hash.

    Args:
        cfg: the dataset configuration (defaults: the paper's 16 x 625 = 10,000 samples).
        refresh: regenerate even when cached.

    Returns:
        ``Splits`` with ``.train/.val/.test`` (``SignalDataset``), ``.class_names`` (16),
        ``.location_names`` (6), ``.sample_rate``.
    """
    folder = artifact_dir(f"dataset-v{DATA_VERSION}", cfg)
    if not refresh:
        hit = load_saved_splits(folder)
        if hit is not None:
            return hit
    data = generate_dataset(cfg)
    splits = make_splits(data, class_names=CLASS_NAMES, location_names=LOCATION_NAMES,
                         sample_rate=cfg.simulator.sample_rate, split=cfg.split, seed=cfg.seed,
                         info={"source": "simulator", "n_per_class": cfg.n_per_class, "stft": asdict(cfg.stft)}, name="harmonic")
    save_splits(splits, folder)
    return splits
