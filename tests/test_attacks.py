"""nsde.measures.attacks: APGD-CE / EOT, AutoAttack-rand on every image, Square, expected accuracy, masking checks."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _standins import Coin, Linear, NoisyNet, Quantised, images

from nsde.core.models import noise_mode
from nsde.measures import attacks as at
from nsde.measures.evaluation import correctness
from nsde.studies import protocols


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NSDE_CACHE", str(tmp_path / "cache"))


def _correct_labels(model, x):
    with torch.no_grad(), noise_mode(model, "off"):
        return model.eval()(x).argmax(1)


def test_global_reseed_does_not_freeze_nsde_noise():
    from nsde.core.models import build_model

    model, x = build_model("convnext_atto", kind="nsde", image_size=32, sigma=0.5, num_classes=16), torch.rand(2, 1, 32, 32)
    with noise_mode(model, "on"), torch.no_grad():
        model.eval()
        torch.manual_seed(0)
        a = model(x)
        torch.manual_seed(0)  # what APGD does before attacking
        b = model(x)
    assert not torch.allclose(a, b)


def test_apgd_restores_global_rng_state():
    model = NoisyNet()
    x, y = images(n=4)
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    at.apgd_attack(model, x, y, 0.5, n_iter=2)
    assert torch.equal(torch.rand(3), expected)


def test_apgd_on_linear_classifier_reaches_the_analytic_boundary():
    torch.manual_seed(0)
    d = 36
    model = Linear(d)
    w = model.fc.weight.detach()
    u = (w[0] - w[1]) / (w[0] - w[1]).norm()
    b = (model.fc.bias[0] - model.fc.bias[1]).item()
    centre = torch.full((d,), 0.5)
    p = centre - ((w[0] - w[1]) @ centre + b) / (w[0] - w[1]).norm() * u
    t = torch.linspace(-0.6, 0.6, 25)
    t = t[t.abs() > 0.01]
    x = (p + t[:, None] * u).view(-1, 1, 6, 6).detach()
    assert x.min() >= 0 and x.max() <= 1
    y = model(x).argmax(1)
    dist = ((x.flatten(1) @ (w[0] - w[1]) + b).abs() / (w[0] - w[1]).norm()).detach()  # analytic min-norm
    eps = 0.3
    adv = at.apgd_attack(model, x, y, eps, n_iter=20, noise="off")
    norms = (adv - x).flatten(1).norm(dim=1)
    fooled = model(adv).argmax(1) != y
    assert (norms <= eps + 1e-4).all()
    assert fooled[dist < 0.95 * eps].all()
    assert not fooled[dist > eps].any()
    assert (norms[fooled] >= dist[fooled] - 1e-4).all()  # just past the boundary


def test_eot_gradient_is_mean_of_per_draw_gradients():
    model = NoisyNet(sigma=1.0)
    x, y = images(n=5)
    model.set_noise("on")
    state = model.noise_stream()
    g = at.eot_gradient(model, x, y, 4, stack=False)  # one pass per draw, in order
    model.restore_noise_stream(state)
    grads = []
    for _ in range(4):
        xi = x.clone().requires_grad_(True)
        grads.append(torch.autograd.grad(F.cross_entropy(model(xi), y, reduction="sum"), xi)[0])
    assert not torch.allclose(grads[0], grads[1])  # the draws differ, so the test means something
    torch.testing.assert_close(g, torch.stack(grads).mean(0))


def test_stacked_eot_gradient_is_the_same_estimator():
    """In eval() the draws run as one pass of stacked copies: exact without noise, and the
    same expectation with it."""
    model = NoisyNet(sigma=1.0).eval()
    x, y = images(n=5)
    model.set_noise("off")
    xi = x.clone().requires_grad_(True)
    plain = torch.autograd.grad(F.cross_entropy(model(xi), y, reduction="sum"), xi)[0]
    torch.testing.assert_close(at.eot_gradient(model, x, y, 4, stack=True), plain)
    torch.testing.assert_close(at.eot_gradient(model, x, y, 7, stack=True, max_images=10), plain)  # groups of 2 copies
    model.set_noise("on")
    n = 100
    stacked = torch.stack([at.eot_gradient(model, x, y, 4, stack=True) for _ in range(n)]).flatten(1)
    loop = torch.stack([at.eot_gradient(model, x, y, 4, stack=False) for _ in range(n)]).flatten(1)
    single = torch.stack([at.eot_gradient(model, x, y, 1) for _ in range(n)]).flatten(1)
    z = (stacked.mean(0) - loop.mean(0)) / (stacked.var(0) / n + loop.var(0) / n).sqrt().clamp_min(1e-12)
    assert z.abs().mean() < 1.0  # same mean: |z| of a standard normal averages 0.8
    # each stacked copy has a draw of its own: a quarter of one draw's variance, as the loop's
    assert 0.7 < float((stacked.var(0) / loop.var(0)).median()) < 1.4
    assert 0.15 < float((stacked.var(0) / single.var(0)).median()) < 0.4


def test_apgd_attacks_every_image_of_a_randomised_model():
    model = NoisyNet(sigma=5.0)  # loud noise: one noisy pass misclassifies many images
    x, y = images(n=10)
    adv = at.apgd_attack(model, x, y, 0.5, n_iter=3, noise="on")
    moved = (adv - x).flatten(1).norm(dim=1)
    assert (moved > 0).all() and (moved <= 0.5 + 1e-4).all()


def test_autoattack_rand_returns_a_perturbed_image_for_every_image():
    # the audit's reproduction: a noisy net with sigma 0.3, 24 images, eps 0.5 (21 of 24 came back clean)
    model = NoisyNet(sigma=0.3)
    x, _ = images(n=24)
    y = _correct_labels(model, x)
    adv, log = at.autoattack_rand(model, x, y, 0.5, n_iter=5, eot_iter=2, samples=2)
    moved = (adv - x).flatten(1).norm(dim=1)
    assert (moved > 1e-6).all(), f"{int((moved <= 1e-6).sum())} of 24 images came back unattacked"
    assert (moved <= 0.5 + 1e-4).all()
    assert any("randomized defense" in m for m in log)  # AutoAttack's own check, shown not silenced
    assert any(m.startswith("protocol: apgd-ce, apgd-dlr; 5 iterations, 2 EOT draws") for m in log)


def test_expected_accuracy_over_draws_equals_the_analytic_value():
    p = 0.3
    coin = Coin(p)
    x, y = torch.rand(400, 1, 4, 4), torch.zeros(400, dtype=torch.long)
    c = correctness(coin, x, y, noise="on", samples=1, draws=50, seed=1)
    assert c.mean() == pytest.approx(p, abs=0.01)  # 20,000 draws: sd of the estimate ~0.003
    from nsde.stats.intervals import accuracy_interval

    iv = accuracy_interval(c)
    assert iv.low < p < iv.high
    single = correctness(coin, x, y, noise="on", samples=1, draws=1, seed=1)
    assert set(np.unique(single)) <= {0.0, 1.0}  # one scoring: 0/1 per image


def test_run_attack_caches_restores_the_noise_stream_and_is_seeded():
    model = NoisyNet(sigma=0.3)
    x, _ = images(n=12)
    y = _correct_labels(model, x)
    kw = dict(n_iter=5, eot_iter=2, samples=3, draws=4, key="test-run-attack")
    model.reseed_noise(11)
    before = model.noise_stream()
    res = at.run_attack(model, x, y, [0.05, 3.0], **kw)
    after = model.noise_stream()
    assert after[0] == before[0] and all(torch.equal(after[1][k], before[1][k]) for k in before[1])  # untouched
    calls = []
    real = at.apgd_attack
    at.apgd_attack = lambda *a, **k: calls.append(1) or real(*a, **k)
    try:
        again = at.run_attack(model, x, y, [0.05, 3.0], **kw)  # from the cache: no attack runs
        fresh = at.run_attack(model, x, y, [0.05, 3.0], **{**kw, "key": None})  # computed again, same seeds
    finally:
        at.apgd_attack = real
    assert len(calls) == 2  # only the uncached call attacked (two budgets)
    assert np.array_equal(res["correct"][3.0], again["correct"][3.0])
    assert np.array_equal(res["correct"][0.05], fresh["correct"][0.05])
    table = at.attack_table(res, x.shape)
    assert list(table["eps"]) == [0.05, 3.0] and table["eps_per_pixel"].iloc[0] == pytest.approx(0.05 / 32)
    for eps in res["eps"]:
        assert ((res["adv"][eps] - x).flatten(1).norm(dim=1) <= eps + 1e-4).all()
    assert res["seconds"] >= 0 and set(res["log"]) == {0.05, 3.0}


def test_square_attack_needs_no_gradients_and_respects_the_budget():
    model = Quantised(Linear(64, 3))
    x, _ = images(n=10, size=8)
    y = _correct_labels(model, x)
    adv = at.square_attack(model, x, y, 1.0, n_queries=50, noise="off")
    assert ((adv - x).flatten(1).norm(dim=1) <= 1.0 + 1e-4).all()
    assert (model(adv).argmax(1) != y).float().mean() > 0  # it fools the masked model


def test_clean_correct_subset_keeps_images_every_model_gets_right():
    scores = {"a": np.array([1, 1, 0, 1, 1.0]), "b": np.array([[1, 0.6, 1, 1, 0.4], [1, 1, 1, 1, 1]])}
    assert protocols.clean_correct_subset(scores, None).tolist() == [0, 3]  # right on every draw
    assert protocols.clean_correct_subset(scores, None, threshold=0.5).tolist() == [0, 1, 3]
    assert protocols.clean_correct_subset(scores, 1).tolist() == [0]
    with pytest.raises(ValueError, match="threshold must be in \\(0, 1\\], but found 0"):
        protocols.clean_correct_subset(scores, None, threshold=0)
    with pytest.raises(ValueError, match="different numbers of images"):
        protocols.clean_correct_subset({"a": np.ones(3), "b": np.ones(4)}, None)


def test_bad_inputs_raise_clear_errors():
    model = NoisyNet()
    x, y = images(n=4)
    with pytest.raises(ValueError, match="strictly increasing"):
        at.run_attack(model, x, y, [0.2, 0.1])
    with pytest.raises(ValueError, match="> 0"):
        at.apgd_attack(model, x, y, -1.0)
    with pytest.raises(ValueError, match="attack must be one of"):
        at.run_attack(model, x, y, [0.1], attack="fgsm")
    with pytest.raises(ValueError, match="noise must be one of"):
        at.run_attack(model, x, y, [0.1], noise="sometimes")
    with pytest.raises(TypeError, match="eps must be a list"):
        at.run_attack(model, x, y, 0.1)
    with pytest.raises(ValueError, match="n_iter must be an int >= 1"):
        at.apgd_attack(model, x, y, 0.1, n_iter=0)


def test_autoattack_rand_uses_the_step_schedule_of_its_iterations():
    from pyautoattack.autopgd_base import APGDAttack

    attack = APGDAttack(Linear(4), n_iter=100, norm="L2", eps=0.1, device="cpu")
    at._set_iterations(attack, 10)
    reference = APGDAttack(Linear(4), n_iter=10, norm="L2", eps=0.1, device="cpu")
    for name in ("n_iter", "n_iter_orig", "n_iter_2", "n_iter_min", "size_decr"):
        assert getattr(attack, name) == getattr(reference, name), name


