"""Tests of nsde.measures.iaside (I-ASIDE): Shapley axioms, band partition, replacement modes,
SRS, batching invariance and bad input. Tiny stand-in models keep every test fast."""
import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from nsde.measures import iaside as sp
from nsde.measures.bands import band_power
from nsde.stats.inference import rank_correlation


class TinyNet(nn.Module):
    """A small non-linear CNN classifier: (B, 1, H, W) -> (B, classes)."""

    def __init__(self, classes: int = 3, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.head = nn.Linear(8, classes)

    def forward(self, x):
        h = torch.relu(self.conv(x))
        return self.head(torch.cat([h.mean((2, 3)), h.amax((2, 3))], 1))


class NoisyNet(TinyNet):
    """A stand-in with the `set_noise` protocol of nsde.core.models, to check the forward mode."""

    def __init__(self):
        super().__init__()
        self.modes = []

        self.state = ("train", None, 1)

    def set_noise(self, mode, seed=None, samples=1):  # noqa: D401  (the nsde.core.models protocol)
        self.modes.append(mode)
        self.state = (mode, seed, samples)

    def get_noise(self):
        return self.state


def images(n=6, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, size, size, generator=g), torch.randint(0, 3, (n,), generator=g)


# ----------------------------------------------------------------------------- bands
def reference_masks(d, m):
    """The reference code's construction (start = (d - side) // 2), per band."""
    out = []
    for i in range(m):
        mask = torch.zeros(d, d)
        for side, val in ((int(d * (i + 1) / m), 1), (int(d * i / m), 0)):
            s = (d - side) // 2
            mask[s:s + side, s:s + side] = val
        out.append(mask.bool())
    return torch.stack(out)


@pytest.mark.parametrize("size", [16, 17, 32, 33, 64, 20, 31])
@pytest.mark.parametrize("m", [2, 3, 8])
def test_bands_partition_spectrum(size, m):
    bands = sp.band_map(size, size, m)
    assert bands.shape == (size, size)
    counts = torch.bincount(bands.flatten(), minlength=m)
    assert counts.sum() == size * size and len(counts) == m  # each bin in exactly one band
    assert (counts > 0).all()  # no band empty
    assert bands[size // 2, size // 2] == 0  # DC bin in the lowest band
    # nested rings: band i lies inside square i and outside square i - 1
    ref = reference_masks(size, m)
    for i in range(m):
        side = int(size * (i + 1) / m)
        if size % 2 == 1 or side % 2 == 0:  # where the reference centring coincides
            if size % 2 == 1 or int(size * i / m) % 2 == 0:
                assert torch.equal(bands == i, ref[i]), (size, m, i)


def test_bands_non_square_partition():
    bands = sp.band_map(20, 32, 4)
    assert torch.bincount(bands.flatten(), minlength=4).sum() == 640
    assert bands[10, 16] == 0 and bands[0, 0] == 3


# ---------------------------------------------------------------------- replacement
def test_random_replacement_on_identical_images_returns_image():
    x = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(3)).repeat(4, 1, 1, 1)
    out = sp.coalition_filter(x, sp.all_coalitions(8), 8, replace="random")
    expected = (x - x.amin()) / (x.amax() - x.amin())
    assert out.shape == (256, 4, 1, 16, 16)
    assert torch.allclose(out[1:], expected.expand_as(out[1:]), atol=1e-5)
    assert (out[0] == 0).all()  # empty coalition = all-zero image


def test_grand_coalition_is_image_and_modes_differ():
    x, _ = images()
    full = sp.all_coalitions(8)[-1:]
    low = sp.all_coalitions(8)[1:2]  # band 0 only
    for mode in sp.REPLACE_MODES:
        per_image = sp.coalition_filter(x, full, 8, replace=mode, normalise="image")[0]
        mm = (x - x.amin((1, 2, 3), keepdim=True)) / (x.amax((1, 2, 3), keepdim=True) - x.amin((1, 2, 3), keepdim=True))
        assert torch.allclose(per_image, mm, atol=1e-5)
        per_set = sp.coalition_filter(x, full, 8, replace=mode)[0]  # the reference: over the whole set
        assert torch.allclose(per_set, (x - x.min()) / (x.max() - x.min()), atol=1e-5)
    a, b, c = (sp.coalition_filter(x, low, 8, replace=m)[0] for m in sp.REPLACE_MODES)
    assert not torch.allclose(a, b) and not torch.allclose(b, c)
    assert a.min() >= 0 and a.max() <= 1


def test_reference_normalisation_is_over_the_set_and_differs_from_per_image():
    x, y = images(n=6)
    x = x * torch.linspace(0.2, 1.0, 6).view(-1, 1, 1, 1)  # images of different contrast
    low = sp.all_coalitions(8)[1:4]
    per_set = sp.coalition_filter(x, low, 8)
    for s_ in range(len(low)):  # one min and one max per coalition, over all images
        assert per_set[s_].min() == 0 and per_set[s_].max() == pytest.approx(1.0)
        assert sum(float(img.max()) > 0.999 for img in per_set[s_]) <= 2
    per_image = sp.coalition_filter(x, low, 8, normalise="image")
    assert all(float(img.max()) == pytest.approx(1.0) for img in per_image.reshape(-1, 16, 16) if img.max() > 0)
    net = TinyNet()
    a = sp.spectral_importance(net, x, y, n_bands=8, show_progress=False)
    b = sp.spectral_importance(net, x, y, n_bands=8, normalise="image", show_progress=False)
    assert a.normalise == "set" and b.normalise == "image"
    assert not np.allclose(a.values, b.values)
    with pytest.raises(ValueError, match="normalise must be one of"):
        sp.coalition_filter(x, low, 8, normalise="batch")


def test_a_band_empty_in_every_image_is_a_dummy_with_zero_replacement(monkeypatch):
    x, y = images(n=6)
    bands = sp.band_map(16, 16, 8)
    spec = sp.centred_spectrum(x.double())
    spec[..., bands >= 6] = 0  # bands 6 and 7 hold nothing in any image
    x = torch.fft.ifft2(torch.fft.ifftshift(spec, dim=(-2, -1))).real.float()
    x = (x - x.min()) / (x.max() - x.min())
    assert band_power(x, 8)[7] < 1e-12  # band 7 is empty (band 6 gets the real part's mirror bins)
    res = sp.spectral_importance(TinyNet(), x, y, n_bands=8, replace="zero", show_progress=False)
    # float32 residue in the empty band is not stretched to [0, 1]: it gets no credit
    assert abs(res.shapley[7]) < 1e-4 * np.abs(res.shapley).max()
    monkeypatch.setattr(sp, "RESIDUE", 0.0)  # the old "span > 0" rule: residue becomes an image
    old = sp.spectral_importance(TinyNet(), x, y, n_bands=8, replace="zero", show_progress=False)
    assert abs(old.shapley[7]) > 1e-2 * np.abs(old.shapley).max()


def test_partner_is_derangement():
    p = sp.partner_permutation(50, seed=1)
    assert sorted(p.tolist()) == list(range(50))
    assert (p != torch.arange(50)).all()
    assert torch.equal(p, sp.partner_permutation(50, seed=1))


# -------------------------------------------------------------------------- Shapley
def brute_force_shapley(v, m):
    psi = np.zeros(m)
    for perm in itertools.permutations(range(m)):
        c = 0
        for i in perm:
            psi[i] += v[c | (1 << i)] - v[c]
            c |= 1 << i
    return psi / math.factorial(m)


def test_shapley_matches_permutation_definition():
    v = np.random.default_rng(0).normal(size=2**5)
    assert np.allclose(sp.shapley_values(v), brute_force_shapley(v, 5))


def test_shapley_symmetry_and_dummy_on_synthetic_game():
    m, rng = 6, np.random.default_rng(1)
    table = rng.normal(size=(3, 2**m))
    idx = np.arange(2**m)
    # v depends on bands 1 and 4 only through how many of them are in S (symmetric),
    # and not at all on band 5 (dummy)
    rest = idx & ~((1 << 1) | (1 << 4) | (1 << 5))
    v = table[((idx >> 1) & 1) + ((idx >> 4) & 1), rest]
    psi = sp.shapley_values(v)
    assert psi[1] == pytest.approx(psi[4], abs=1e-12)
    assert psi[5] == pytest.approx(0.0, abs=1e-12)
    assert not np.isclose(psi[0], psi[2])  # the test can fail: other bands differ


def test_efficiency_end_to_end():
    x, y = images(n=5)
    res = sp.spectral_importance(TinyNet(), x, y, n_bands=4, show_progress=False)
    assert res.shapley.sum() == pytest.approx(res.v_all - res.v_empty, abs=1e-9)
    assert res.values.shape == (16,) and res.sid.sum() == pytest.approx(1.0)
    assert 0 <= res.srs


def shared_band_images(dummy, m=4, size=16):
    """Images whose bins in band ``dummy`` (and their mirrors -k, so the images stay real)
    are the same in every image."""
    x, y = images(n=6, size=size)
    spec = sp.centred_spectrum(x)
    band = sp.band_map(size, size, m) == dummy
    mirror = torch.roll(torch.flip(band, (0, 1)), (1, 1), (0, 1))  # bin -k of each bin k
    assert torch.equal(torch.roll(torch.flip(mirror, (0, 1)), (1, 1), (0, 1)), band)
    shared = band | mirror  # Hermitian-closed set
    spec[:, :, shared] = spec[0:1, :, shared]
    x2 = torch.fft.ifft2(torch.fft.ifftshift(spec, dim=(-2, -1))).real
    return x2 - x2.amin() + 0.01, y  # positive: the magnitude is the image (DC is band 0)


def test_dummy_band_gets_zero_random_replacement():
    """A band with the same content in every image: swapping it with the partner's changes
    nothing the model sees, so it is a dummy player for any model."""
    x, y = shared_band_images(dummy=2)
    res = sp.spectral_importance(TinyNet(), x, y, n_bands=4, empty="replace", show_progress=False)
    assert res.shapley[2] == pytest.approx(0.0, abs=1e-5)
    assert np.abs(res.shapley).max() > 1e-3  # the other bands matter
    # the reference's all-zero empty coalition breaks the axiom by (v(partners) - v(0)) / M
    ref = sp.spectral_importance(TinyNet(), x, y, n_bands=4, empty="zero", show_progress=False)
    gap = (ref.values[0b0100] - ref.values[0]) / 4
    assert abs(gap) > 1e-4 and ref.shapley[2] == pytest.approx(gap, abs=1e-5)


def test_batching_does_not_change_values():
    x, y = images(n=5)
    a = sp.coalition_values(TinyNet(), x, y, 4, batch_size=7, show_progress=False)
    b = sp.coalition_values(TinyNet(), x, y, 4, batch_size=80, show_progress=False)
    some = [0, 5, 10, 15]
    c = torch.stack([sp.coalition_values(TinyNet(), x, y, 4, coalitions=sp.all_coalitions(4)[i:i + 1],
                                         batch_size=2, show_progress=False)[0] for i in some])
    assert torch.allclose(a, b, atol=1e-6) and torch.allclose(a[some], c, atol=1e-6)


def test_seeded_and_forward_mode_restored():
    x, y = images(n=6)
    net = NoisyNet().train()
    r1 = sp.spectral_importance(net, x, y, n_bands=2, k=4, seed=3, show_progress=False)
    r2 = sp.spectral_importance(TinyNet(), x, y, n_bands=2, k=4, seed=3, show_progress=False)
    assert np.array_equal(r1.values, r2.values)
    assert net.training  # train/eval flag restored
    assert net.modes[0] == "off"  # noise off by default
    assert net.state == ("train", None, 1)  # previous noise setting restored
    sp.spectral_importance(net, x, y, n_bands=2, k=4, seed=3, noise="on", show_progress=False)
    assert net.modes[-2] == "on"


# ------------------------------------------------------------------------------ SRS
def test_srs_uniform_is_zero_and_low_beats_high():
    assert sp.spectral_robustness_score(np.full(8, 1 / 8)) == pytest.approx(0.0, abs=1e-12)
    low = sp.spectral_robustness_score(np.r_[1.0, np.zeros(7)])
    mid = sp.spectral_robustness_score(np.r_[0.5, 0.5, np.zeros(6)])
    assert low > mid > 0


def test_importance_distribution():
    sid = sp.importance_distribution([0.5, -0.5, 1.5])
    assert np.allclose(sid, [1 / 3, 0, 2 / 3])
    assert np.allclose(sp.importance_distribution([2.0, 2.0]), [0.5, 0.5])


# ------------------------------------------------------------------------ band power
def test_band_power_sums_to_one_and_locates_power():
    size = 32
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    checker = ((yy + xx) % 2).float()[None] * 2 - 1  # all power at the Nyquist corner
    p = band_power(checker, 8)
    assert p.sum() == pytest.approx(1.0) and p[-1] == pytest.approx(1.0)
    flat = torch.ones(1, size, size)
    assert band_power(flat, 8)[0] == pytest.approx(1.0)


# ------------------------------------------------------------------------ bad input
def test_bad_input_errors():
    x, y = images(n=4)
    net = TinyNet()
    with pytest.raises(ValueError, match="n_bands"):
        sp.spectral_importance(net, x, y, n_bands=1)
    with pytest.raises(ValueError, match="too small"):
        sp.spectral_importance(net, *images(n=4, size=12), n_bands=8)
    with pytest.raises(ValueError, match="too small"):
        sp.band_map(17, 17, 18)
    with pytest.raises(ValueError, match="2\\^17"):
        sp.spectral_importance(net, x, y, n_bands=17)
    with pytest.raises(ValueError, match="empty-coalition mode"):
        sp.spectral_importance(net, x, y, n_bands=2, empty="none")
    with pytest.raises(ValueError, match="k=5"):
        sp.spectral_importance(net, x, y, n_bands=2, k=5)
    with pytest.raises(ValueError, match="replace mode 'blur'"):
        sp.spectral_importance(net, x, y, n_bands=2, replace="blur")
    with pytest.raises(ValueError, match="noise"):
        sp.spectral_importance(net, x, y, n_bands=2, noise="sometimes")
    with pytest.raises(ValueError, match="partner"):
        sp.coalition_filter(x, sp.all_coalitions(2), 2, partner=torch.tensor([0, 1, 2, 4]))
    with pytest.raises(ValueError, match=r"y must have shape \(4,\)"):
        sp.coalition_values(net, x, y[:3], 2)
    with pytest.raises(ValueError, match="sid"):
        sp.spectral_robustness_score([0.0, 0.0])
    with pytest.raises(ValueError, match="2\\^M"):
        sp.shapley_values(np.zeros(6))


def test_rank_correlation():
    rho, p, n = rank_correlation([1, 2, 3, 4], [10, 20, 30, 40])
    assert rho == pytest.approx(1.0) and n == 4 and p == pytest.approx(2 / 24)
    rho, p, _ = rank_correlation([1, 2, 3], [3, 2, 1])
    assert rho == pytest.approx(-1.0) and p == pytest.approx(2 / 6)
    assert np.isnan(rank_correlation([1, 1, 1], [1, 2, 3])[0])
    with pytest.raises(ValueError, match="length"):
        rank_correlation([1, 2], [1, 2])
