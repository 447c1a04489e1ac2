"""Figures of the data sets: the harmonic-signals simulator's (NSDE paper, arXiv 2409.01532,
Sec. 4.1) class waveforms, one injection at the six sensors and spectrogram galleries, and
example spectrograms of every class of recordings (every sensor of a multi-sensor sample)."""
from __future__ import annotations

import math

import torch

from nsde.data.simulator import CLASS_NAMES, LOCATION_NAMES, SimulatorConfig, simulate
from nsde.data.spectrogram import STFTConfig, row_of_frequency, spectrogram

__all__ = ["plot_class_waveforms", "plot_sensors", "plot_gallery", "plot_examples", "frequency_axis"]

_TICKS_KHZ = (0.5, 1, 2, 5, 10, 20, 50, 100)


def frequency_axis(ax, image_size: int, sample_rate: float, stft=None, labels: bool = True) -> str:
    """Label an image's rows with frequencies for a linear or log frequency axis: in kHz
    (0.5-100 kHz ticks) when the band reaches them, else in Hz (slow recordings).

    Returns:
        the unit of the labels, ``"kHz"`` or ``"Hz"``.
    """
    stft = stft or STFTConfig()
    lo, hi = stft.band(sample_rate)
    ticks = [f for f in _TICKS_KHZ if f * 1e3 <= sample_rate / 2]
    if stft.freq_scale == "log":
        ticks = [f for f in ticks if lo <= f * 1e3 <= hi]
    else:
        ticks = [f for f in ticks if f >= 10] or ticks
    unit, scale = "kHz", 1e3
    if not ticks:
        unit, scale = "Hz", 1.0
        ticks = _hz_ticks(max(lo, hi / 100) if stft.freq_scale == "log" else 0.0, hi, stft.freq_scale == "log")
    rows = row_of_frequency([f * scale for f in ticks], image_size, sample_rate, stft) - 0.5
    ax.set_yticks(rows.tolist())
    ax.set_yticklabels([f"{f:g}" for f in ticks] if labels else [])
    return unit


def _hz_ticks(lo: float, hi: float, log: bool) -> list[float]:
    """Round frequencies in ``[lo, hi]`` Hz: 1-2-5 steps (log axis), or about four even steps."""
    if log:
        out, decade = [], 10.0 ** math.floor(math.log10(lo))
        while decade <= hi:
            out += [m * decade for m in (1, 2, 5) if lo <= m * decade <= hi]
            decade *= 10
        return out
    raw = (hi - lo) / 4
    step = 10.0 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if m * step >= raw)
    return [round(lo + k * step, 10) for k in range(int((hi - lo) / step + 1e-9) + 1)]


def plot_class_waveforms(config: SimulatorConfig = SimulatorConfig(), seed: int = 0, duration_ms: float | None = None):
    """Injected (source) waveform of one sample of every class, a 4 x 4 grid.

    Args:
        config: the simulator configuration.
        seed: seed of the samples drawn.
        duration_ms: time span shown (default: the whole window).

    Returns:
        the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    out = simulate(torch.arange(16), seed=seed, location=torch.zeros(16, dtype=torch.long), config=config,
                   return_parts=True)
    src = out["source"]
    n = src.shape[1] if duration_ms is None else int(duration_ms * 1e-3 * config.sample_rate)
    t = torch.arange(n) / config.sample_rate * 1e3
    fig, axes = plt.subplots(4, 4, figsize=(12, 8), sharex=True)
    for c, ax in enumerate(axes.flat):
        ax.plot(t, src[c, :n], lw=0.4)
        f0 = out["params"]["f0"][c]
        f0s = ", ".join(f"{f / 1e3:.1f}" for f in f0[f0 > 0].tolist())
        ax.set_title(f"{CLASS_NAMES[c]}\n" + (f"f0 = {f0s} kHz" if f0s else "no injection"), fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in axes[-1]:
        ax.set_xlabel("time (ms)", fontsize=7)
    for ax in axes[:, 0]:
        ax.set_ylabel("amplitude", fontsize=7)
    fig.suptitle("Injected waveform of one sample per class (source, before the wiring)")
    fig.tight_layout()
    return fig


def plot_sensors(label: int, config: SimulatorConfig = SimulatorConfig(), seed: int = 0, index: int = 0,
                 image_size: int = 64, stft=None):
    """One injection as recorded at the six sensors: waveform (top) and spectrogram (bottom).

    Args:
        label: class index.
        config: the simulator configuration.
        seed, index: which sample.
        image_size: spectrogram side.
        stft: ``STFTConfig`` (default one).

    Returns:
        the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    stft = stft or STFTConfig()
    x = simulate(torch.tensor([label]), seed=seed, index=torch.tensor([index]), config=config)[0]  # (6, L)
    img = spectrogram(x, image_size, stft, config.sample_rate)[:, 0]
    t = torch.arange(x.shape[1]) / config.sample_rate * 1e3
    dur = x.shape[1] / config.sample_rate * 1e3
    fig, axes = plt.subplots(2, 6, figsize=(15, 5))
    for l in range(6):
        axes[0, l].plot(t, x[l], lw=0.3)
        axes[0, l].set_title(f"{l}: {LOCATION_NAMES[l]}\nSNR {config.snr_db[l]:g} dB", fontsize=7)
        axes[0, l].set_xlabel("time (ms)", fontsize=7)
        axes[0, l].tick_params(labelsize=6)
        axes[1, l].imshow(img[l], origin="lower", aspect="auto", cmap="magma",
                          extent=(0, dur, -0.5, image_size - 0.5))
        frequency_axis(axes[1, l], image_size, config.sample_rate, stft)
        axes[1, l].set_xlabel("time (ms)", fontsize=7)
        axes[1, l].tick_params(labelsize=6)
    axes[0, 0].set_ylabel("recorded signal", fontsize=7)
    axes[1, 0].set_ylabel("frequency (kHz)", fontsize=7)
    fig.suptitle(f"One '{CLASS_NAMES[label]}' injection as recorded at the six sensors")
    fig.tight_layout()
    return fig


