"""nsde.robustness: random-noise sweeps, APGD-CE / EOT attacks, gradient-masking checks.

The models here are tiny stand-ins (a linear classifier and a small conv net with an
explicit random-noise toggle drawing from a private generator), so the tests run in
seconds and do not depend on training.
"""
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from nsde import robustness as rb


class Linear(nn.Module):
    """logits = W flatten(x) + b."""

    def __init__(self, d: int, classes: int = 2):
        super().__init__()
        self.fc = nn.Linear(d, classes)

    def forward(self, x):
        return self.fc(x.flatten(1))


class NoisyNet(nn.Module):
    """A tiny conv net whose hidden features get additive Gaussian noise when the noise is on.

    Follows the contract of nsde.models: ``set_noise(mode, seed=None, samples=1)``; noise
    draws come from a private generator, so reseeding the global RNG does not freeze them.
    """

    def __init__(self, classes: int = 3, sigma: float = 0.5):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 4 * 4, classes)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        self.sigma = sigma
        self.gen = torch.Generator().manual_seed(1234)
        self.noise_state = ("train", None, 1)

    def set_noise(self, mode, seed=None, samples=1):
        self.noise_state = (mode, seed, samples)

    def get_noise(self):
        return self.noise_state

    def reseed_noise(self, seed):
        self.gen.manual_seed(seed)

    def _once(self, x, on):
        h = F.avg_pool2d(torch.relu(self.conv(x)), 2)
        if on:
            seed = self.noise_state[1]
            if seed is None:
                z = torch.randn(h.shape, generator=self.gen)
            else:
                z = torch.randn(h.shape[1:], generator=torch.Generator().manual_seed(seed)).expand_as(h)
            h = h + self.sigma * z
        return self.fc(h.flatten(1))

    def forward(self, x):
        mode, _, samples = self.noise_state
        on = mode == "on" or (mode == "train" and self.training)
        if not on or samples == 1:
            return self._once(x, on)
        probs = torch.stack([self._once(x, True).softmax(1) for _ in range(samples)]).mean(0)
        return probs.log()


def _images(n=24, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, size, size, generator=g)
    y = torch.randint(0, 3, (n,), generator=g)
    return x, y


# --------------------------------------------------------------------------- noise
def test_intensity_zero_leaves_images_and_predictions_unchanged():
    model = NoisyNet()
    x, y = _images()
    noisy, delivered = rb.add_noise(x, 0.0)
    assert torch.equal(noisy, x) and delivered.abs().max() == 0
    df = rb.noise_accuracy(model, x, y, [0.0], mode="off")
    clean = rb.score(model, x, y, mode="off").float().mean().item()
    assert df["accuracy"].iloc[0] == pytest.approx(clean)
    assert math.isinf(df["snr_db"].iloc[0])


def _shapes():
    try:
        from nsde.noise import SHAPES
    except ImportError:
        return ["white"]
    return list(SHAPES)


@pytest.mark.parametrize("shape", _shapes())
def test_noise_std_matches_intensity_before_clipping(shape):
    g = torch.Generator().manual_seed(0)
    n = rb.sample_noise((64, 1, 32, 32), 0.3, shape, g)
    rms = n.pow(2).mean().sqrt().item()  # the std for zero-mean noise; shapes have unit mean power
    assert rms == pytest.approx(0.3, rel=0.05)
    if shape == "white":
        assert n.std().item() == pytest.approx(0.3, rel=0.02)


def test_add_noise_clips_and_snr_is_measured_on_delivered_noise():
    x = torch.full((4, 1, 16, 16), 0.5)
    noisy, delivered = rb.add_noise(x, 1.0, generator=torch.Generator().manual_seed(0))
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert delivered.abs().max() <= 0.5 + 1e-6  # clipping limits the delivered change
    assert rb.snr_db(torch.ones(10), torch.full((10,), 0.1)) == pytest.approx(20.0)


