"""nsde.measures.robustness: random-noise sweeps on the same noisy images for every model."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
from _standins import NoisyNet, images

from nsde.core.noise import SHAPES
from nsde.measures import robustness as rb
from nsde.measures.evaluation import correctness


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NSDE_CACHE", str(tmp_path / "cache"))


def test_intensity_zero_leaves_images_and_predictions_unchanged():
    model = NoisyNet()
    x, y = images()
    noisy, delivered = rb.add_noise(x, 0.0)
    assert torch.equal(noisy, x) and delivered.abs().max() == 0
    df = rb.noise_accuracy(model, x, y, [0.0], noise="off")
    assert df["accuracy"].iloc[0] == pytest.approx(correctness(model, x, y).mean())
    assert math.isinf(df["snr_db"].iloc[0])


@pytest.mark.parametrize("shape", SHAPES)
def test_noise_std_matches_intensity_before_clipping(shape):
    n = rb.sample_noise((64, 1, 32, 32), 0.3, shape, torch.Generator().manual_seed(0))
    assert n.pow(2).mean().sqrt().item() == pytest.approx(0.3, rel=0.05)  # unit mean power per shape
    if shape == "white":
        assert n.std().item() == pytest.approx(0.3, rel=0.02)


def test_add_noise_clips_and_snr_is_measured_on_delivered_noise():
    x = torch.full((4, 1, 16, 16), 0.5)
    noisy, delivered = rb.add_noise(x, 1.0, generator=torch.Generator().manual_seed(0))
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert delivered.abs().max() <= 0.5 + 1e-6  # clipping limits the delivered change
    assert rb.snr_db(torch.ones(10), torch.full((10,), 0.1)) == pytest.approx(20.0)


def test_noisy_inputs_is_the_one_seeded_source():
    x, _ = images(n=6)
    a = rb.noisy_inputs(x, [0.0, 0.1, 0.2], "pink", seed=3)
    b = rb.noisy_inputs(x, [0.0, 0.1, 0.2], "pink", seed=3)
    assert [i for i, _, _ in a] == [0.0, 0.1, 0.2]
    assert torch.equal(a[0][1], x) and all(torch.equal(p[1], q[1]) for p, q in zip(a, b))
    assert not torch.equal(a[1][1], rb.noisy_inputs(x, [0.0, 0.1], "pink", seed=4)[1][1])


def test_noise_accuracy_columns_and_monotone_damage():
    model = NoisyNet()
    x, y = images(n=64)
    df = rb.noise_accuracy(model, x, y, [0.0, 0.05, 2.0], noise="off")
    assert list(df.columns[:5]) == ["intensity", "accuracy", "low", "high", "snr_db"]
    assert (df["low"] <= df["accuracy"]).all() and (df["accuracy"] <= df["high"]).all()
    assert df["snr_db"].iloc[1] > df["snr_db"].iloc[2]
    per_image = df.attrs["correct"]
    assert list(per_image) == [0.0, 0.05, 2.0] and all(len(v) == 64 for v in per_image.values())
    assert [np.mean(per_image[i]) for i in per_image] == pytest.approx(df["accuracy"].tolist())
    pd.concat([df, df])  # per-image data in attrs do not break pandas' attrs comparison


def test_same_seed_same_table_and_cache():
    model = NoisyNet()
    x, y = images(n=32)
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
    noisy = NoisyNet(sigma=3.0)  # noise on: the model's private generator is reseeded by `seed`
    on = [rb.noise_accuracy(noisy, x, y, [0.1, 0.5], noise="on", samples=2, seed=s) for s in (1, 1)]
    pd.testing.assert_frame_equal(on[0], on[1])


def test_expected_correctness_over_draws_lies_between_0_and_1_and_averages_scorings():
    noisy = NoisyNet(sigma=3.0)
    x, y = images(n=40)
    t = rb.noise_accuracy(noisy, x, y, [0.0], noise="on", samples=1, draws=8, seed=0)
    c = np.asarray(t.attrs["correct"][0.0])
    assert ((c >= 0) & (c <= 1)).all() and ((c > 0) & (c < 1)).any()  # some images are right sometimes
    assert set(np.round(c * 8, 6)) <= set(range(9))                  # multiples of 1/8


def test_noise_auc_is_the_mean_accuracy_over_the_range():
    model = NoisyNet()
    x, y = images(n=30)
    t = rb.noise_accuracy(model, x, y, [0.0, 0.5, 1.0], noise="off")
    iv, per_image = rb.noise_auc(t)
    acc = t["accuracy"].to_numpy()
    assert iv.estimate == pytest.approx((acc[0] / 2 + acc[1] + acc[2] / 2) / 2)
    assert per_image.shape == (30,) and iv.low <= iv.estimate <= iv.high
    with pytest.raises(ValueError, match="increasing intensities"):
        rb.noise_auc(t.iloc[:1])


def test_bad_inputs_raise_clear_errors():
    model = NoisyNet()
    x, y = images(n=4)
    with pytest.raises(ValueError, match="-0.1"):
        rb.noise_accuracy(model, x, y, [0.1, -0.1])
    with pytest.raises(ValueError, match="input_noise must be one of .* but found .purple."):
        rb.noise_accuracy(model, x, y, [0.1], input_noise="purple")
    with pytest.raises(ValueError, match="noise must be one of"):
        rb.noise_accuracy(model, x, y, [0.1], noise="sometimes")
    with pytest.raises(TypeError, match="TrainedModel"):
        rb.noise_accuracy("model", x, y, [0.1])
    with pytest.raises(TypeError, match=r"intensities must be a list of numbers, but found 0.1 .*write \[0.1\]"):
        rb.noise_accuracy(model, x, y, 0.1)
    with pytest.raises(TypeError, match=r"intensities must be a list of numbers, but found .0.1. \(str\); write \[0.1\] "):
        rb.noise_accuracy(model, x, y, "0.1")
    with pytest.raises(ValueError, match=r"y holds class 7, outside \[0, 3\)"):
        rb.noise_accuracy(model, x, torch.tensor([0, 1, 2, 7]), [0.1])
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        rb.noise_accuracy(model, x * 255, y, [0.1])
    with pytest.raises(TypeError, match="divide uint8 images by 255"):
        rb.noise_accuracy(model, (x * 255).to(torch.uint8), y, [0.1])
    with pytest.raises(ValueError, match="NaN"):
        rb.noise_accuracy(model, torch.full_like(x, float("nan")), y, [0.1])
    with pytest.raises(ValueError, match="takes 1-channel images, but x has 3 channels"):
        rb.noise_accuracy(model, x.repeat(1, 3, 1, 1), y, [0.1])
