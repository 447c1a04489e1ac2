"""nsde.core.training: learning on a tiny task, resume equivalence, caching by content, errors."""
import warnings
from types import SimpleNamespace

import pytest
import torch

from nsde.core.models import build_model, noise_mode
from nsde.core.predict import predict
from nsde.core.training import ModelSpec, TrainConfig, train, train_or_load

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
SPLITS = SimpleNamespace(train=TRAIN, val=VAL, class_names=["flat", "rows", "cols", "checks"])


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NSDE_CACHE", str(tmp_path / "cache"))


def _model(kind="nsde", seed=0, arch="convnext_atto"):
    torch.manual_seed(seed)
    return ModelSpec(arch, kind, "brownian", 0.1).build(32, N_CLASSES)


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
    with pytest.raises(ValueError, match="belongs to configuration"):
        train(_model(), TRAIN, VAL, cfg, ckpt_dir=tmp_path / "b", key="another-config", device="cpu")


def test_a_checkpoint_folder_needs_a_key(tmp_path):
    with pytest.raises(ValueError, match=r"ckpt_dir=.*needs key="):
        train(_model(), TRAIN, VAL, TrainConfig(epochs=1), ckpt_dir=tmp_path, device="cpu")


def test_a_damaged_checkpoint_is_reported_and_training_starts_over(tmp_path):
    cfg = TrainConfig(epochs=2, batch_size=16, seed=1)
    train(_model(), TRAIN, VAL, cfg, ckpt_dir=tmp_path, key="k", device="cpu", stop_after=1)
    ckpt = tmp_path / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    with pytest.warns(UserWarning, match=rf"damaged cache file {ckpt}"):
        hist = train(_model(), TRAIN, VAL, cfg, ckpt_dir=tmp_path, key="k", device="cpu")
    assert len(hist) == 2


def test_train_or_load_caches_by_configuration_and_data_content():
    spec = ModelSpec("convnext_atto", "baseline")
    cfg = TrainConfig(epochs=1, batch_size=16)
    first = train_or_load(spec, cfg, SPLITS, device="cpu")
    again = train_or_load(spec, cfg, SPLITS, device="cpu")
    assert first.key == again.key and first.history == again.history and first.spec.num_classes == N_CLASSES
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)
    # a baseline's key ignores the NSDE-only fields
    assert train_or_load(ModelSpec("convnext_atto", "baseline", "pink", 0.3), cfg, SPLITS, device="cpu").key == first.key
    assert train_or_load(spec, TrainConfig(epochs=1, batch_size=16, seed=1), SPLITS, device="cpu").key != first.key
    # the same configurations on other data (another split of the same images) train anew
    swapped = SimpleNamespace(train=SimpleNamespace(x=torch.cat([TRAIN.x[6:], VAL.x[:6]]),
                                                    y=torch.cat([TRAIN.y[6:], VAL.y[:6]])),
                              val=SimpleNamespace(x=torch.cat([VAL.x[6:], TRAIN.x[:6]]),
                                                  y=torch.cat([VAL.y[6:], TRAIN.y[:6]])),
                              class_names=SPLITS.class_names)
    other = train_or_load(spec, cfg, swapped, device="cpu")
    assert other.key != first.key and other.path != first.path
    assert (other.path / "checkpoint.pt").exists()  # it trained, it did not load


def test_a_damaged_model_file_is_retrained():
    spec, cfg = ModelSpec("convnext_atto", "baseline"), TrainConfig(epochs=1, batch_size=16, seed=4)
    first = train_or_load(spec, cfg, SPLITS, device="cpu")
    (first.path / "model.pt").write_bytes(b"")
    (first.path / "checkpoint.pt").unlink()
    with pytest.warns(UserWarning, match="damaged cache file"):
        again = train_or_load(spec, cfg, SPLITS, device="cpu")
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)  # same seed, same data: the same weights again


