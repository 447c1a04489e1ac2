"""Tests of nsde.core.models: baseline / NSDE equivalence at sigma=0, noise modes and seeds."""
import copy
import functools

import pytest
import torch

from nsde.core.models import build_model, capture_noise, noise_mode

X = torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(0))


@functools.lru_cache(maxsize=None)
def _built(arch, noise, sigma):
    torch.manual_seed(0)
    base = build_model(arch, "baseline", image_size=32, num_classes=16)
    nsde = build_model(arch, "nsde", noise_shape=noise, sigma=sigma, image_size=32, num_classes=16)
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
        build_model("vgg16", num_classes=16)
    with pytest.raises(ValueError, match="violet"):
        build_model("convnext_atto", "nsde", noise_shape="violet", num_classes=16)
    with pytest.raises(ValueError, match="-0.1"):
        build_model("convnext_atto", "nsde", sigma=-0.1, num_classes=16)
    with pytest.raises(ValueError, match="image_size=16"):
        build_model("convnext_atto", image_size=16, num_classes=16)
    with pytest.raises(ValueError, match="hybrid"):
        build_model("convnext_atto", kind="hybrid", num_classes=16)
    m = build_model("convnext_atto", "nsde", image_size=32, num_classes=16)
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


def test_bf16_precision_computes_the_same_function_closely():
    base, _ = _pair("resnet10t", sigma=0.0)
    with torch.no_grad():
        ref = base(X)
        base.set_precision("bf16")
        low = base(X)
        base.set_precision("fp32")
    assert low.dtype == torch.float32 and base.precision == "fp32"
    assert torch.allclose(low.softmax(1), ref.softmax(1), atol=0.05)
    with pytest.raises(ValueError, match="precision must be one of"):
        base.set_precision("fp16")


def test_envelope_redistributes_noise_power_at_every_stage_resolution():
    from nsde.core.noise import pool_envelope

    torch.manual_seed(0)
    nsde = build_model("convnext_atto", "nsde", noise_shape="white", sigma=0.3, image_size=64, num_classes=16).eval()
    env = torch.full((1, 1, 64, 64), 0.05)
    env[..., :32, :32] = 1.0  # importance concentrated in one quadrant
    x = torch.rand(4, 1, 64, 64)
    nsde.set_envelope(env)
    fields = capture_noise(nsde, x, seed=None)
    nsde.set_envelope(None)
    for (stage, block), f in fields.items():
        h, w = f.shape[-2:]
        if h < 2:
            continue  # a 1x1 field has no spatial structure
        quad = f[..., : h // 2, : w // 2].pow(2).mean()
        rest = torch.cat([f[..., h // 2:, :].flatten(), f[..., : h // 2, w // 2:].flatten()]).pow(2).mean()
        assert quad > 5 * rest, (stage, block)
    amp = pool_envelope(env, (8, 8))
    assert torch.allclose(amp.pow(2).mean(), torch.tensor(1.0), atol=1e-5)  # unit mean power
    uniform = pool_envelope(torch.full((2, 1, 64, 64), 3.0), (16, 16))
    assert torch.allclose(uniform, torch.ones_like(uniform))  # a constant map is the identity


def test_envelope_bad_inputs():
    _, nsde = _pair(sigma=0.2)
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        nsde.set_envelope(torch.ones(1, 32, 32))
    with pytest.raises(ValueError, match="input size 32x32"):
        nsde.set_envelope(torch.ones(1, 1, 16, 16))
    with pytest.raises(ValueError, match="must be >= 0"):
        nsde.set_envelope(-torch.ones(1, 1, 32, 32))
    with pytest.raises(ValueError, match="NaN"):
        nsde.set_envelope(torch.full((1, 1, 32, 32), float("nan")))
    with pytest.raises(ValueError, match="positive sum"):
        nsde.set_envelope(torch.zeros(1, 1, 32, 32))


def test_pretrained_weights_from_a_local_file(tmp_path):
    import timm

    torch.manual_seed(5)
    rgb = timm.create_model("resnet10t", pretrained=False, num_classes=1000)  # an ImageNet-shaped checkpoint
    path = tmp_path / "resnet10t_imagenet.pth"
    torch.save(rgb.state_dict(), path)
    model = build_model("resnet10t", "nsde", image_size=32, pretrained=path, num_classes=16)
    stem = model.net.conv1[0].weight
    assert stem.shape[1] == 1 and torch.allclose(stem[:, 0], rgb.conv1[0].weight.sum(1), atol=1e-5)  # RGB summed
    assert model.net.fc.out_features == 16  # a new head
    assert torch.equal(model.net.layer1[0].conv1.weight, rgb.layer1[0].conv1.weight)
    other = tmp_path / "convnext.pth"
    torch.save(timm.create_model("convnext_atto", pretrained=False).state_dict(), other)
    with pytest.raises(ValueError, match=r"does not fit resnet10t \(is it another architecture\?\)"):
        build_model("resnet10t", pretrained=other, num_classes=16)
    broken = tmp_path / "broken.pth"
    broken.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match=f"{broken.name}.*cannot be read"):
        build_model("resnet10t", pretrained=broken, num_classes=16)
    with pytest.raises(FileNotFoundError, match="not found"):
        build_model("resnet10t", pretrained=tmp_path / "missing.pth", num_classes=16)


def test_pretrained_convnext_gets_a_one_channel_stem_and_a_new_head(tmp_path):
    import timm

    torch.manual_seed(6)
    rgb = timm.create_model("convnext_atto", pretrained=False, num_classes=1000)
    path = tmp_path / "convnext_atto_imagenet.pth"
    torch.save(rgb.state_dict(), path)
    model = build_model("convnext_atto", "nsde", image_size=32, pretrained=path, num_classes=11)
    stem = model.net.stem[0].weight
    assert stem.shape[1] == 1 and torch.allclose(stem[:, 0], rgb.stem[0].weight.sum(1), atol=1e-5)
    assert model.net.head.fc.out_features == 11
    assert not torch.equal(model.net.head.fc.weight[:11], rgb.head.fc.weight[:11])  # re-initialised, not sliced
    block = "stages.1.blocks.0.conv_dw.weight"
    assert torch.equal(model.net.state_dict()[block], rgb.state_dict()[block])  # the body is ImageNet's
