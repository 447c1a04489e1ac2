"""Tests of nsde.training: learning on a tiny task, resume equivalence, caching and errors."""
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
import torch

from nsde.models import noise_mode
from nsde.training import ModelSpec, TrainConfig, predict, train, train_or_load

N_CLASSES = 4


def _tiny_split(n_per_class, seed):
    """Four textures in noise: flat, horizontal stripes, vertical stripes, checkerboard."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(N_CLASSES).repeat_interleave(n_per_class)
    r, c = torch.arange(32)[:, None], torch.arange(32)[None, :]
    patterns = torch.stack([torch.zeros(32, 32), (r % 2).expand(32, 32), (c % 2).expand(32, 32),
                            ((r + c) % 2).float()]).float()
    x = 0.4 * torch.rand(len(y), 1, 32, 32, generator=g) + 0.6 * patterns[y][:, None]
    return SimpleNamespace(x=x.clamp(0, 1), y=y)


TRAIN, VAL = _tiny_split(12, 0), _tiny_split(6, 1)
SPLITS = SimpleNamespace(train=TRAIN, val=VAL)


@dataclass(frozen=True)
class TinyData:  # stands in for nsde.data.DataConfig
    image_size: int = 32
    name: str = "bands"


def _model(kind="nsde", seed=0):
    torch.manual_seed(seed)
    return ModelSpec("convnext_atto", kind, "brownian", 0.1, num_classes=N_CLASSES).build(32)


def test_tiny_nsde_beats_chance():
    model = _model()
    hist = train(model, TRAIN, VAL, TrainConfig(epochs=3, batch_size=8, lr=2e-3), device="cpu")
    assert len(hist) == 3 and {"train_loss", "val_acc", "seconds"} <= set(hist[0])
    with noise_mode(model, "off"):
        probs = predict(model, VAL.x)
    assert probs.shape == (len(VAL.y), N_CLASSES) and probs.device.type == "cpu"
    assert torch.allclose(probs.sum(1), torch.ones(len(probs)), atol=1e-5)
    acc = (probs.argmax(1) == VAL.y).float().mean().item()
    assert acc >= 0.6, f"val accuracy {acc:.2f} vs chance {1 / N_CLASSES:.2f}"


def test_resume_equals_uninterrupted(tmp_path):
    cfg = TrainConfig(epochs=2, batch_size=16, lr=2e-3, seed=3)
    full = _model()
    h_full = train(full, TRAIN, VAL, cfg, ckpt_dir=tmp_path / "a", key="k", device="cpu")
    part = _model()
    h_part = train(part, TRAIN, VAL, cfg, ckpt_dir=tmp_path / "b", key="k", device="cpu", stop_after=1)
    assert len(h_part) == 1 and (tmp_path / "b" / "metrics.json").exists()
    resumed = _model(seed=99)  # different init: everything must come from the checkpoint
    h_res = train(resumed, TRAIN, VAL, cfg, ckpt_dir=tmp_path / "b", key="k", device="cpu")
    assert [r["val_loss"] for r in h_res] == [r["val_loss"] for r in h_full]
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
    with pytest.raises(ValueError, match="other|belongs"):
        train(_model(), TRAIN, VAL, cfg, ckpt_dir=tmp_path / "b", key="another-config", device="cpu")


def test_train_or_load_caches_by_configuration():
    spec = ModelSpec("convnext_atto", "baseline", num_classes=N_CLASSES)
    cfg = TrainConfig(epochs=1, batch_size=16)
    first = train_or_load(spec, cfg, TinyData(), splits=SPLITS, device="cpu")
    again = train_or_load(spec, cfg, TinyData(), splits=None, device="cpu")  # no data needed: cached
    assert first.key == again.key and first.history == again.history
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)
    # a baseline's key ignores the NSDE-only fields
    assert train_or_load(ModelSpec("convnext_atto", "baseline", "pink", 0.3, N_CLASSES), cfg, TinyData(),
                         device="cpu").key == first.key
    other = train_or_load(spec, TrainConfig(epochs=1, batch_size=16, seed=1), TinyData(), splits=SPLITS, device="cpu")
    assert other.key != first.key


def test_bad_input_errors():
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="vgg"):
        ModelSpec("vgg")
    with pytest.raises(ValueError, match="sigma"):
        ModelSpec(kind="nsde", sigma=-1.0)
    with pytest.raises(ValueError, match="violet"):
        ModelSpec(kind="nsde", noise="violet")
    with pytest.raises(TypeError, match="ModelSpec"):
        train_or_load("convnext_atto", TrainConfig(), TinyData())
    with pytest.raises(ValueError, match="shape"):
        predict(_model(), torch.zeros(3, 32, 32))


def test_train_fraction_validated_and_one_equals_default_key():
    from nsde.cache import config_hash

    assert config_hash(TrainConfig(train_fraction=1)) == config_hash(TrainConfig())
    assert config_hash(TrainConfig(train_fraction=0.5)) != config_hash(TrainConfig())
    for bad in (0, 1.2, -1, True, "half"):
        with pytest.raises(ValueError, match="train_fraction"):
            TrainConfig(train_fraction=bad)


def test_data_size_table_scores_every_pair_on_the_same_images():
    import numpy as np

    from nsde.data import SignalDataset
    from nsde.training import correctness, data_size_table

    def ds(split):
        return SignalDataset(split.x.float(), split.y.long())

    splits = SimpleNamespace(train=ds(TRAIN), val=ds(VAL), test=ds(_tiny_split(5, 2)))
    runs = {}
    for f in (0.5, 1.0):
        cfg = TrainConfig(epochs=1, batch_size=16, train_fraction=f)
        runs[f] = {spec.name: train_or_load(spec, cfg, TinyData(name="fractions"), splits=splits, device="cpu")
                   for spec in (ModelSpec("convnext_atto", "baseline", num_classes=N_CLASSES),
                                ModelSpec("convnext_atto", "nsde", "white", 0.1, N_CLASSES))}
    assert runs[0.5]["baseline"].key != runs[1.0]["baseline"].key
    table = data_size_table(runs, splits, intensities=[0.0, 0.1], eval_samples=2)
    assert len(table) == 4 and table["train images"].tolist() == [24, 24, 48, 48]
    assert np.allclose(table["difference"], table["nsde"] - table["baseline"])
    for col in ("baseline", "nsde"):
        assert ((table[f"{col} low"] <= table[col]) & (table[col] <= table[f"{col} high"])).all()
    clean = correctness(runs[1.0]["baseline"], splits.test.x, splits.test.y).mean()
    assert table.query("fraction == 1.0 and intensity == 0.0")["baseline"].item() == pytest.approx(clean)
    again = data_size_table(runs, splits, intensities=[0.0, 0.1], eval_samples=2)
    assert again.equals(table)  # seeded: the same numbers twice
