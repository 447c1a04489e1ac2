"""Tests of nsde.measures.attribution: Captum attributions, IG completeness, stability measures."""
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from nsde.measures.attribution import (METHODS, attribute, attribution_change, attribution_stability, completeness_gap,
                                       normalize_attributions, spearman_rank, stability_summary, topk_intersection)


class SmoothNet(nn.Module):
    """A tiny nonlinear convnet whose attributions depend on the input."""

    def __init__(self, classes: int = 3):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 8 * 8, classes)

    def forward(self, x):
        return self.fc(torch.tanh(3 * self.conv(x)).flatten(1))


def _convnext(kind: str) -> nn.Module:
    """A 32x32 convnext_atto with non-trivial weights.

    At initialisation timm's stem conv has zero bias and is followed by a LayerNorm, so the
    untrained network is scale-invariant (f(a x) = f(x) for a > 0) and jumps at the zero
    baseline, where completeness cannot hold; training gives the stem a bias. We set one,
    open the layer-scale gates and scale the head so that f(x) - f(0) is of order 1.
    """
    from nsde.core.models import build_model

    torch.manual_seed(0)
    m = build_model("convnext_atto", kind=kind, image_size=32, sigma=0.3, num_classes=16).eval()
    with torch.no_grad():
        m.net.stem[0].bias.normal_(0, 1.0)
        for name, p in m.named_parameters():
            if name.endswith("gamma"):
                p.fill_(0.5)
        m.net.head.fc.weight.mul_(50)
    return m


@pytest.mark.parametrize("kind", ["baseline", "nsde"])
def test_ig_completeness_on_convnext(kind):
    m = _convnext(kind)
    x = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    target = torch.tensor([0, 5])
    a = attribute(m, x, target, "ig", n_steps=16, internal_batch_size=32, noise_seed=4)
    gap = completeness_gap(m, x, target, a, noise_seed=4)
    assert (gap["delta_f"].abs() > 0.05).all(), "test model too flat to be informative"
    assert (gap["rel_gap"] < 0.02).all(), gap


def test_nsde_ig_uses_the_fixed_noise_path():
    m = _convnext("nsde")
    x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(2))
    a0 = attribute(m, x, 1, "ig", n_steps=8, noise_seed=0)
    a0_again = attribute(m, x, 1, "ig", n_steps=8, noise_seed=0)
    a1 = attribute(m, x, 1, "ig", n_steps=8, noise_seed=1)
    assert torch.equal(a0, a0_again)
    assert not torch.allclose(a0, a1)
    # completeness holds against the same path, not against another one
    gap_other = completeness_gap(m, x, 1, a0, noise_seed=1)
    assert (gap_other["rel_gap"] > 0.02).any()
    # K paths: the mean of the per-path attributions
    a01 = attribute(m, x, 1, "ig", n_steps=8, noise_seed=0, noise_paths=2)
    torch.testing.assert_close(a01, (a0 + a1) / 2)
    assert m.get_noise() == ("train", None, 1)  # noise setting restored


def test_methods_shapes_and_batching():
    m = SmoothNet()
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([0, 1, 2, 0, 1])
    for method in METHODS:
        a = attribute(m, x, t, method, n_steps=8, nt_samples=3, batch_size=2, internal_batch_size=8)
        assert a.shape == x.shape and a.dtype == torch.float32
        if method != "noisetunnel":  # (NoiseTunnel's draws follow the chunking)
            b = attribute(m, x, t, method, n_steps=8, batch_size=5, internal_batch_size=None)
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)  # batching changes nothing
    assert (attribute(m, x, t, "saliency") >= 0).all()
    nt1 = attribute(m, x, t, "noisetunnel", n_steps=8, nt_samples=3, seed=3)
    nt2 = attribute(m, x, t, "noisetunnel", n_steps=8, nt_samples=3, seed=3)
    ig = attribute(m, x, t, "ig", n_steps=8)
    assert torch.equal(nt1, nt2) and not torch.allclose(nt1, ig)


