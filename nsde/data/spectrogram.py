"""STFT spectrogram images of recordings (the classifier inputs of the NSDE paper).

The paper (arXiv 2409.01532, Sec. 4.1) turns each recording into an STFT spectrogram
image but gives no parameters. Ours: ``torch.stft`` (Hann window, ``n_fft`` = 1024,
hop 128 at 200 kHz: 195 Hz bins, so the lowest fundamental, 0.5 kHz, sits 2.6 bins from
DC with the Hann main lobe +-2 bins wide; 5.1 ms frames hold 2.5 periods of it). The power
grid (513 bins x 65 frames) is pooled to the image: time with an antialiased resize
(``torch.nn.functional.interpolate``), frequency either linearly (``freq_scale="linear"``,
antialiased resize) or into log-spaced bands from ``f_min_hz`` to ``f_max_hz`` (Nyquist
by default; ``freq_scale="log"``, the default: the fundamentals are log-uniform over two decades, and
on a log axis every harmonic series has the same shape wherever its fundamental lies,
while a linear 64-row axis squeezes 0.5-3 kHz into 2 rows). Then dB, floored ``top_db``
below the maximum, and min-max normalised to [0, 1] per sample. Pooling power before the
log keeps a narrow spectral line visible; averaging log-magnitudes would dilute it.
Image rows are frequency (row 0 = lowest), columns are time. The band is given in Hz, so
the sampling rate of the recordings sets the frequency axis: the same ``STFTConfig`` on
recordings at another rate shows the same frequencies in the same rows.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["STFTConfig", "row_of_frequency", "min_image_size", "check_image_size", "check_stft", "power_spectrogram",
           "spectrogram"]


@dataclass(frozen=True)
class STFTConfig:
    """Short-time Fourier transform and image parameters.

    Attributes:
        n_fft: FFT length (and Hann window length) in samples.
        hop: hop between frames in samples.
        top_db: dynamic range kept below each image's maximum, in dB.
        min_rows_per_fmax: the image must give the highest fundamental's band
            ``[0, f_max]`` at least this many rows ...
        min_cols_per_slot: ... and each time-division slot (a quarter window) this many columns.
        freq_scale: ``"log"`` (log-spaced frequency bands) or ``"linear"``.
        f_min_hz: lowest frequency of the log axis in Hz (250 Hz: 0.0025 of the
            simulator's 100 kHz Nyquist); ignored by the linear axis, which starts at 0.
        f_max_hz: highest frequency shown in Hz; ``None``: the Nyquist frequency.
    """

    n_fft: int = 1024
    hop: int = 128
    top_db: float = 80.0
    min_rows_per_fmax: int = 4
    min_cols_per_slot: int = 4
    freq_scale: str = "log"
    f_min_hz: float = 250.0
    f_max_hz: float | None = None

    def __post_init__(self) -> None:
        for name in ("n_fft", "hop", "min_rows_per_fmax", "min_cols_per_slot", "top_db", "f_min_hz", "f_max_hz"):
            v = getattr(self, name)
            whole = name in ("n_fft", "hop", "min_rows_per_fmax", "min_cols_per_slot")
            if v is None and name == "f_max_hz":
                continue
            if isinstance(v, bool) or not isinstance(v, int if whole else (int, float)) \
                    or (not whole and not math.isfinite(v)):
                hint = f"; write {v.strip()} without quotes" if isinstance(v, str) and _is_number(v) else ""
                raise ValueError(f"STFTConfig.{name} must be {'an int' if whole else 'a finite number'}, but found "
                                 f"{v!r} ({type(v).__name__}){hint}")
        if self.n_fft < 8 or self.hop < 1 or self.hop > self.n_fft:
            raise ValueError(f"STFTConfig needs n_fft >= 8 and 1 <= hop <= n_fft, but found n_fft={self.n_fft}, "
                             f"hop={self.hop}")
        if self.freq_scale not in ("linear", "log"):
            raise ValueError(f"STFTConfig.freq_scale must be 'linear' or 'log', but found {self.freq_scale!r}")
        if self.top_db <= 0:
            raise ValueError(f"STFTConfig.top_db must be > 0, but found {self.top_db}")
        if not self.f_min_hz > 0:
            raise ValueError(f"STFTConfig.f_min_hz must be > 0, but found {self.f_min_hz}")
        if self.f_max_hz is not None and not self.f_max_hz > self.f_min_hz:
            raise ValueError(f"STFTConfig.f_max_hz must exceed f_min_hz={self.f_min_hz:g}, but found {self.f_max_hz}")

    def band(self, sample_rate: float) -> tuple[float, float]:
        """``(lowest, highest)`` frequency in Hz of the image at ``sample_rate``."""
        nyq = sample_rate / 2
        return (self.f_min_hz if self.freq_scale == "log" else 0.0), (self.f_max_hz or nyq)

    def grid(self, n_samples: int) -> tuple[int, int]:
        """``(frequency bins, frames)`` of the STFT of ``n_samples`` samples (centred frames)."""
        return self.n_fft // 2 + 1, 1 + n_samples // self.hop


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def row_of_frequency(f_hz, image_size: int, sample_rate: float, stft: "STFTConfig") -> Tensor:
    """Image row (fractional, 0 = bottom edge) at which frequency ``f_hz`` appears."""
    f = torch.as_tensor(f_hz, dtype=torch.float64)
    lo, hi = stft.band(sample_rate)
    if stft.freq_scale == "log":
        return image_size * torch.log(f.clamp(min=lo) / lo) / math.log(hi / lo)
    return image_size * f / hi


def min_image_size(stft: STFTConfig, sample_rate: float, f_max: float, slots: int = 4) -> int:
    """The smallest image side that still shows the harmonic structure and the TDM slots.

    Args:
        stft: the STFT configuration.
        sample_rate: samples per second.
        f_max: highest fundamental in Hz.
        slots: most time-division slots in a window (4 waveforms).
    """
    rows = math.ceil(stft.min_rows_per_fmax * (sample_rate / 2) / f_max)
    cols = stft.min_cols_per_slot * slots
    return max(rows, cols)


def check_image_size(image_size: int, stft: STFTConfig, sample_rate: float, f_max: float, n_samples: int) -> None:
    """Raise ``ValueError`` naming the values when ``image_size`` is too small for the STFT."""
    if not isinstance(image_size, int) or isinstance(image_size, bool):
        raise TypeError(f"image_size must be an int, got {image_size!r}")
    need = min_image_size(stft, sample_rate, f_max)
    n_freq, n_frames = stft.grid(n_samples)
    if image_size < need:
        raise ValueError(
            f"image_size={image_size} is too small for the STFT (n_fft={stft.n_fft}, hop={stft.hop}, "
            f"{n_freq} bins x {n_frames} frames at sample_rate={sample_rate:g}): need image_size >= {need} so that "
            f"[0, f_max={f_max:g} Hz] spans >= {stft.min_rows_per_fmax} rows and each time-division slot "
            f">= {stft.min_cols_per_slot} columns")
    check_stft(stft, sample_rate, n_samples)


def check_stft(stft: STFTConfig, sample_rate: float, n_samples: int) -> None:
    """Raise ``ValueError`` naming the ``STFTConfig`` field to change when the STFT does not
    fit recordings of ``n_samples`` samples at ``sample_rate``."""
    if not (isinstance(sample_rate, (int, float)) and math.isfinite(sample_rate) and sample_rate > 0):
        raise ValueError(f"sample_rate must be a positive number of samples per second, but found {sample_rate!r}")
    nyq = sample_rate / 2
    if n_samples < stft.n_fft:
        raise ValueError(f"recordings of {n_samples} samples are shorter than the STFT window: set "
                         f"STFTConfig.n_fft <= {n_samples} (now {stft.n_fft}), or use longer windows")
    if stft.f_max_hz is not None and stft.f_max_hz > nyq * (1 + 1e-9):
        raise ValueError(f"STFTConfig.f_max_hz={stft.f_max_hz:g} Hz lies above the Nyquist frequency "
                         f"{nyq:g} Hz of recordings at {sample_rate:g} Hz; lower it or leave it None")
    if stft.freq_scale == "log" and stft.f_min_hz >= (stft.f_max_hz or nyq):
        raise ValueError(f"STFTConfig.f_min_hz={stft.f_min_hz:g} Hz is not below the top of the band "
                         f"{(stft.f_max_hz or nyq):g} Hz (Nyquist at {sample_rate:g} Hz); lower f_min_hz")


def power_spectrogram(x: Tensor, stft: STFTConfig = STFTConfig()) -> Tensor:
    """``|STFT|^2`` with a Hann window.

    Args:
        x: float ``(B, L)`` recordings.
        stft: the STFT configuration.

    Returns:
        float32 ``(B, n_fft // 2 + 1, 1 + L // hop)``: power, rows = frequency bins.
    """
    if x.ndim != 2:
        raise ValueError(f"expected recordings of shape (B, L), got {tuple(x.shape)}")
    win = torch.hann_window(stft.n_fft, dtype=torch.float32)
    spec = torch.stft(x.float(), n_fft=stft.n_fft, hop_length=stft.hop, window=win, center=True,
                      pad_mode="reflect", return_complex=True)
    return spec.real.square() + spec.imag.square()


def _log_rows(p: Tensor, n_rows: int, f_low_frac: float, f_high_frac: float = 1.0) -> Tensor:
    """Pool power ``(B, F, T)`` on a linear bin grid into ``n_rows`` log-spaced bands from
    ``f_low_frac`` to ``f_high_frac`` x Nyquist: mean power per bin."""
    B, Fb, T = p.shape
    cum = torch.cat([p.new_zeros(B, 1, T), p.cumsum(1)], 1)  # cum[j] = power below edge (j - 0.5) bins
    lo, hi = f_low_frac * (Fb - 1), f_high_frac * (Fb - 1)
    edges = lo * (hi / lo) ** (torch.arange(n_rows + 1, dtype=torch.float64) / n_rows) + 0.5
    edges = edges.clamp(0, Fb)
    j0 = edges.floor().long().clamp(max=Fb - 1)
    w = (edges - j0).float()[None, :, None]
    c = cum[:, j0] * (1 - w) + cum[:, j0 + 1] * w
    width = (edges[1:] - edges[:-1]).float()[None, :, None]
    return (c[:, 1:] - c[:, :-1]) / width


def spectrogram(x: Tensor, image_size: int, stft: STFTConfig = STFTConfig(), sample_rate: float = 200_000.0) -> Tensor:
    """Spectrogram images in [0, 1].

    Power STFT -> antialiased resize to ``image_size x image_size`` over the band
    ``stft.band(sample_rate)`` -> dB -> floor at ``max - top_db`` -> per-sample min-max to
    [0, 1].

    Args:
        x: float ``(B, L)`` recordings.
        image_size: output side in pixels.
        stft: the STFT configuration.
        sample_rate: samples per second of ``x`` (the simulator's 200 kHz by default).

    Returns:
        float32 ``(B, 1, image_size, image_size)``, each image's minimum 0 and maximum 1
        (an all-constant image is all 0).
    """
    if not torch.isfinite(x).all():
        raise ValueError("recordings contain NaN or infinite samples")
    check_stft(stft, sample_rate, x.shape[-1])
    p = power_spectrogram(x, stft)
    nyq = sample_rate / 2
    lo, hi = stft.band(sample_rate)
    if stft.freq_scale == "log":
        p = F.interpolate(p.unsqueeze(1), size=(p.shape[1], image_size), mode="bilinear", align_corners=False,
                          antialias=True)[:, 0]  # time axis only
        p = _log_rows(p, image_size, lo / nyq, hi / nyq).unsqueeze(1)
    else:
        top = min(p.shape[1], int(round(hi / nyq * (p.shape[1] - 1))) + 1)  # bins up to f_max_hz
        p = F.interpolate(p[:, :top].unsqueeze(1), size=(image_size, image_size), mode="bilinear",
                          align_corners=False, antialias=True)
    db = 10 * torch.log10(p.clamp(min=1e-30))
    top = db.amax(dim=(2, 3), keepdim=True)
    db = torch.maximum(db, top - stft.top_db)
    lo = db.amin(dim=(2, 3), keepdim=True)
    out = (db - lo) / (top - lo).clamp(min=1e-12)
    return out.clamp(0, 1).float()
