"""Tests of nsde.core.noise: unit mean power, Brownian-sheet covariance, power-law slopes."""
import math

import pytest
import torch

from nsde.core.noise import SHAPES, make_shaper, radial_power_spectrum, shaped_noise
from nsde.report.figures import plot_noise_surfaces


def _white(n, h, w, seed=0):
    return torch.randn(n, h, w, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", SHAPES)
def test_unit_mean_power_and_shape(name):
    z = _white(4000, 12, 12)
    out = make_shaper(name)(z)
    assert out.shape == z.shape and out.dtype == z.dtype
    per_pos_var = out.var(dim=0)
    assert abs(per_pos_var.mean().item() - 1.0) < 0.05


def test_powerlaw_general_beta_unit_power():
    out = make_shaper("powerlaw", beta=1.5)(_white(4000, 16, 16))
    assert abs(out.var(dim=0).mean().item() - 1.0) < 0.05


def test_brownian_sheet_variance_grows_and_covariance_is_min_min():
    h, w = 6, 5
    z = _white(40000, h, w, seed=1)
    sheet = make_shaper("brownian")(z) * math.sqrt((h + 1) / 2 * (w + 1) / 2)  # undo normalisation
    flat = sheet.reshape(len(z), -1)
    cov = (flat.T @ flat) / len(z)
    for (i, j), (k, l) in [((0, 0), (0, 0)), ((5, 4), (5, 4)), ((2, 3), (4, 1)), ((1, 4), (3, 2)), ((5, 0), (0, 4))]:
        expected = (min(i, k) + 1) * (min(j, l) + 1)
        got = cov[i * w + j, k * w + l].item()
        assert abs(got - expected) < 0.06 * (h * w) ** 0.5 * expected ** 0.5 + 0.05, ((i, j), (k, l), got, expected)
    var = sheet.var(dim=0)
    assert var[-1, -1] > 10 * var[0, 0]


@pytest.mark.parametrize("name,beta", [("white", 0.0), ("pink", 1.0), ("brown", 2.0), ("powerlaw", 1.5)])
def test_powerlaw_spectral_slope(name, beta):
    shaper = make_shaper(name, beta) if name == "powerlaw" else make_shaper(name)
    field = shaper(_white(200, 64, 64, seed=2))
    f, p = radial_power_spectrum(field)
    slope = torch.linalg.lstsq(torch.stack([f.log(), torch.ones_like(f)], 1), p.log()[:, None]).solution[0].item()
    assert abs(slope + beta) < 0.1, slope


def test_shaped_noise_reproducible_with_generator():
    a = shaped_noise((2, 8, 8), "pink", generator=torch.Generator().manual_seed(3))
    b = shaped_noise((2, 8, 8), "pink", generator=torch.Generator().manual_seed(3))
    c = shaped_noise((2, 8, 8), "pink", generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_bad_input_errors():
    with pytest.raises(ValueError, match="violet"):
        make_shaper("violet")
    with pytest.raises(ValueError, match="beta"):
        make_shaper("powerlaw")
    with pytest.raises(ValueError, match="-1"):
        make_shaper("powerlaw", beta=-1)
    with pytest.raises(ValueError, match="beta"):
        make_shaper("white", beta=1.0)
    with pytest.raises(ValueError, match="shape"):
        make_shaper("pink")(torch.zeros(5))
    with pytest.raises(ValueError, match="square"):
        radial_power_spectrum(torch.zeros(4, 6))


def test_plot_noise_surfaces_returns_figure():
    import matplotlib
    matplotlib.use("agg")
    fig = plot_noise_surfaces({"white": torch.zeros(4, 4), "pink": torch.ones(4, 4)}, title="t")
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="2-D"):
        plot_noise_surfaces({"bad": torch.zeros(2, 2, 2)})


@pytest.mark.parametrize("name", SHAPES + ("powerlaw",))
@pytest.mark.parametrize("size", [(1, 1), (2, 2), (4, 4), (8, 8), (5, 7), (16, 16)])
def test_dense_small_field_path_equals_definition(name, size):
    shaper = make_shaper(name, 1.5) if name == "powerlaw" else make_shaper(name)
    for dtype in (torch.float32, torch.float64):
        z = _white(6, *size).to(dtype)
        fast = shaper(z)
        assert fast.dtype == dtype and fast.shape == z.shape
        ref = shaper._apply(z) if name != "white" else z
        tol = 1e-5 if dtype == torch.float32 else 1e-12
        assert torch.allclose(fast, ref, atol=tol, rtol=0), (name, size, dtype)


@pytest.mark.parametrize("name", SHAPES + ("powerlaw",))
@pytest.mark.parametrize("size", [(1, 1), (2, 2), (4, 4), (5, 7), (8, 8), (16, 16), (20, 12)])
def test_channels_last_and_hwbc_layouts_give_the_definition(name, size):
    """NSDE blocks shape noise stored (H, W, B, C) (separable matrix products) or channels-last:
    the same linear map as the definition, and the layout is kept."""
    from nsde.core.noise import channels_last, hwbc

    shaper = make_shaper(name, 1.5) if name == "powerlaw" else make_shaper(name)
    for dtype in (torch.float32, torch.float64):
        z = _white(6, *size).view(2, 3, *size).to(dtype)
        ref = shaper._apply(z) if name != "white" else z
        for stored, kept in ((z.permute(2, 3, 0, 1).contiguous().permute(2, 3, 0, 1), hwbc),
                             (z.contiguous(memory_format=torch.channels_last), channels_last)):
            out = shaper(stored)
            assert out.shape == z.shape and out.dtype == dtype
            if kept(stored):
                assert kept(out), (name, size, kept.__name__)
            tol = 2e-5 if dtype == torch.float32 else 1e-12
            assert torch.allclose(out, ref, atol=tol, rtol=0), (name, size, dtype, kept.__name__)


def test_hwbc_shaping_ignores_autocast():
    """Inside a bf16 autocast region (bf16 models) the noise is still shaped in float32."""
    z = _white(8, 16, 16).view(2, 4, 16, 16).permute(2, 3, 0, 1).contiguous().permute(2, 3, 0, 1)
    shaper = make_shaper("pink")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = shaper(z)
    assert out.dtype == torch.float32
    assert torch.allclose(out, shaper._apply(z.contiguous()), atol=2e-5, rtol=0)