def plot_gallery(dataset, class_names, per_class: int = 4, sample_rate: float | None = None, seed: int = 0,
                 stft=None):
    """Spectrogram images of ``per_class`` samples of every class (rows: classes).

    Args:
        dataset: a ``SignalDataset`` (``.x``, ``.y``, ``.meta['location']``).
        class_names: names of the classes.
        per_class: images per class.
        sample_rate: to label the frequency axis in kHz (else in rows).
        seed: which samples are shown.
        stft: the ``STFTConfig`` of the images (for the frequency labels).

    Returns:
        the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    g = torch.Generator().manual_seed(seed)
    C = len(class_names)
    fig, axes = plt.subplots(per_class, C, figsize=(C * 0.95, per_class * 1.1 + 0.8))
    axes = axes.reshape(per_class, C)
    size = dataset.x.shape[-2]
    for c in range(C):
        idx = torch.nonzero(dataset.y == c).squeeze(1)
        idx = idx[torch.randperm(len(idx), generator=g)[:per_class]]
        for r in range(per_class):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if r < len(idx):
                i = int(idx[r])
                ax.imshow(dataset.x[i, 0], origin="lower", cmap="magma", aspect="auto", vmin=0, vmax=1)
                if "location" in dataset.meta:
                    ax.text(0.03, 0.97, f"L{int(dataset.meta['location'][i])}", color="w", fontsize=5,
                            va="top", transform=ax.transAxes)
            if r == 0:
                ax.set_title(class_names[c].replace("+", "+\n"), fontsize=5)
    axes[-1, 0].set_xlabel("time", fontsize=6)
    if sample_rate:
        frequency_axis(axes[-1, 0], size, sample_rate, stft)
        axes[-1, 0].tick_params(labelsize=5)
    axes[-1, 0].set_ylabel("frequency (kHz)" if sample_rate else "row", fontsize=6)
    fig.suptitle("Spectrogram gallery: columns are classes, L<k> the sensor location (frequency upwards)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_examples(splits, per_class: int = 4, seed: int = 0, max_channels: int = 6):
    """Example training spectrograms of every class of a data set, frequency axis labelled.

    One-channel images: ``per_class`` examples per class (columns are classes). Images of
    several channels (the sensors of one recording): one example per class (rows) with its
    first ``max_channels`` channels side by side (columns are sensors).

    Args:
        splits: the data (:class:`nsde.data.Splits`, with ``stft`` and ``sample_rate``).
        per_class: examples per class of one-channel data.
        seed: which examples are shown.
        max_channels: most channels shown of multi-channel data.

    Returns:
        the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    ds, names, stft = splits.train, splits.class_names, splits.stft
    g = torch.Generator().manual_seed(seed)
    n_c, size, chans = len(names), ds.x.shape[-1], ds.x.shape[1]
    picks = []
    for c in range(n_c):
        idx = torch.nonzero(ds.y == c).squeeze(1)
        picks.append(idx[torch.randperm(len(idx), generator=g)[:per_class if chans == 1 else 1]].tolist())
    if chans == 1:
        rows, cols = per_class, n_c
        cells = [[(picks[c][r], 0) if r < len(picks[c]) else None for c in range(n_c)] for r in range(rows)]
        titles = [n for n in names]
    else:
        rows, cols = n_c, min(chans, max_channels)
        cells = [[(picks[r][0], k) for k in range(cols)] for r in range(rows)]
        titles = [str(n) for n in splits.location_names[:cols]]
    fig, axes = plt.subplots(rows, cols, figsize=(max(4.0, cols * 1.4), rows * 1.3 + 0.9), squeeze=False)
    unit = "Hz"
    for r in range(rows):
        for k in range(cols):
            ax = axes[r, k]
            ax.set_xticks([])
            ax.set_yticks([])
            cell = cells[r][k]
            if cell is not None:
                ax.imshow(ds.x[cell[0], cell[1]], origin="lower", cmap="magma", aspect="auto", vmin=0, vmax=1)
            if r == 0:
                ax.set_title(titles[k], fontsize=7)
            if k == 0:
                unit = frequency_axis(ax, size, splits.sample_rate, stft, labels=True)
                ax.tick_params(labelsize=6)
                if chans > 1:
                    ax.set_ylabel(f"{names[r]}\n({unit})", fontsize=7)
    if chans == 1:
        axes[-1, 0].set_ylabel(f"frequency ({unit})", fontsize=7)
    axes[-1, 0].set_xlabel("time", fontsize=7)
    what = (f"{per_class} training images per class (columns)" if chans == 1 else
            "one training sample per class (rows), its sensors side by side (columns)")
    fig.suptitle(f"{splits.name}: {what}, frequency upwards", fontsize=9)
    fig.tight_layout()
    return fig
