"""A seeded, vectorised simulator of ORNL's Harmonic Signals Dataset.

The NSDE paper (arXiv 2409.01532, Sec. 4.1) trains on ORNL's "Harmonic Signals Dataset"
(Adams et al. 2023, not public): sine, square, square 75/25-duty and triangle waveforms at
0.5-50 kHz injected into a building's wiring and recorded by sensors at six locations,
16 classes "including muxed combinations of the pure waveforms". This module simulates
that experiment:

* **Classes.** The 16 subsets of the four waveforms (class index = bit mask, bit 0 sine,
  bit 1 square, bit 2 square 75/25, bit 3 triangle); class 0 is background (no injection).
* **Multiplexing.** A class's waveforms are time-division multiplexed (``mux="time"``): the
  window is cut into ``k`` equal slots (``k`` = number of waveforms), visited in a random
  order, with the slot grid circularly shifted by a random offset, as a multiplexer
  switching between ``k`` free-running function generators. ``mux="sum"`` adds them instead.
* **Waveforms.** Fundamentals log-uniform in ``[f_min, f_max]``, random phase and
  log-uniform amplitude. Every waveform is band-limited: it keeps exactly the harmonics
  below the Nyquist frequency (wavetable synthesis from the Fourier series), so there is
  no aliasing at any fundamental.
* **Six sensor locations.** Each location is a channel: attenuation (``gain``), the
  band-limiting transfer function of its wiring path (2nd-order low-pass times 1st-order
  high-pass) and location-specific interference (coloured ``1/f^beta`` background noise,
  60 Hz mains with odd harmonics, switching transients, impulses) scaled to the location's
  signal-to-noise ratio ``snr_db`` (with a per-recording jitter).

Randomness is drawn per sample from generators seeded by ``(seed, sample index)`` (and the
location for the channel), so a sample does not depend on the batch it is generated in.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import Tensor

__all__ = [
    "WAVEFORMS",
    "CLASS_NAMES",
    "LOCATION_NAMES",
    "SimulatorConfig",
    "class_members",
    "fourier_coefficients",
    "waveform",
    "draw_source_params",
    "synthesize",
    "propagate",
    "simulate",
    "transfer_function",
    "measure_snr",
    "harmonic_amplitudes",
]

WAVEFORMS: tuple[str, ...] = ("sine", "square", "square75", "triangle")
"""The four injected waveforms; bit ``i`` of a class index marks ``WAVEFORMS[i]``."""


def _class_name(mask: int) -> str:
    parts = [w for i, w in enumerate(WAVEFORMS) if mask >> i & 1]
    return "+".join(parts) if parts else "background"


CLASS_NAMES: tuple[str, ...] = tuple(_class_name(c) for c in range(2 ** len(WAVEFORMS)))
"""The 16 class names, index = bit mask of the waveforms present."""

LOCATION_NAMES: tuple[str, ...] = (
    "injection panel (Rogowski)",
    "480 V sub-panel (CT)",
    "240 V branch (CT)",
    "120 V outlet (CT)",
    "B-field antenna, near",
    "B-field antenna, buried line",
)
"""Six sensor locations, from the injection point outwards (easiest to hardest)."""

_N_TABLE = 4096  # wavetable length (samples per period)
_TRANSIENT_LEN = 512  # support of one switching transient (samples)


@dataclass(frozen=True)
class SimulatorConfig:
    """Parameters of the simulated injection experiment (one value or one per location).

    Attributes:
        sample_rate: samples per second. 200 kHz keeps, for every fundamental, all the
            harmonics below 100 kHz (the 2nd harmonic of the highest, 50 kHz, fundamental);
            ORNL recorded at 800 kHz, i.e. 4x this, mostly above the band of interest.
        window: samples per recording window (8,192 = 41 ms, 20 periods of 0.5 kHz).
        f_min, f_max: fundamental range in Hz (log-uniform).
        amplitude_range: injected peak amplitude range (log-uniform).
        mux: ``"time"`` (time-division multiplexing) or ``"sum"``.
        snr_db: per-location SNR in dB: received injected power over the power of all
            interference, per recording (median over recordings).
        snr_jitter_db: standard deviation of the per-recording SNR around ``snr_db``.
        gain: per-location attenuation of the wiring path (amplitude factor).
        lowpass_hz: per-location cut-off of the 2nd-order Butterworth low-pass.
        highpass_hz: per-location cut-off of the 1st-order high-pass (sensor coupling).
        noise_beta: per-location exponent of the ``1/f^beta`` background noise power.
        mix: per-location power fractions of (background noise, mains, transients, impulses).
        mains_hz: mains frequency; ``mains_harmonics``: highest (odd) mains harmonic.
        transients: switching transients per window; ``impulses``: impulses per window.
    """

    sample_rate: float = 200_000.0
    window: int = 8_192
    f_min: float = 500.0
    f_max: float = 50_000.0
    amplitude_range: tuple[float, float] = (0.5, 2.0)
    mux: str = "time"
    snr_db: tuple[float, ...] = (20.0, 10.0, 5.0, 0.0, -5.0, -10.0)
    snr_jitter_db: float = 2.0
    gain: tuple[float, ...] = (1.0, 0.5, 0.3, 0.1, 0.05, 0.02)
    lowpass_hz: tuple[float, ...] = (90e3, 70e3, 50e3, 40e3, 30e3, 20e3)
    highpass_hz: tuple[float, ...] = (100.0, 200.0, 300.0, 300.0, 500.0, 500.0)
    noise_beta: tuple[float, ...] = (0.0, 0.5, 1.0, 1.0, 1.5, 2.0)
    mix: tuple[tuple[float, float, float, float], ...] = (
        (0.70, 0.20, 0.05, 0.05),
        (0.50, 0.30, 0.10, 0.10),
        (0.40, 0.30, 0.20, 0.10),
        (0.30, 0.40, 0.20, 0.10),
        (0.30, 0.50, 0.10, 0.10),
        (0.40, 0.40, 0.10, 0.10),
    )
    mains_hz: float = 60.0
    mains_harmonics: int = 25
    transients: int = 4
    impulses: int = 8

    def __post_init__(self) -> None:
        n = len(LOCATION_NAMES)
        for name in ("snr_db", "gain", "lowpass_hz", "highpass_hz", "noise_beta", "mix"):
            value = getattr(self, name)
            if len(value) != n:
                raise ValueError(f"SimulatorConfig.{name} must have {n} values (one per location), got {len(value)}")
        if self.mux not in ("time", "sum"):
            raise ValueError(f"SimulatorConfig.mux must be 'time' or 'sum', got {self.mux!r}")
        if not 0 < self.f_min < self.f_max < self.sample_rate / 2:
            raise ValueError(
                f"need 0 < f_min < f_max < sample_rate/2, got f_min={self.f_min}, f_max={self.f_max}, "
                f"sample_rate={self.sample_rate}")
        if self.window < 16:
            raise ValueError(f"SimulatorConfig.window must be >= 16 samples, got {self.window}")
        for i, m in enumerate(self.mix):
            if len(m) != 4 or min(m) < 0 or sum(m) <= 0:
                raise ValueError(f"SimulatorConfig.mix[{i}] must be 4 non-negative fractions, got {m}")

    @property
    def n_locations(self) -> int:
        return len(LOCATION_NAMES)

    @property
    def max_harmonic(self) -> int:
        """Highest harmonic order kept for the lowest fundamental (below Nyquist)."""
        return int(math.floor((self.sample_rate / 2) / self.f_min))


def class_members(labels: Tensor) -> Tensor:
    """Which waveforms each class contains.

    Args:
        labels: int64 ``(B,)`` class indices in ``[0, 16)``.

    Returns:
        bool ``(B, 4)``, ``[b, w]`` true when waveform ``WAVEFORMS[w]`` is in class ``labels[b]``.
    """
    labels = torch.as_tensor(labels, dtype=torch.long)
    if labels.numel() and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise ValueError(f"labels must lie in [0, {len(CLASS_NAMES)}), got min {int(labels.min())}, max {int(labels.max())}")
    bits = torch.arange(len(WAVEFORMS))
    return (labels[:, None] >> bits) & 1 == 1


def fourier_coefficients(kind: str, n_harmonics: int) -> Tensor:
    """Complex Fourier coefficients ``c_n`` (n = 0..n_harmonics) of a unit waveform.

    The waveform is ``x(phi) = sum_n Re(c_n exp(2 pi i n phi))`` for ``phi`` in cycles, zero
    mean: sine ``sin``; square ``4/pi sum_{n odd} sin(n .)/n``; square 75/25 (high for 75% of
    the period, AC-coupled) ``4/(pi n) |sin(pi n d)|``; triangle ``8/pi^2 sum_{n odd} +-sin(n .)/n^2``.

    Args:
        kind: one of ``WAVEFORMS``.
        n_harmonics: highest harmonic order kept.

    Returns:
        complex128 ``(n_harmonics + 1,)``.
    """
    n = torch.arange(n_harmonics + 1, dtype=torch.float64)
    c = torch.zeros(n_harmonics + 1, dtype=torch.complex128)
    odd = (n % 2 == 1)
    nz = n.clamp(min=1)
    if kind == "sine":
        if n_harmonics >= 1:
            c[1] = -1j  # sin = Re(-i e^{i.})
    elif kind == "square":
        c[odd] = (-1j * 4 / (math.pi * nz[odd])).to(torch.complex128)
    elif kind == "square75":
        d = 0.75
        mag = 4 / (math.pi * nz) * torch.sin(math.pi * nz * d)
        c = (mag * torch.exp(-1j * math.pi * nz * d)).to(torch.complex128)  # cos(2 pi n (phi - d/2))
        c[0] = 0
    elif kind == "triangle":
        sign = torch.where(((n - 1) / 2) % 2 == 0, 1.0, -1.0)
        c[odd] = (-1j * 8 / math.pi ** 2 * sign[odd] / nz[odd] ** 2).to(torch.complex128)
    else:
        raise ValueError(f"unknown waveform {kind!r}; expected one of {WAVEFORMS}")
    return c


@lru_cache(maxsize=4)
def _wavetables(max_harmonic: int) -> Tensor:
    """float32 ``(4, max_harmonic + 1, _N_TABLE)``: one period of each waveform keeping
    harmonics ``1..m`` in row ``m`` (row 0 is silent)."""
    m = torch.arange(max_harmonic + 1)
    spec = torch.zeros(len(WAVEFORMS), max_harmonic + 1, _N_TABLE // 2 + 1, dtype=torch.complex128)
    for w, kind in enumerate(WAVEFORMS):
        c = fourier_coefficients(kind, max_harmonic)
        keep = (torch.arange(max_harmonic + 1)[None, :] <= m[:, None]).to(torch.complex128)  # (rows, n)
        spec[w, :, : max_harmonic + 1] = keep * c[None, :]
    spec[..., 0] = 0
    # irfft(X)[k] = (1/N) sum ... ; x = Re sum c_n e^{...} needs X_n = N c_n / 2
    return torch.fft.irfft(spec * (_N_TABLE / 2), n=_N_TABLE).to(torch.float32)


def waveform(kind: str, f0: float, n: int, sample_rate: float, phase: float = 0.0) -> Tensor:
    """One band-limited waveform (all harmonics below Nyquist), unit peak scale.

    Args:
        kind: one of ``WAVEFORMS``.
        f0: fundamental in Hz (below ``sample_rate / 2``).
        n: number of samples.
        sample_rate: samples per second.
        phase: start phase in cycles.

    Returns:
        float32 ``(n,)``.
    """
    if kind not in WAVEFORMS:
        raise ValueError(f"unknown waveform {kind!r}; expected one of {WAVEFORMS}")
    if not 0 < f0 < sample_rate / 2:
        raise ValueError(f"f0={f0} must lie in (0, sample_rate/2={sample_rate / 2})")
    m = int(math.floor((sample_rate / 2 - 1e-9) / f0))
    tab = _wavetables(m)[WAVEFORMS.index(kind), m]
    phi = torch.frac(phase + f0 * torch.arange(n, dtype=torch.float64) / sample_rate)
    return _lookup(tab.reshape(1, -1), torch.zeros(1, n, dtype=torch.long), phi[None])[0]


def _lookup(tables: Tensor, row: Tensor, phi: Tensor) -> Tensor:
    """Linear-interpolated wavetable lookup: ``tables (R, T)``, ``row (B, L)`` long, ``phi (B, L)``
    phase in cycles in [0, 1) (float64) -> float32 ``(B, L)``."""
    T = tables.shape[1]
    padded = torch.cat([tables, tables[:, :1]], 1).reshape(-1)  # wrap column: no modulo below
    pos = phi * T
    i0 = pos.long().clamp_(0, T - 1)  # phi >= 0: truncation is floor
    w = (pos - i0).to(torch.float32)
    i0 += row * (T + 1)
    a = padded[i0]
    b = padded[i0 + 1]
    return torch.lerp(a, b, w)


def _rng(seed: int, index: int, stream: int) -> torch.Generator:
    """A generator for one (seed, sample index, stream): streams 0 = source, 1+l = location l."""
    key = ((int(seed) * 1_000_003 + int(index)) * 16 + int(stream)) % (2 ** 63 - 1)
    return torch.Generator().manual_seed(key)


def _as_index(index: Tensor | None, n: int) -> Tensor:
    return torch.arange(n) if index is None else torch.as_tensor(index, dtype=torch.long).reshape(-1)


def draw_source_params(labels: Tensor, *, seed: int = 0, index: Tensor | None = None,
                       config: SimulatorConfig = SimulatorConfig()) -> dict[str, Tensor]:
    """Draw the injection parameters of each sample.

    Args:
        labels: int64 ``(B,)`` class indices.
        seed: dataset seed.
        index: int64 ``(B,)`` sample indices (default ``0..B-1``): sample ``i`` depends only
            on ``(seed, i)``.
        config: the simulator configuration.

    Returns:
        dict of ``members`` bool (B, 4), ``f0`` float64 (B, 4) Hz (0 where the waveform is
        absent), ``amplitude`` float32 (B, 4) (0 where absent), ``phase`` float64 (B, 4)
        cycles, ``order`` int64 (B, 4) (slot -> waveform; the first ``k`` slots are the
        members in visiting order), ``k`` int64 (B,), ``offset`` float64 (B,) slot-grid shift.
    """
    labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
    index = _as_index(index, len(labels))
    if len(index) != len(labels):
        raise ValueError(f"index has {len(index)} entries but labels has {len(labels)}")
    members = class_members(labels)
    u = torch.stack([torch.rand(17, generator=_rng(seed, int(i), 0), dtype=torch.float64) for i in index]) \
        if len(index) else torch.zeros(0, 17, dtype=torch.float64)
    lo, hi = math.log(config.f_min), math.log(config.f_max)
    f0 = torch.exp(lo + (hi - lo) * u[:, 0:4])
    alo, ahi = (math.log(a) for a in config.amplitude_range)
    amp = torch.exp(alo + (ahi - alo) * u[:, 4:8]).to(torch.float32)
    phase = u[:, 8:12]
    keys = torch.where(members, u[:, 12:16], torch.full_like(u[:, 12:16], 2.0))
    order = keys.argsort(dim=1)
    return {
        "members": members,
        "f0": torch.where(members, f0, torch.zeros_like(f0)),
        "amplitude": torch.where(members, amp, torch.zeros_like(amp)),
        "phase": phase,
        "order": order,
        "k": members.sum(1),
        "offset": u[:, 16],
    }


def synthesize(params: dict[str, Tensor], config: SimulatorConfig = SimulatorConfig()) -> Tensor:
    """The injected (source) signal of each sample, before the wiring.

    Args:
        params: output of ``draw_source_params``.
        config: the simulator configuration (``window``, ``sample_rate``, ``mux``).

    Returns:
        float32 ``(B, window)``.
    """
    B, L, fs = params["f0"].shape[0], config.window, config.sample_rate
    M = config.max_harmonic
    tables = _wavetables(M).reshape(-1, _N_TABLE)  # (4 * (M + 1), T)
    t = torch.arange(L, dtype=torch.float64)
    f0 = params["f0"]
    m = torch.floor((fs / 2 - 1e-9) / f0.clamp(min=config.f_min)).long().clamp(1, M)  # harmonics kept
    rows = torch.arange(len(WAVEFORMS)) * (M + 1) + m  # (B, 4) wavetable row of each waveform
    if config.mux == "sum":
        out = torch.zeros(B, L)
        for w in range(len(WAVEFORMS)):
            on = params["members"][:, w]
            if on.any():
                phi = torch.frac(params["phase"][on, w:w + 1] + f0[on, w:w + 1] * t / fs)
                row = rows[on, w:w + 1].expand(-1, L)
                out[on] += _lookup(tables, row, phi) * params["amplitude"][on, w:w + 1]
        return out
    # time-division: one lookup per time step, of the waveform whose slot it is
    k = params["k"].clamp(min=1)
    slot = torch.floor((t[None] / L + params["offset"][:, None]) * k[:, None]).long() % k[:, None]  # (B, L)
    which = params["order"].gather(1, slot)  # waveform index per time step
    phi = torch.frac(params["phase"].gather(1, which) + f0.gather(1, which) * (t / fs))
    return _lookup(tables, rows.gather(1, which), phi) * params["amplitude"].gather(1, which)


def transfer_function(location: int, config: SimulatorConfig = SimulatorConfig(), n: int | None = None) -> Tensor:
    """Complex frequency response of location ``location``'s wiring path on the rfft grid.

    ``gain * LP2(f / lowpass) * HP1(f / highpass)`` with a 2nd-order Butterworth low-pass and
    a 1st-order high-pass.

    Returns:
        complex64 ``(n // 2 + 1,)`` for ``n`` samples (default ``config.window``).
    """
    n = n or config.window
    f = torch.fft.rfftfreq(n, d=1 / config.sample_rate).to(torch.float64)
    s = 1j * f / config.lowpass_hz[location]
    lp = 1 / (1 + math.sqrt(2) * s + s ** 2)
    r = 1j * f / config.highpass_hz[location]
    hp = r / (1 + r)
    return (config.gain[location] * lp * hp).to(torch.complex64)


def _unit_power(x: Tensor) -> Tensor:
    p = x.pow(2).mean(-1, keepdim=True)
    return x / p.clamp(min=1e-20).sqrt()


def _interference(loc: Tensor, index: Tensor, seed: int, config: SimulatorConfig) -> tuple[Tensor, Tensor]:
    """Unit-power interference of each sample at its location and its SNR draw.

    Returns:
        float32 ``(B, L)`` interference of mean power 1, float64 ``(B,)`` SNR in dB.
    """
    B, L, fs = len(loc), config.window, config.sample_rate
    F = L // 2 + 1
    H = (config.mains_harmonics + 1) // 2
    E, I = config.transients, config.impulses
    nu = 1 + H + 4 * E + 2 * I
    nz = 1 + 2 * F + E + I
    u = torch.empty(B, nu, dtype=torch.float64)
    z = torch.empty(B, nz, dtype=torch.float32)
    for b in range(B):
        g = _rng(seed, int(index[b]), 1 + int(loc[b]))
        u[b] = torch.rand(nu, generator=g, dtype=torch.float64)
        z[b] = torch.randn(nz, generator=g)
    snr = torch.tensor(config.snr_db, dtype=torch.float64)[loc] + config.snr_jitter_db * z[:, 0].double()
    ofs = 1
    # coloured background noise, 1/f^beta power spectrum
    f = torch.fft.rfftfreq(L, d=1 / fs)
    beta = torch.tensor(config.noise_beta, dtype=torch.float32)[loc][:, None]
    shape = f.clamp(min=f[1]).unsqueeze(0).pow(-beta / 2)
    shape[:, 0] = 0
    spec = torch.complex(z[:, ofs:ofs + F], z[:, ofs + F:ofs + 2 * F]) * shape
    ofs += 2 * F
    noise = _unit_power(torch.fft.irfft(spec, n=L))
    # mains: 60 Hz and odd harmonics (amplitude 1/h), one period as a wavetable
    h = torch.arange(1, 2 * H, 2)
    coef = torch.zeros(B, _N_TABLE // 2 + 1, dtype=torch.complex64)
    coef[:, h] = (torch.exp(2j * math.pi * u[:, 1:1 + H]) / h).to(torch.complex64) * (_N_TABLE / 2)
    table = torch.fft.irfft(coef, n=_N_TABLE)  # (B, T)
    # mains is band-limited to mains_harmonics * mains_hz (1.5 kHz): synthesise it on a coarse
    # grid (>= 4 points per period of its top harmonic) and upsample linearly
    step = max(1, int(fs / (4 * config.mains_hz * (2 * H - 1))))
    Lc = -(-L // step) + 1
    phi = torch.frac(u[:, 0:1] + config.mains_hz * step * torch.arange(Lc, dtype=torch.float64) / fs)
    coarse = _lookup(table, torch.arange(B)[:, None].expand(B, Lc), phi)
    mains = torch.nn.functional.interpolate(coarse[:, None], size=(Lc - 1) * step + 1, mode="linear",
                                            align_corners=True)[:, 0, :L]
    mains = _unit_power(mains)
    uo = 1 + H
    # switching transients: damped sinusoids at random times (scatter-added, wrapping)
    k = torch.arange(_TRANSIENT_LEN, dtype=torch.float32)
    t0 = (u[:, uo:uo + E] * L).long()
    fr = torch.exp(math.log(5e3) + (math.log(min(60e3, 0.45 * fs)) - math.log(5e3)) * u[:, uo + E:uo + 2 * E]).float()
    tau = torch.exp(math.log(0.02e-3 * fs) + (math.log(0.3e-3 * fs) - math.log(0.02e-3 * fs)) * u[:, uo + 2 * E:uo + 3 * E]).float()
    ph = 2 * math.pi * u[:, uo + 3 * E:uo + 4 * E].float()
    a = z[:, ofs:ofs + E]
    ofs += E
    kern = a[..., None] * torch.exp(-k / tau[..., None]) * torch.sin(2 * math.pi * fr[..., None] / fs * k + ph[..., None])
    pos = (t0[..., None] + k.long()) % L + (torch.arange(B) * L)[:, None, None]
    trans = torch.zeros(B * L).index_add_(0, pos.reshape(-1), kern.reshape(-1)).reshape(B, L)
    trans = _unit_power(trans)
    uo += 4 * E
    # impulses: single-sample spikes at random times
    ip = (u[:, uo:uo + I] * L).long() + (torch.arange(B) * L)[:, None]
    imp = torch.zeros(B * L).index_add_(0, ip.reshape(-1), z[:, ofs:ofs + I].reshape(-1)).reshape(B, L)
    imp = _unit_power(imp)
    w = torch.tensor(config.mix, dtype=torch.float32)[loc]
    w = (w / w.sum(1, keepdim=True)).sqrt()
    total = w[:, 0:1] * noise + w[:, 1:2] * mains + w[:, 2:3] * trans + w[:, 3:4] * imp
    return _unit_power(total), snr


def propagate(source: Tensor, location: Tensor, *, seed: int = 0, index: Tensor | None = None,
              config: SimulatorConfig = SimulatorConfig(), return_parts: bool = False):
    """What the sensor at ``location`` records of each injected ``source``.

    The source passes the location's wiring (``transfer_function``), then the location's
    interference is added, scaled so that received-signal power over interference power is
    ``10^(snr/10)`` with ``snr ~ N(snr_db[location], snr_jitter_db^2)`` per recording. For
    background samples (no injection) the reference power is that of a unit sine through
    the location's gain, ``gain^2 / 2``.

    Args:
        source: float32 ``(B, L)`` injected signals.
        location: int64 ``(B,)`` location of each sample.
        seed, index: as in ``draw_source_params``.
        config: the simulator configuration.
        return_parts: also return the received signal and the interference.

    Returns:
        float32 ``(B, L)`` recordings, or a dict with ``x``, ``signal``, ``interference``,
        ``snr_db`` (float64 (B,), the per-recording SNR drawn).
    """
    location = torch.as_tensor(location, dtype=torch.long).reshape(-1)
    B, L = source.shape
    index = _as_index(index, B)
    if len(location) != B or len(index) != B:
        raise ValueError(f"source has {B} rows but location has {len(location)} and index {len(index)}")
    if B and (location.min() < 0 or location.max() >= config.n_locations):
        raise ValueError(f"location must lie in [0, {config.n_locations}), got {location.tolist()[:8]}...")
    Hs = torch.stack([transfer_function(l, config, L) for l in range(config.n_locations)])[location]
    received = torch.fft.irfft(torch.fft.rfft(source) * Hs, n=L)
    p_sig = received.pow(2).mean(-1)
    p_ref = torch.tensor(config.gain, dtype=torch.float32)[location] ** 2 / 2
    p_sig_eff = torch.where(p_sig > 1e-12 * p_ref, p_sig, p_ref)
    interf, snr = _interference(location, index, seed, config)
    scale = (p_sig_eff.double() / 10 ** (snr / 10)).sqrt().float()
    interf = interf * scale[:, None]
    x = received + interf
    if return_parts:
        return {"x": x, "signal": received, "interference": interf, "snr_db": snr}
    return x


def simulate(labels: Tensor, *, seed: int = 0, index: Tensor | None = None, location: Tensor | None = None,
             config: SimulatorConfig = SimulatorConfig(), return_parts: bool = False):
    """Simulate recordings of the given classes.

    Args:
        labels: int64 ``(B,)`` class indices in ``[0, 16)``.
        seed: dataset seed; sample ``i`` depends only on ``(seed, index[i])`` (and location).
        index: int64 ``(B,)`` sample indices (default ``0..B-1``).
        location: int64 ``(B,)``: simulate only that sensor per sample (what the dataset
            uses); ``None``: all six sensors.
        config: the simulator configuration.
        return_parts: also return the source, received signal, interference and parameters.

    Returns:
        float32 ``(B, window)`` when ``location`` is given, else ``(B, 6, window)``; with
        ``return_parts`` a dict with ``x``, ``source``, ``signal``, ``interference``,
        ``snr_db`` and ``params``.
    """
    labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
    index = _as_index(index, len(labels))
    params = draw_source_params(labels, seed=seed, index=index, config=config)
    source = synthesize(params, config)
    if location is not None:
        out = propagate(source, location, seed=seed, index=index, config=config, return_parts=True)
    else:
        B, n = len(labels), config.n_locations
        loc = torch.arange(n).repeat(B)
        out = propagate(source.repeat_interleave(n, 0), loc, seed=seed, index=index.repeat_interleave(n),
                        config=config, return_parts=True)
        out = {k: v.reshape(B, n, *v.shape[1:]) for k, v in out.items()}
    if return_parts:
        return {**out, "source": source, "params": params}
    return out["x"]


def measure_snr(n_per_location: int = 32, *, seed: int = 0, config: SimulatorConfig = SimulatorConfig()) -> Tensor:
    """Measured SNR of simulated recordings at each location.

    Simulates ``n_per_location`` injections (classes 1..15, no background) per location,
    and measures ``10 log10(P_signal / P_interference)`` per recording from the received
    signal and the interference the simulator returns.

    Returns:
        float64 ``(6, n_per_location)`` per-recording SNR in dB, row = location.
    """
    n = config.n_locations
    i = torch.arange(n * n_per_location)
    out = simulate(1 + i % 15, seed=seed, index=i, location=i % n, config=config, return_parts=True)
    snr = 10 * torch.log10(out["signal"].double().pow(2).mean(-1) / out["interference"].double().pow(2).mean(-1))
    return snr.reshape(n_per_location, n).T


def harmonic_amplitudes(kind: str, n_harmonics: int = 9, *, config: SimulatorConfig = SimulatorConfig(),
                        bin_f0: int = 41) -> Tensor:
    """Measured amplitudes of harmonics ``1..n_harmonics`` of a simulated waveform,
    relative to the fundamental (FFT of one window, fundamental on the FFT grid).

    Returns:
        float64 ``(n_harmonics,)``.
    """
    f0 = bin_f0 * config.sample_rate / config.window
    A = torch.fft.rfft(waveform(kind, f0, config.window, config.sample_rate).double()).abs()
    return A[bin_f0 * torch.arange(1, n_harmonics + 1)] / A[bin_f0]