def test_bad_input_errors():
    m = SmoothNet(classes=3)
    x = torch.rand(2, 1, 8, 8)
    with pytest.raises(ValueError, match="method must be one of .* but found 'gradcam'"):
        attribute(m, x, 0, "gradcam")
    with pytest.raises(ValueError, match=r"target holds class 3, outside \[0, 3\)"):
        attribute(m, x, [0, 3], "ig")
    with pytest.raises(ValueError, match="target holds class -1"):
        attribute(m, x, -1, "saliency")
    with pytest.raises(ValueError, match="one label per image"):
        attribute(m, x, [0, 1, 2], "ig")
    with pytest.raises(ValueError, match="n_steps"):
        attribute(m, x, 0, "ig", n_steps=0)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        attribute(m, x[0], 0, "ig")


def test_normalisation_and_change_bounds():
    a = torch.randn(4, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    n = normalize_attributions(a)
    torch.testing.assert_close(n.reshape(4, -1).abs().sum(1), torch.ones(4))
    assert torch.equal(normalize_attributions(torch.zeros(2, 1, 3, 3)), torch.zeros(2, 1, 3, 3))
    assert torch.equal(attribution_change(a, a), torch.zeros(4))
    torch.testing.assert_close(attribution_change(a, 7 * a), torch.zeros(4), atol=1e-6, rtol=0)  # scale-free
    torch.testing.assert_close(attribution_change(a, -a), torch.full((4,), 2.0))  # the maximum


def test_topk_and_spearman_by_hand():
    a = torch.tensor([[4.0, 3.0, 2.0, 1.0]])
    b = torch.tensor([[1.0, 3.0, 2.0, 4.0]])  # top-2 of a = {0, 1}, of b = {3, 1}
    assert topk_intersection(a, b, 2).item() == 0.5
    assert topk_intersection(a, a, 0.5).item() == 1.0
    assert spearman_rank(a, a).item() == pytest.approx(1.0)
    assert spearman_rank(a, a.flip(1)).item() == pytest.approx(-1.0)
    # ranks (4,3,2,1) vs (1,3,2,4): 1 - 6 * (9 + 0 + 0 + 9) / (4 * 15) = -0.8
    assert spearman_rank(a, b).item() == pytest.approx(-0.8)
    with pytest.raises(ValueError, match="topk"):
        topk_intersection(a, b, 5)


def test_stability_zero_for_identical_and_grows_with_perturbation():
    m = SmoothNet()
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(5)) * 0.8 + 0.1
    same = attribution_stability(m, x, n_perturbations=2, epsilon=0.0, n_steps=8)
    assert (same["change"] == 0).all() and (same["topk"] == 1).all()
    assert np.allclose(same["log_change"], math.log(1e-12))  # the minimum of the measure
    means = [attribution_stability(m, x, n_perturbations=3, epsilon=e, n_steps=8, seed=1)["log_change"].mean()
             for e in (1e-3, 1e-2, 1e-1)]
    assert means[0] < means[1] < means[2]
    assert means[0] > math.log(1e-12)
    summary = stability_summary({"a": same, "b": attribution_stability(m, x, n_perturbations=2, epsilon=0.1,
                                                                         n_steps=8)}, n_boot=200)
    assert list(summary.index) == ["a", "b"] and (summary["images"] == 4).all()
    assert summary.loc["a", "log_change_mean"] < summary.loc["b", "log_change_mean"]


def test_cached_wrappers_key_on_every_argument_and_pass_attribution_keywords(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import nsde.measures.attribution as attribution

    monkeypatch.setenv("NSDE_CACHE", str(tmp_path))
    trained = SimpleNamespace(model=SmoothNet(), key="smoothnet-test")
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    calls = []
    trained.model.register_forward_hook(lambda *a: calls.append(1))
    kw = dict(n_perturbations=2, n_steps=8, noise="on", noise_seed=0)  # n_steps etc. go on to attribute()
    first = attribution.cached_stability(trained, x, **kw)
    n_first = len(calls)
    again = attribution.cached_stability(trained, x, **kw)
    assert len(calls) == n_first > 0  # the repeat came from the cache
    other = attribution.cached_stability(trained, x, **{**kw, "n_steps": 16})
    assert len(calls) > n_first  # another n_steps (a keyword of attribute) is another entry
    assert first.equals(again) and len(first) == 6 and not first["change"].equals(other["change"])
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['n_stepz'\]"):
        attribution.cached_stability(trained, x, n_stepz=8)
    with pytest.raises(TypeError, match="pass a TrainedModel"):
        attribution.cached_attributions(SmoothNet(), x, torch.zeros(3, dtype=torch.long))
