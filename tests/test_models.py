"""Tests of nsde.models: baseline / NSDE equivalence at sigma=0, noise modes and seeds."""
import copy
import functools

import pytest
import torch

from nsde.models import build_model, capture_noise, noise_mode

X = torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(0))


@functools.lru_cache(maxsize=None)
def _built(arch, noise, sigma):
    torch.manual_seed(0)
    base = build_model(arch, "baseline", image_size=32)
    nsde = build_model(arch, "nsde", noise=noise, sigma=sigma, image_size=32)
    nsde.load_state_dict(base.state_dict())  # same keys, strict
    return base.eval(), nsde.eval()


def _pair(arch="convnext_atto", noise="brownian", sigma=0.1):
    return copy.deepcopy(_built(arch, noise, sigma))


@pytest.mark.parametrize("arch", ["convnext_atto", "resnet18"])
def test_sigma_zero_gives_baseline_logits(arch):
    base, nsde = _pair(arch, sigma=0.0)
    assert list(base.state_dict()) == list(nsde.state_dict())
    with torch.no_grad(), noise_mode(nsde, "on"):
        assert torch.equal(base(X), nsde(X))


def test_noise_off_is_drift_path_and_on_is_stochastic():
    base, nsde = _pair(sigma=0.2)
    with torch.no_grad():
        ref = base(X)
        assert torch.equal(nsde(X), ref)  # mode "train" in eval(): no noise
        with noise_mode(nsde, "off"):
            nsde.train()
            assert torch.equal(nsde(X), ref)
            nsde.eval()
        with noise_mode(nsde, "on"):
            a, b = nsde(X), nsde(X)
        assert not torch.equal(a, ref) and not torch.equal(a, b)
        assert nsde.get_noise() == ("train", None, 1)  # restored


def test_fixed_seed_is_deterministic_and_broadcast():
    _, nsde = _pair(sigma=0.2)
    xx = X[:1].repeat(4, 1, 1, 1)
    with torch.no_grad():
        with noise_mode(nsde, "on", seed=7):
            a, b = nsde(xx), nsde(xx)
        with noise_mode(nsde, "on", seed=8):
            c = nsde(xx)
        with noise_mode(nsde, "on"):
            d = nsde(xx)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert torch.allclose(a[0], a[3])  # one field for the whole batch
    assert not torch.allclose(d[0], d[3])  # fresh draws differ per item


def test_deepcopy_keeps_a_working_noise_path():
    _, nsde = _pair(sigma=0.2)
    twin = copy.deepcopy(nsde)
    with torch.no_grad(), noise_mode(nsde, "on", seed=3), noise_mode(twin, "on", seed=3):
        assert torch.equal(nsde(X), twin(X))


def test_noise_ignores_global_rng_reseeding():
    _, nsde = _pair(sigma=0.2)
    with torch.no_grad(), noise_mode(nsde, "on"):
        torch.manual_seed(0)
        a = nsde(X)
        torch.manual_seed(0)
        b = nsde(X)
    assert not torch.equal(a, b)


def test_monte_carlo_samples_return_log_mean_softmax():
    base, nsde = _pair(sigma=0.2)
    with torch.no_grad(), noise_mode(nsde, "on", samples=3):
        out = nsde(X)
    assert out.shape == (3, 16)
    assert torch.allclose(out.exp().sum(1), torch.ones(3), atol=1e-5)
    with torch.no_grad(), noise_mode(base, "on", seed=1, samples=5):
        assert torch.equal(base(X), base.net(X))  # baselines: accepted, no change


def test_injected_noise_has_relative_std_sigma():
    _, nsde = _pair(noise="white", sigma=0.3)  # the reference RMS is the block input's
    rms = {}
    hooks = [blk.register_forward_pre_hook(lambda m, a, s=s, k=k: rms.__setitem__((s, k), a[0].pow(2).mean((1, 2, 3)).sqrt()))
             for s, stage in enumerate(nsde.net.stages) for k, blk in enumerate(stage.blocks)]
    fields = capture_noise(nsde, torch.rand(8, 1, 64, 64), seed=None)
    for h in hooks:
        h.remove()
    for key in [(0, 0), (1, 1), (2, 3)]:
        rel = fields[key].pow(2).mean((1, 2, 3)).sqrt() / rms[key]
        assert torch.allclose(rel, torch.full_like(rel, 0.3), rtol=0.1), (key, rel)


def test_training_mode_injects_noise_with_gradients():
    _, nsde = _pair(sigma=0.2)
    nsde.train()
    out = nsde(X)
    out.sum().backward()
    assert all(p.grad is not None for p in nsde.parameters() if p.requires_grad)


def test_bad_input_errors():
    with pytest.raises(ValueError, match="vgg16"):
        build_model("vgg16")
    with pytest.raises(ValueError, match="violet"):
        build_model("convnext_atto", "nsde", noise="violet")
    with pytest.raises(ValueError, match="-0.1"):
        build_model("convnext_atto", "nsde", sigma=-0.1)
    with pytest.raises(ValueError, match="image_size=16"):
        build_model("convnext_atto", image_size=16)
    with pytest.raises(ValueError, match="hybrid"):
        build_model("convnext_atto", kind="hybrid")
    m = build_model("convnext_atto", "nsde", image_size=32)
    with pytest.raises(ValueError, match="sometimes"):
        m.set_noise("sometimes")
    with pytest.raises(ValueError, match="samples"):
        m.set_noise("on", samples=0)
    with pytest.raises(ValueError, match="-3"):
        m.set_noise("on", seed=-3)


def _input_grad(model, x, v):
    x = x.clone().requires_grad_(True)
    model(x)[:, 0].sum().backward()
    return (x.grad * v).sum().item()


def test_eval_gradient_is_exact_and_training_scale_is_stop_gradient():
    _, nsde = _pair(sigma=0.5)
    nsde = nsde.double().set_noise("on", seed=3)
    x = X.double()
    v = torch.randn(x.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    h = 1e-5
    with torch.no_grad():
        fd = ((nsde(x + h * v)[:, 0].sum() - nsde(x - h * v)[:, 0].sum()) / (2 * h)).item()
    exact = _input_grad(nsde.eval(), x, v)
    assert exact == pytest.approx(fd, rel=1e-5)  # eval: the RMS scale is differentiated
    with torch.no_grad():
        assert torch.equal(nsde.train()(x), nsde.eval()(x))  # same function in both modes
    stop = _input_grad(nsde.train(), x, v)
    assert stop != pytest.approx(fd, rel=1e-3)  # training: the scale is a constant