def test_head_and_data_must_agree():
    with pytest.raises(ValueError, match=r"num_classes=16, but the data have 4 classes"):
        train_or_load(ModelSpec("convnext_atto", "baseline", num_classes=16), TrainConfig(epochs=1), SPLITS)
    wide = SimpleNamespace(x=TRAIN.x, y=TRAIN.y + 1)  # labels 1..4 for a 4-output head
    with pytest.raises(ValueError, match="holds class 4, but the model has 4 outputs"):
        train(_model(), wide, VAL, TrainConfig(epochs=1), device="cpu")
    with pytest.raises(TypeError, match="num_classes"):  # no silent default head size
        build_model("resnet10t", image_size=32)


def test_optimiser_groups_and_schedule_come_from_timm_and_match_the_old_rule():
    from nsde.core.training import _optimizer

    model = _model("baseline", arch="resnet10t")
    cfg = TrainConfig(epochs=2, lr=1e-3, weight_decay=0.05, warmup_frac=0.1)
    opt, sched = _optimizer(model, cfg, steps_per_epoch=50)
    decayed = {id(p) for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    # the book's rule before timm: decay every tensor with >= 2 dims, nothing else
    assert decayed == {id(p) for p in model.parameters() if p.ndim >= 2}
    lrs = []
    for step in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        sched.step_update(step + 1)
    assert lrs[0] == pytest.approx(1e-4)               # warm-up starts at lr / warmup steps
    assert max(lrs) == pytest.approx(1e-3, rel=1e-6)   # reaches the peak after warm-up
    assert lrs[10] == pytest.approx(1e-3, rel=1e-6)
    assert lrs[-1] < 1e-5                              # cosine to ~0 at the end
    assert all(b <= a + 1e-12 for a, b in zip(lrs[10:], lrs[11:]))


def test_bad_input_errors():
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="vgg"):
        ModelSpec("vgg")
    with pytest.raises(ValueError, match="sigma"):
        ModelSpec(kind="nsde", sigma=-1.0)
    with pytest.raises(ValueError, match="violet"):
        ModelSpec(kind="nsde", noise_shape="violet")
    with pytest.raises(TypeError, match="ModelSpec"):
        train_or_load("convnext_atto", TrainConfig(), SPLITS)
    with pytest.raises(ValueError, match="shape"):
        predict(_model(), torch.zeros(3, 32, 32))
    with pytest.raises(TypeError, match="floating-point"):
        train(_model(), SimpleNamespace(x=(TRAIN.x * 255).to(torch.uint8), y=TRAIN.y), VAL, TrainConfig(epochs=1))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        train(_model(), SimpleNamespace(x=TRAIN.x * 255, y=TRAIN.y), VAL, TrainConfig(epochs=1))


def test_train_fraction_validated_and_one_equals_default_key():
    from nsde._infra.cache import config_hash

    assert config_hash(TrainConfig(train_fraction=1)) == config_hash(TrainConfig())
    assert config_hash(TrainConfig(train_fraction=0.5)) != config_hash(TrainConfig())
    for bad in (0, 1.2, -1, True, "half"):
        with pytest.raises(ValueError, match="train_fraction"):
            TrainConfig(train_fraction=bad)


def test_a_one_sample_last_batch_is_dropped_for_batchnorm():
    odd = SimpleNamespace(x=TRAIN.x[:17], y=TRAIN.y[:17])  # batches of 8, 8 and 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hist = train(_model("baseline", arch="resnet10t"), odd, VAL, TrainConfig(epochs=1, batch_size=8), device="cpu")
    assert len(hist) == 1


def test_train_zoo_gives_every_model_its_architecture_recipe():
    import dataclasses

    from nsde.studies.profiles import get_profile
    from nsde.studies.zoo import train_zoo

    P = dataclasses.replace(get_profile("quick"), arch="convnext_atto", epochs=1, batch_size=16, n_seeds=1,
                            variant_shapes=[])
    zoo = train_zoo(SPLITS, P, device="cpu")
    for runs in zoo.values():
        assert runs[0].spec.standardize and runs[0].spec.ls_init == 0.1
