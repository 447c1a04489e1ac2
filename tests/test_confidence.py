"""Tests of nsde.measures.abc: ABC (Jha et al. 2019) and the reliability metrics."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn as nn

from nsde.measures.abc import abc_confidence, abc_summary, sample_masks, sampling_probabilities
from nsde.measures.reliability import aurc, auroc, auroc_interval, max_softmax, reliability_row, risk_coverage


class Constant(nn.Module):
    """Logits that do not depend on the input (class 2 always wins)."""

    def forward(self, x):
        return 0.0 * x.flatten(1).sum(1, keepdim=True) + torch.tensor([0.0, 1.0, 2.0, 0.5])


class PixelReader(nn.Module):
    """Two-class linear model reading pixels: logit_0 = sum_j w_j x_j - tau, logit_1 = 0."""

    def __init__(self, weights: dict[int, float], tau: float):
        super().__init__()
        self.weights, self.tau = weights, tau

    def forward(self, x):
        flat = x.flatten(1)
        z = sum(w * flat[:, j] for j, w in self.weights.items()) - self.tau
        return torch.stack([z, torch.zeros_like(z)], 1)


def _images(n=3, seed=0):
    # pixels in [0.2, 1]: no pixel sits at the zero baseline
    return 0.2 + 0.8 * torch.rand(n, 1, 4, 4, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("draw", ["bernoulli", "categorical"])
def test_abc_is_one_for_a_constant_classifier(draw):
    x = _images()
    abc = abc_confidence(Constant(), x, n_mutations=20, mask_law=draw, n_features=0.5, n_steps=4)
    assert torch.equal(abc, torch.ones(3))


@pytest.mark.parametrize("draw", ["bernoulli", "categorical"])
def test_abc_one_pixel_reader_is_zero(draw):
    """A model that reads one pixel p: logit_0 = 5 x_p - 0.5 * 5 (class 0 iff x_p > 0.5).

    For an image with x_p > 0.5 the prediction is class 0. IG of the linear logit with the
    zero baseline is exact: A_p = 5 x_p, A_j = 0 elsewhere, so P = delta_p: p is the only
    feature with probability > 0. Bernoulli with m = 1 mutates p with probability
    min(1, 1 * 1) = 1; a categorical draw of m = 1 feature picks p. Mutating p to the
    baseline 0 gives logit_0 = -2.5 < 0: every sample flips, ABC = 0.
    Images with x_p < 0.5 predict class 1, whose logit is constant: A = 0, the law falls
    back to uniform, and no mutation (x_p -> 0 keeps x_p < 0.5) can flip it: ABC = 1.
    """
    p = 5
    x = _images(4, seed=1)
    x[:2, 0, 1, 1] = 0.9  # flat index 5 = (1, 1)
    x[2:, 0, 1, 1] = 0.3
    model = PixelReader({p: 5.0}, tau=2.5)
    abc = abc_confidence(model, x, n_mutations=30, mask_law=draw, n_features=1, n_steps=8)
    assert torch.equal(abc, torch.tensor([0.0, 0.0, 1.0, 1.0]))


@pytest.mark.parametrize("draw", ["bernoulli", "categorical"])
def test_abc_two_pixel_reader_matches_hand_derivation(draw):
    """logit_0 = 3 x_p + 1 x_q - 1.25 with x_p = 0.5, x_q = 1 (logit_0 = 1.25: class 0).

    IG (exact, linear): A_p = 3 * 0.5 = 1.5, A_q = 1, zero elsewhere; |A_j / x_j| = 3 and 1
    give P_p = 3/4, P_q = 1/4 (|A| alone would give 0.6 / 0.4: the test tells them apart).
    Mutating p alone: 1 - 1.25 < 0 (flips); q alone: 1.5 - 1.25 > 0 (stays); both: flips.
    Bernoulli, m = 1: p is mutated with probability 3/4 independently of q, so
    P(unchanged) = 1 - 3/4 = 1/4. Categorical, m = 1: exactly one of p, q is mutated,
    q with probability 1/4: again ABC = 1/4. With S = 4000 samples per image the standard
    error is sqrt(3/16 / 4000) = 0.007; we allow 0.03.
    """
    x = _images(2, seed=2)
    x[:, 0, 0, 1] = 0.5  # p = 1
    x[:, 0, 2, 3] = 1.0  # q = 11
    model = PixelReader({1: 3.0, 11: 1.0}, tau=1.25)
    abc = abc_confidence(model, x, n_mutations=4000, mask_law=draw, n_features=1, n_steps=8, batch_size=4000)
    assert torch.allclose(abc, torch.full((2,), 0.25), atol=0.03), abc


def test_sampling_law_and_masks():
    a = torch.tensor([[[[3.0, 0.0], [1.0, 0.0]]]])
    x = torch.tensor([[[[1.0, 0.5], [0.5, 0.0]]]])
    p = sampling_probabilities(a, x)
    # |A/x| = (3, 0, 2, 0 / floor = 0) -> (0.6, 0, 0.4, 0)
    torch.testing.assert_close(p, torch.tensor([[0.6, 0.0, 0.4, 0.0]], dtype=torch.float64))
    g = torch.Generator().manual_seed(0)
    m = sample_masks(p, 500, mask_law="categorical", n_features=2, generator=g)
    assert m.shape == (1, 500, 4) and (m.sum(-1) == 2).all()
    assert m[0, :, 0].all() and m[0, :, 2].all()  # the two positive features, always
    mb = sample_masks(p, 4000, mask_law="bernoulli", n_features=1, generator=g)
    assert abs(mb[0, :, 0].float().mean().item() - 0.6) < 0.04 and not mb[0, :, 1].any()
    torch.testing.assert_close(sampling_probabilities(torch.zeros(1, 1, 2, 2), x),
                               torch.full((1, 4), 0.25, dtype=torch.float64))


def test_abc_bad_input_errors():
    x = _images()
    with pytest.raises(ValueError, match="n_mutations must be an int >= 1, but found 0"):
        abc_confidence(Constant(), x, n_mutations=0)
    with pytest.raises(ValueError, match="mask_law must be one of .* but found 'poisson'"):
        abc_confidence(Constant(), x, mask_law="poisson")
    with pytest.raises(ValueError, match="n_features"):
        abc_confidence(Constant(), x, n_features=1.5)
    with pytest.raises(ValueError, match="target holds class 4, outside"):
        abc_confidence(Constant(), x, target=[0, 1, 4])
    with pytest.raises(ValueError, match="floor"):
        sampling_probabilities(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2), floor=0)


def test_auroc_against_pairwise_count():
    rng = np.random.default_rng(0)
    s = rng.integers(0, 6, 60) / 5.0  # many ties, as ABC has
    c = rng.random(60) < 0.6
    pos, neg = s[c], s[~c]
    brute = np.mean([1.0 if a > b else 0.5 if a == b else 0.0 for a, b in itertools.product(pos, neg)])
    assert auroc(s, c) == pytest.approx(brute)
    assert auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert auroc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]) == 0.0
    assert auroc([0.5] * 4, [0, 1, 0, 1]) == 0.5
    assert np.isnan(auroc([0.1, 0.2], [1, 1]))
    iv = auroc_interval(s, c, n_boot=300)
    assert iv.low <= iv.estimate <= iv.high
    with pytest.raises(ValueError, match="differ in length"):
        auroc([0.1, 0.2], [1])


def test_risk_coverage_and_summary():
    s = np.array([0.9, 0.8, 0.8, 0.3, 0.1])
    c = np.array([1, 1, 0, 1, 0], dtype=bool)
    rc = risk_coverage(s, c)
    assert rc["coverage"].tolist() == [0.2, 0.6, 0.8, 1.0]  # the tie at 0.8 enters together
    np.testing.assert_allclose(rc["risk"], [0.0, 1 / 3, 1 / 4, 2 / 5])
    assert aurc(s, c) == pytest.approx(0.2 * 0 + 0.4 / 3 + 0.2 / 4 + 0.2 * 2 / 5)
    perfect = aurc(c.astype(float), c)
    assert perfect < aurc(-c.astype(float), c)
    summ = abc_summary(s, c, n_boot=200)
    assert summ["correct"].estimate == pytest.approx((0.9 + 0.8 + 0.3) / 3)
    assert summ["incorrect"].estimate == pytest.approx(0.45)
    assert abc_summary(s, np.ones(5, bool))["incorrect"] is None
    row = reliability_row(s, c, n_boot=100, model="m", signal="abc")
    assert row["model"] == "m" and row["n_incorrect"] == 2
    assert max_softmax(np.array([[0.2, 0.8], [0.6, 0.4]])).tolist() == [0.8, 0.6]


def test_auroc_difference_and_evaluate_abc():
    from nsde.measures.abc import evaluate_abc
    from nsde.measures.reliability import auroc_difference

    c = np.array([1, 1, 1, 0, 0, 1, 0, 1], dtype=bool)
    good, bad = c.astype(float) + 0.01 * np.arange(8), np.random.default_rng(0).random(8)
    d = auroc_difference(good, bad, c, n_boot=300)
    assert d.estimate == pytest.approx(1.0 - auroc(bad, c)) and d.low <= d.estimate <= d.high
    assert auroc_difference(good, good, c, n_boot=50).estimate == 0.0
    model = PixelReader({5: 5.0}, tau=2.5)
    x = _images(4, seed=1)
    x[:2, 0, 1, 1], x[2:, 0, 1, 1] = 0.9, 0.3
    out = evaluate_abc(model, x, torch.tensor([0, 1, 1, 1]), n_mutations=10, n_features=1, n_steps=4)
    assert out["pred"].tolist() == [0, 0, 1, 1] and out["correct"].tolist() == [True, False, True, True]
    assert out["abc"].tolist() == [0.0, 0.0, 1.0, 1.0] and out["msp"].shape == (4,)
