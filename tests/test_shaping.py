"""Attribution-shaped noise (nsde.studies.attribution_noise) and the noise-shape study (nsde.studies.noise_shapes)."""
import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from nsde.core.models import build_model, noise_mode
from nsde.core.noise import parse_grid, pool_envelope
from nsde.studies import noise_shapes as ss
from nsde.studies.attribution_noise import attribution_envelope, map_agreement, shaped_rounds, training_envelopes
from nsde.studies.profiles import get_profile
from nsde.studies.zoo import train_zoo


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NSDE_CACHE", str(tmp_path / "cache"))


def _data():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(4).repeat_interleave(6)
    r, c = torch.arange(32)[:, None], torch.arange(32)[None, :]
    pat = torch.stack([torch.zeros(32, 32), (r % 2).expand(32, 32), (c % 2).expand(32, 32), ((r + c) % 2).float()])
    x = (0.4 * torch.rand(len(y), 1, 32, 32, generator=g) + 0.6 * pat[y][:, None]).clamp(0, 1)
    split = SimpleNamespace(x=x, y=y)
    return SimpleNamespace(train=split, val=SimpleNamespace(x=x[::3], y=y[::3]), test=split,
                           class_names=["a", "b", "c", "d"])


def _profile(**over):
    return dataclasses.replace(get_profile("quick"), epochs=1, batch_size=8, n_seeds=1, variant_shapes=[], **over)


@pytest.mark.parametrize("kind", ["random", "constant", "zero", "signed"])
def test_envelope_has_unit_mean_power_is_nonnegative_and_uniform_for_a_constant_map(kind):
    a = {"random": torch.randn(3, 1, 16, 16), "constant": torch.full((3, 1, 16, 16), 2.0),
         "zero": torch.zeros(3, 1, 16, 16), "signed": torch.randn(3, 1, 16, 16) - 5}[kind]
    env = attribution_envelope(a, mix=0.25)
    assert (env >= 0).all()
    assert torch.allclose(env.mean(dim=(2, 3)), torch.ones(3, 1), atol=1e-5)  # mean power 1 as a power map
    for size in ((8, 8), (4, 4), (1, 1)):
        amp = pool_envelope(env, size)
        assert torch.allclose(amp.pow(2).mean(dim=(2, 3)), torch.ones(3, 1), atol=1e-5)  # at every resolution
    if kind in ("constant", "zero"):
        assert torch.allclose(env, torch.ones_like(env))  # the identity: uniform noise


def test_a_concentrated_map_puts_the_noise_there():
    a = torch.zeros(1, 1, 16, 16)
    a[..., :4, :4] = 1.0
    env = attribution_envelope(a, mix=0.0)
    amp = pool_envelope(env, (4, 4))
    assert amp[0, 0, 0, 0] > 3.9 and amp[0, 0, 1:, 1:].max() == 0


def test_round_zero_is_the_existing_nsde_and_round_one_is_shaped():
    data, P = _data(), _profile(image_size=32)
    zoo = train_zoo(data, P)
    rounds = shaped_rounds(data, P, rounds=1, base_shape=P.noise_shape, attribution="saliency")
    assert rounds[0].key == zoo[f"nsde-{P.noise_shape}"][0].key  # round 0 = the uniform NSDE of the zoo
    assert rounds[1].key != rounds[0].key and rounds[1].envelope is not None
    assert rounds[1].envelope.shape == (1, 1, 32, 32)
    again = shaped_rounds(data, P, rounds=1, base_shape=P.noise_shape)  # cached per round
    assert again[1].key == rounds[1].key


def test_a_fixed_noise_seed_and_envelope_make_a_deterministic_function():
    model = build_model("resnet10t", "nsde", image_size=32, num_classes=4).eval()
    env = attribution_envelope(torch.randn(1, 1, 32, 32))
    model.set_envelope(env)
    x = torch.rand(3, 1, 32, 32)
    with torch.no_grad(), noise_mode(model, "on", seed=5):
        a, b = model(x), model(x)
    assert torch.equal(a, b)
    with torch.no_grad(), noise_mode(model, "on", seed=6):
        assert not torch.allclose(a, model(x))


def test_training_envelopes_and_map_agreement():
    data, P = _data(), _profile(image_size=32)
    zoo = train_zoo(data, P)
    env = training_envelopes(zoo["baseline"][0], data.train.x[:6], data.train.y[:6], attribution="saliency")
    assert env.shape == (6, 1, 32, 32) and (env >= 0.25 - 1e-6).all()  # the uniform floor
    same = map_agreement(env, env, (8, 8))
    assert torch.allclose(same, torch.ones(6))


def test_bad_inputs_name_the_value():
    with pytest.raises(ValueError, match="rounds must be an int >= 0, but found -1"):
        shaped_rounds(_data(), _profile(), rounds=-1)
    with pytest.raises(ValueError, match="NaN"):
        attribution_envelope(torch.full((1, 1, 8, 8), float("nan")))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        attribution_envelope(torch.ones(8, 8))
    with pytest.raises(ValueError, match="mix must be a number in"):
        attribution_envelope(torch.ones(1, 1, 8, 8), mix=1.5)
    model = build_model("resnet10t", "nsde", image_size=32, num_classes=4)
    with pytest.raises(ValueError, match="must be >= 0"):
        model.set_envelope(-torch.ones(1, 1, 32, 32))
    with pytest.raises(ValueError, match="unknown noise shape 'violet'"):
        parse_grid(["violet@0.1"])
    with pytest.raises(ValueError, match="number after '@'"):
        parse_grid(["white@x"])
    with pytest.raises(ValueError, match="non-empty list"):
        parse_grid("white@0.1")


def test_grid_parsing_and_counts():
    assert parse_grid(["white@0.1", "attribution@0.3", "white@0.1"]) == [("white", 0.1), ("attribution", 0.3)]
    diffs = ss.pd.DataFrame({"shape": ["white", "white", "pink"], "sigma": [0.1, 0.1, 0.1],
                             "measure": ["clean", "noise AUC", "clean"], "better": ["better", "better", "worse"]})
    counts = ss.grid_counts(diffs)
    assert counts.loc[("white", 0.1), "net"] == 2 and counts.index[0] == ("white", 0.1)
    assert np.array_equal(counts["worse"].to_numpy(), [0, 1])
