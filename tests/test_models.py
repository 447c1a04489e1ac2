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


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_fresh_noise_is_reproducible_from_the_seed_pass_after_pass(precision):
    """The first pass of an input shape draws block by block, later ones in one piece: both
    are functions of the seed and of the passes since it was set, and a scoring inside
    noise_rng leaves the stream where it was."""
    from nsde.core.models import noise_rng

    _, a = _pair("resnet10t", noise="pink", sigma=0.2)
    a.set_precision(precision).set_noise("on")
    b = copy.deepcopy(a)
    with torch.no_grad():
        for m in (a, b):
            m.reseed_noise(5)
        outs = [(a(X), b(X)) for _ in range(3)]
        assert all(torch.equal(p, q) for p, q in outs)
        assert not torch.equal(outs[1][0], outs[2][0])  # fresh draws each pass
        with noise_rng(a, 123):
            a(X), a(X[:2])
        assert torch.equal(a(X), b(X))
        a.reseed_noise(5)
        assert torch.equal(a(X), outs[0][0])  # a reseed starts the stream (and the block-by-block pass) over


def test_pooled_draws_have_the_law_of_the_definition():
    """Noise for channels-last activations is drawn for the whole pass in one piece, stored
    (H, W, B, C) and shaped there: i.i.d. N(0, 1) draws, Brownian-sheet covariance."""
    import math

    from nsde.core.models import _NoiseState
    from nsde.core.noise import hwbc, make_shaper

    st = _NoiseState(0.1, make_shaper("brownian"), seed=0)
    st.active = True
    like = torch.empty(3000, 4, 6, 5).contiguous(memory_format=torch.channels_last)
    x = torch.empty(3000, 1, 32, 32)
    for _ in range(2):  # the first pass learns the sizes, the second draws them in one piece
        st.begin_pass(0, x)
        white = st.increment(0, 0, 1, like)
        pooled = st._pool is not None
        st.end_pass()
    assert pooled and hwbc(white)
    flat = white.permute(2, 3, 0, 1).flatten()
    assert abs(flat.mean().item()) < 0.01 and abs(flat.var().item() - 1) < 0.01
    h, w = 6, 5
    sheet = st.shaper(white) * math.sqrt((h + 1) / 2 * (w + 1) / 2)
    fields = sheet.permute(0, 1, 2, 3).reshape(-1, h * w)
    cov = fields.T @ fields / len(fields)
    for (i, j), (k, l) in [((0, 0), (0, 0)), ((5, 4), (5, 4)), ((2, 3), (4, 1)), ((5, 0), (0, 4))]:
        expected = (min(i, k) + 1) * (min(j, l) + 1)
        assert abs(cov[i * w + j, k * w + l].item() - expected) < 0.05 * expected + 0.05


def test_stacked_monte_carlo_passes_have_the_law_of_a_loop_of_passes():
    """Without gradients, in eval(), K noisy passes run as one forward of K stacked copies:
    independent draws per copy, so the ensemble has the same law as K passes one by one."""
    _, nsde = _pair("resnet10t", noise="white", sigma=0.5)
    xx = X[:1].repeat(2, 1, 1, 1)
    means = {}
    with torch.no_grad():
        for stack in (True, False):
            nsde._noise.stack = stack
            with noise_mode(nsde, "on", samples=4):
                outs = torch.stack([nsde(xx).exp() for _ in range(20)])
            assert torch.allclose(outs.sum(-1), torch.ones(outs.shape[:2]), atol=1e-5)
            assert not torch.allclose(outs[:, 0], outs[:, 1])  # the two copies of one image get their own draws
            means[stack] = outs.mean((0, 1))
        nsde._noise.stack = True
        assert nsde._stacked_passes(X, 4) == 4
    assert torch.allclose(means[True], means[False], atol=0.03), means
    assert nsde._stacked_passes(X, 4) == 1  # with gradients: one pass at a time
    _, fresh = _pair("resnet10t", noise="white", sigma=0.5)
    with torch.no_grad(), noise_mode(fresh, "on", samples=4):
        assert fresh._stacked_passes(X, 4) == 1  # off by default: a loop was measured faster on the CPU