def test_noise_accuracy_columns_and_monotone_damage():
    model = NoisyNet()
    x, y = _images(n=64)
    df = rb.noise_accuracy(model, x, y, [0.0, 0.05, 2.0], mode="off")
    assert list(df.columns[:5]) == ["intensity", "accuracy", "low", "high", "snr_db"]
    assert (df["low"] <= df["accuracy"]).all() and (df["accuracy"] <= df["high"]).all()
    assert df["snr_db"].iloc[1] > df["snr_db"].iloc[2]
    per_image = df.attrs["correct"]
    assert list(per_image) == [0.0, 0.05, 2.0] and all(len(v) == 64 for v in per_image.values())
    assert [np.mean(per_image[i]) for i in per_image] == pytest.approx(df["accuracy"].tolist())
    pd.concat([df, df])  # per-image data in attrs do not break pandas' attrs comparison


def test_same_seed_same_table_and_cache():
    model = NoisyNet()
    x, y = _images(n=32)
    a = rb.noise_accuracy(model, x, y, [0.1, 0.5], seed=3)
    b = rb.noise_accuracy(model, x, y, [0.1, 0.5], seed=3)
    c = rb.noise_accuracy(model, x, y, [0.1, 0.5], seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not a["snr_db"].equals(c["snr_db"])
    k1 = rb.noise_accuracy(model, x, y, [0.1, 0.5], seed=3, key="test-noisy-net")
    k2 = rb.noise_accuracy(model, x, y, [0.1, 0.5], seed=3, key="test-noisy-net")
    pd.testing.assert_frame_equal(a, k1)
    pd.testing.assert_frame_equal(k1, k2)
    assert k2.attrs["correct"] == a.attrs["correct"]  # from the cache too
    # noise on (a stochastic ensemble): the model's private generator is reseeded by `seed`
    noisy = NoisyNet(sigma=3.0)
    on = [rb.noise_accuracy(noisy, x, y, [0.1, 0.5], mode="on", samples=2, seed=s) for s in (1, 1, 2)]
    pd.testing.assert_frame_equal(on[0], on[1])


def test_noise_on_ensemble_is_stochastic_and_mode_restored():
    model = NoisyNet(sigma=2.0)
    x, y = _images(n=8)
    with rb._noise_context(model, "on"):
        model.eval()  # attack code does this: the noise must stay on
        assert not torch.equal(model(x), model(x))
    assert model.noise_state[0] == "train"
    model.eval()
    assert torch.equal(model(x), model(x))


# --------------------------------------------------------------------------- randomness
def _nsde_or_standin():
    try:
        from nsde.models import build_model
    except ImportError:
        return NoisyNet(sigma=2.0), torch.rand(2, 1, 8, 8)
    return build_model("convnext_atto", kind="nsde", image_size=32, sigma=0.5), torch.rand(2, 1, 32, 32)


def test_global_reseed_does_not_freeze_nsde_noise():
    model, x = _nsde_or_standin()
    with rb._noise_context(model, "on", seed=None), torch.no_grad():
        model.eval()
        torch.manual_seed(0)
        a = model(x)
        torch.manual_seed(0)  # what APGD does before attacking
        b = model(x)
    assert not torch.allclose(a, b)


def test_apgd_restores_global_rng_state():
    model = NoisyNet()
    x, y = _images(n=4)
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    rb.apgd_attack(model, x, y, 0.5, n_iter=2)
    assert torch.equal(torch.rand(3), expected)


# --------------------------------------------------------------------------- attacks
def test_apgd_on_linear_classifier_reaches_the_analytic_boundary():
    torch.manual_seed(0)
    d = 36
    model = Linear(d)
    w = model.fc.weight.detach()
    u = (w[0] - w[1]) / (w[0] - w[1]).norm()
    b = (model.fc.bias[0] - model.fc.bias[1]).item()
    # a point on the decision boundary near the image centre
    centre = torch.full((d,), 0.5)
    p = centre - ((w[0] - w[1]) @ centre + b) / (w[0] - w[1]).norm() * u
    t = torch.linspace(-0.6, 0.6, 25)
    t = t[t.abs() > 0.01]
    x = (p + t[:, None] * u).view(-1, 1, 6, 6)
    assert x.min() >= 0 and x.max() <= 1
    y = model(x).argmax(1)
    dist = ((x.flatten(1) @ (w[0] - w[1]) + b).abs() / (w[0] - w[1]).norm()).detach()  # analytic min-norm
    eps = 0.3
    adv = rb.apgd_attack(model, x, y, eps, n_iter=20)
    norms = (adv - x).flatten(1).norm(dim=1)
    fooled = model(adv).argmax(1) != y
    assert (norms <= eps + 1e-4).all()
    assert fooled[dist < 0.95 * eps].all()
    assert not fooled[dist > eps].any()
    # fooled points sit just past the boundary: their perturbation is close to the minimum norm
    assert (norms[fooled] >= dist[fooled] - 1e-4).all()


def test_eot_gradient_is_mean_of_per_draw_gradients():
    model = NoisyNet(sigma=1.0)
    x, y = _images(n=5)
    model.set_noise("on")
    state = model.gen.get_state()
    g = rb.eot_gradient(model, x, y, 4)
    model.gen.set_state(state)
    grads = []
    for _ in range(4):
        xi = x.clone().requires_grad_(True)
        loss = F.cross_entropy(model(xi), y, reduction="sum")
        grads.append(torch.autograd.grad(loss, xi)[0])
    assert not torch.allclose(grads[0], grads[1])  # the draws differ, so the test means something
    torch.testing.assert_close(g, torch.stack(grads).mean(0))


def test_run_attack_table_transfer_and_checks():
    model = NoisyNet(sigma=0.3)
    x, y = _images(n=12)
    y = rb._predict_labels(model, x)  # all correct on clean images (noise off)
    res = rb.run_attack(model, x, y, [0.05, 3.0], n_iter=5, eot_iter=2, score_samples=3, key="test-run-attack")
    again = rb.run_attack(model, x, y, [0.05, 3.0], n_iter=5, eot_iter=2, score_samples=3, key="test-run-attack")
    assert torch.equal(res["correct"][3.0], again["correct"][3.0])
    table = rb.attack_table(res, x.shape)
    assert list(table["eps"]) == [0.05, 3.0]
    assert table["eps_per_pixel"].iloc[0] == pytest.approx(0.05 / 8)
    for eps in res["eps"]:
        assert ((res["adv"][eps] - x).flatten(1).norm(dim=1) <= eps + 1e-4).all()
    tr = rb.transfer_table(res, model, y, score_samples=3)
    checks = rb.masking_checks(table, transfer=tr)
    assert list(checks.columns) == ["check", "value", "passed"] and len(checks) == 3


def test_apgd_attacks_every_image_of_a_randomised_model():
    # with very loud noise one noisy pass misclassifies many images; APGD's perturb() would
    # skip those and return them unchanged, which the ensemble may then score as robust
    model = NoisyNet(sigma=5.0)
    x, y = _images(n=10)
    adv = rb.apgd_attack(model, x, y, 0.5, n_iter=3, mode="on")
    moved = (adv - x).flatten(1).norm(dim=1)
    assert (moved > 0).all() and (moved <= 0.5 + 1e-4).all()


def test_autoattack_rand_respects_budget():
    model = NoisyNet(sigma=0.3)
    x, y = _images(n=6)
    adv = rb.autoattack_rand(model, x, y, 0.5, n_iter=3, eot_iter=2)
    assert adv.shape == x.shape
    assert ((adv - x).flatten(1).norm(dim=1) <= 0.5 + 1e-4).all()


def test_masking_checks_flag_a_rising_curve():
    table = pd.DataFrame(dict(eps=[0.1, 0.2, 1.0], accuracy=[0.5, 0.6, 0.1]))
    checks = rb.masking_checks(table).set_index("check")["passed"]
    assert not checks.iloc[0] and not checks.iloc[1]
    ok = rb.masking_checks(pd.DataFrame(dict(eps=[0.1, 1.0], accuracy=[0.5, 0.0])))
    assert ok["passed"].all()


def test_masking_checks_do_not_fail_an_untested_large_budget():
    small = pd.DataFrame(dict(eps=[0.05, 0.1], accuracy=[0.7, 0.6]))
    checks = rb.masking_checks(small, large_eps=False)
    assert checks["passed"].iloc[0]  # monotone: still checked
    assert checks["passed"].iloc[1] is None and "not tested" in checks["check"].iloc[1]
    assert rb.masking_checks(small)["passed"].iloc[1] == False  # noqa: E712  (numpy bool)


def test_subset_format_and_compare():
    x, y = _images(n=20)
    xs, ys = rb.eval_subset(x, y, 8, seed=1)
    xs2, _ = rb.eval_subset(x, y, 8, seed=1)
    assert xs.shape == (8, 1, 8, 8) and torch.equal(xs, xs2)
    assert rb.eval_subset(x, y, None)[0] is x
    a = pd.DataFrame(dict(eps=[0.1, 0.2, 0.3], accuracy=[0.9, 0.5, 0.1], low=[0.8, 0.4, 0.0], high=[0.95, 0.6, 0.2]))
    b = pd.DataFrame(dict(eps=[0.1, 0.2, 0.3], accuracy=[0.5, 0.55, 0.5], low=[0.4, 0.45, 0.4], high=[0.6, 0.65, 0.6]))
    assert list(rb.compare_tables(a, b, "eps")) == ["higher", "overlap", "lower"]
    a.attrs["correct"] = {0.1: (True,) * 40, 0.2: (True, False) * 20, 0.3: (False,) * 40}
    b.attrs["correct"] = {0.1: (False,) * 40, 0.2: (True, False) * 20, 0.3: (True,) * 40}
    assert list(rb.compare_tables(a, b, "eps", paired=True)) == ["higher", "no difference", "lower"]
    b.attrs["correct"][0.2] = (True,) * 30
    with pytest.raises(ValueError, match="same images"):
        rb.compare_tables(a, b, "eps", paired=True)
    with pytest.raises(ValueError, match="per-image"):
        rb.compare_tables(a, pd.DataFrame(b), "eps", paired=True)
    f = rb.format_tables({"a": a, "b": b.iloc[:2]}, "eps")
    assert f.loc[0.1, "a"] == "90.0 [80.0, 95.0]" and f.loc[0.3, "b"] == "-"


# --------------------------------------------------------------------------- bad input
def test_bad_inputs_raise_clear_errors():
    model = NoisyNet()
    x, y = _images(n=4)
    with pytest.raises(ValueError, match="-0.1"):
        rb.noise_accuracy(model, x, y, [0.1, -0.1])
    with pytest.raises(ValueError, match="unknown noise shape 'purple'"):
        rb.noise_accuracy(model, x, y, [0.1], shape="purple")
    with pytest.raises(ValueError, match="strictly increasing"):
        rb.run_attack(model, x, y, [0.2, 0.1])
    with pytest.raises(ValueError, match="positive"):
        rb.apgd_attack(model, x, y, -1.0)
    with pytest.raises(ValueError, match="noise mode"):
        rb.noise_accuracy(model, x, y, [0.1], mode="sometimes")
    with pytest.raises(ValueError, match="unknown attack"):
        rb.run_attack(model, x, y, [0.1], attack="fgsm")
    with pytest.raises(TypeError, match="TrainedModel"):
        rb.noise_accuracy("model", x, y, [0.1])
