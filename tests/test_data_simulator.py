"""Tests of the harmonic-signal simulator (nsde.data.simulator)."""
import math

import pytest
import torch

from nsde.data import (CLASS_NAMES, LOCATION_NAMES, WAVEFORMS, SimulatorConfig, class_members, draw_source_params,
                       simulate, synthesize, waveform)

FS, L = 200_000.0, 8192
BIN = 41  # an on-grid fundamental: 41 * FS / L ~ 1.0 kHz


def _amplitudes(x: torch.Tensor) -> torch.Tensor:
    return torch.fft.rfft(x.double()).abs() / (len(x) / 2)


def test_sixteen_classes_are_the_subsets_of_four_waveforms():
    assert len(CLASS_NAMES) == 16 and len(set(CLASS_NAMES)) == 16
    m = class_members(torch.arange(16))
    assert m.shape == (16, 4)
    assert len({tuple(r.tolist()) for r in m}) == 16
    assert not m[0].any() and CLASS_NAMES[0] == "background"
    assert m[15].all()
    with pytest.raises(ValueError, match="labels"):
        class_members(torch.tensor([16]))


@pytest.mark.parametrize("kind", WAVEFORMS)
@pytest.mark.parametrize("f0", [600.0, 12_345.0, 47_000.0])
def test_spectrum_peaks_at_fundamental(kind, f0):
    A = _amplitudes(waveform(kind, f0, L, FS, phase=0.3))
    peak_hz = int(A.argmax()) * FS / L
    assert abs(peak_hz - f0) <= FS / L, (kind, f0, peak_hz)


def test_square_has_odd_harmonics_falling_as_one_over_n():
    A = _amplitudes(waveform("square", BIN * FS / L, L, FS))
    a1 = A[BIN]
    for n in range(2, 12):
        ratio = float(A[n * BIN] / a1)
        if n % 2:
            assert ratio == pytest.approx(1 / n, rel=0.02), n
        else:
            assert ratio < 1e-3, n


def test_triangle_has_odd_harmonics_falling_as_one_over_n_squared():
    A = _amplitudes(waveform("triangle", BIN * FS / L, L, FS))
    a1 = A[BIN]
    for n in range(2, 12):
        ratio = float(A[n * BIN] / a1)
        if n % 2:
            assert ratio == pytest.approx(1 / n ** 2, rel=0.03), n
        else:
            assert ratio < 1e-3, n


def test_square75_misses_every_fourth_harmonic():
    A = _amplitudes(waveform("square75", BIN * FS / L, L, FS))
    for n in range(1, 12):
        expected = abs(math.sin(math.pi * n * 0.75)) / n / math.sin(math.pi * 0.75)
        assert float(A[n * BIN] / A[BIN]) == pytest.approx(expected, abs=2e-3), n


def test_waveforms_are_band_limited():
    f0 = 1229 * FS / L  # ~30 kHz, on the FFT grid: only the 3rd harmonic (90 kHz) fits below Nyquist
    A = _amplitudes(waveform("square", f0, L, FS))
    f = torch.arange(len(A)) * FS / L
    lines = (abs(f - f0) < 300) | (abs(f - 3 * f0) < 300)
    assert A[~lines].max() < 1e-3 * A.max()  # no aliased 5th, 7th, ... harmonics


def test_same_seed_gives_identical_tensors_and_batching_does_not_matter():
    y = torch.arange(16)
    loc = torch.arange(16) % 6
    a = simulate(y, seed=3, location=loc)
    b = simulate(y, seed=3, location=loc)
    assert torch.equal(a, b)
    parts = torch.cat([simulate(y[i:i + 5], seed=3, index=torch.arange(i, min(i + 5, 16)), location=loc[i:i + 5])
                       for i in range(0, 16, 5)])
    assert torch.allclose(a, parts, atol=1e-5)
    c = simulate(y, seed=4, location=loc)
    assert not torch.allclose(a, c)


def test_all_six_channels_match_single_location_simulation():
    y = torch.tensor([5, 10])
    full = simulate(y, seed=1)
    assert full.shape == (2, len(LOCATION_NAMES), SimulatorConfig().window)
    one = simulate(y, seed=1, location=torch.tensor([4, 4]))
    assert torch.allclose(full[:, 4], one, atol=1e-5)


def test_time_division_slots_hold_one_waveform_each():
    cfg = SimulatorConfig()
    p = draw_source_params(torch.tensor([3]), seed=0, config=cfg)  # sine + square
    x = synthesize(p, cfg)[0]
    assert p["k"].item() == 2
    # each half of the (shifted) window carries one waveform: its spectrum has one fundamental
    start = int(((1 - p["offset"].item()) % 0.5) * L)
    half = L // 2
    seg = torch.roll(x, -start)[100:half - 100]
    A = _amplitudes(seg)
    peak_hz = int(A.argmax()) * FS / len(seg)
    f0s = p["f0"][0][p["members"][0]].tolist()
    assert min(abs(peak_hz - f) for f in f0s) < 2 * FS / len(seg)


def test_background_class_has_no_injection():
    out = simulate(torch.zeros(4, dtype=torch.long), location=torch.arange(4), return_parts=True)
    assert out["source"].abs().max() == 0
    assert out["x"].abs().max() > 0  # interference only


def test_measured_snr_per_location_is_close_to_its_setting():
    cfg = SimulatorConfig()
    n = 100  # per location; the per-recording jitter (2 dB) averages to a 0.2 dB standard error
    y = 1 + torch.arange(n * 6) % 15  # every class but background
    loc = torch.arange(n * 6) % 6
    out = simulate(y, seed=0, location=loc, config=cfg, return_parts=True)
    snr = 10 * torch.log10(out["signal"].pow(2).mean(-1) / out["interference"].pow(2).mean(-1))
    for l in range(6):
        measured = snr[loc == l].mean().item()
        assert measured == pytest.approx(cfg.snr_db[l], abs=1.0), (l, measured)
    medians = [snr[loc == l].median().item() for l in range(6)]
    assert medians[0] - medians[-1] > 20  # locations clearly differ


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="snr_db"):
        SimulatorConfig(snr_db=(1.0, 2.0))
    with pytest.raises(ValueError, match="mux"):
        SimulatorConfig(mux="freq")
    with pytest.raises(ValueError, match="f_max"):
        SimulatorConfig(f_max=150_000.0)
    with pytest.raises(ValueError, match="location"):
        simulate(torch.tensor([1]), location=torch.tensor([6]))


def test_sum_mode_adds_waveforms():
    cfg = SimulatorConfig(mux="sum")
    p = draw_source_params(torch.tensor([3]), seed=0, config=cfg)
    x = synthesize(p, cfg)[0]
    A = _amplitudes(x)
    for f in p["f0"][0][p["members"][0]].tolist():
        b = round(f * L / FS)
        assert A[b - 2:b + 3].max() > 0.2 * A.max()
