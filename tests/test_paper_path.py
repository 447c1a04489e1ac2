"""The `paper` profile's code path, at toy size, on every commit.

ConvNeXt-Base at 224x224 (the paper's model) and its NSDE variant: a few training steps in
the run-time precision (bf16 autocast and channels-last where the CPU has bfloat16),
checkpoint and resume, one noise-sweep point, one APGD step, one Integrated Gradients call
and one I-ASIDE coalition. It fails if any piece of the paper profile is broken, long
before anyone spends GPU time on it.
"""
import dataclasses
from types import SimpleNamespace

import pytest
import torch

from nsde._infra.runtime import precision
from nsde.core.training import ModelSpec, TrainConfig, train
from nsde.data import load_dataset
from nsde.measures import attacks as at
from nsde.measures import iaside as sp
from nsde.measures import robustness as rb
from nsde.measures.attribution import attribute
from nsde.studies.profiles import get_profile
from nsde.studies.zoo import recipe


@pytest.fixture(scope="module")
def paper_setup(tmp_path_factory):
    import os

    os.environ.setdefault("NSDE_CACHE", str(tmp_path_factory.mktemp("cache")))
    P = get_profile("paper")
    toy = dataclasses.replace(P, n_per_class=7, epochs=2, n_seeds=1, variant_shapes=[], batch_size=2)
    data = load_dataset(toy.dataset, image_size=toy.image_size, seed=toy.seed, n_per_class=toy.n_per_class)
    return toy, data


def _spec(P, kind):
    return ModelSpec(arch=P.arch, kind=kind, noise_shape=P.noise_shape, sigma=P.sigma, **recipe(P.arch))


def test_paper_profile_is_convnext_base_at_224(paper_setup):
    P, data = paper_setup
    assert P.arch == "convnext_base" and P.image_size == 224 and data.train.x.shape[-2:] == (224, 224)


def test_paper_models_train_resume_and_evaluate(paper_setup, tmp_path, monkeypatch):
    from nsde._infra.runtime import _cpu_has_bf16

    P, data = paper_setup
    # the GPU runs ConvNeXt-Base in bf16 autocast with channels-last: exercise that path here
    monkeypatch.setenv("NSDE_PRECISION", "bf16" if _cpu_has_bf16() else "fp32")
    torch.manual_seed(0)
    tiny = SimpleNamespace(x=data.train.x[:4], y=data.train.y[:4])
    val = SimpleNamespace(x=data.val.x[:2], y=data.val.y[:2])
    cfg = TrainConfig(epochs=2, batch_size=2, lr=P.lr, seed=P.seed)
    nsde = _spec(P, "nsde").build(P.image_size, data.num_classes)
    params = sum(p.numel() for p in nsde.parameters())
    assert 80e6 < params < 95e6  # ConvNeXt-Base
    first = train(nsde, tiny, val, cfg, ckpt_dir=tmp_path, key="paper-toy", device="cpu", stop_after=1)
    torch.manual_seed(1)  # a fresh model with other weights: only the checkpoint can give it epoch 1
    nsde = _spec(P, "nsde").build(P.image_size, data.num_classes)
    hist = train(nsde, tiny, val, cfg, ckpt_dir=tmp_path, key="paper-toy", device="cpu")  # resumes epoch 2
    assert [h["epoch"] for h in hist] == [1, 2]
    assert hist[0]["train_loss"] == first[0]["train_loss"]  # epoch 1 was read back, not retrained
    assert nsde.precision == precision("cpu", P.arch) == ("bf16" if _cpu_has_bf16() else "fp32")
    if nsde.precision == "bf16":  # channels-last convolutions with bf16 autocast
        assert nsde.net.stem[0].weight.is_contiguous(memory_format=torch.channels_last)
    x, y = data.test.x[:2], data.test.y[:2]
    sweep = rb.noise_accuracy(nsde, x, y, [0.1], noise="on", samples=1)
    assert len(sweep) == 1 and 0 <= sweep["accuracy"].iloc[0] <= 1
    adv = at.apgd_attack(nsde, x[:1], y[:1], 0.05, n_iter=1, eot_iter=1, noise="on")
    assert ((adv - x[:1]).flatten(1).norm(dim=1) <= 0.05 + 1e-4).all()
    ig = attribute(nsde, x[:1], y[:1], "ig", n_steps=2, internal_batch_size=2)
    assert ig.shape == x[:1].shape and torch.isfinite(ig).all()
    v = sp.coalition_values(nsde, x, y, P.iaside_n_bands, coalitions=sp.all_coalitions(P.iaside_n_bands)[-1:],
                            show_progress=False)
    assert v.shape == (1,) and torch.isfinite(v).all()


def test_the_paper_recipe_reaches_the_models_through_train_or_load(paper_setup, monkeypatch):
    from nsde.core.training import train_or_load

    P, data = paper_setup
    tiny = SimpleNamespace(train=SimpleNamespace(x=data.train.x[:2], y=data.train.y[:2]),
                           val=SimpleNamespace(x=data.val.x[:2], y=data.val.y[:2]), class_names=data.class_names)
    monkeypatch.setenv("NSDE_PRECISION", "fp32")
    t = train_or_load(_spec(P, "nsde"), TrainConfig(epochs=1, batch_size=2, lr=P.lr, seed=P.seed), tiny, device="cpu")
    assert t.spec.standardize and t.spec.ls_init == 0.1  # the ConvNeXt recipe
    assert float(t.model.input_std) != 1.0  # standardisation set from the training images
    assert torch.allclose(t.model.net.stages[0].blocks[0].gamma.abs().mean(), torch.tensor(0.1), rtol=0.5)


def test_the_paper_baseline_shares_the_nsde_weights_layout(paper_setup):
    P, data = paper_setup
    base = _spec(P, "baseline").build(P.image_size, data.num_classes)
    nsde = _spec(P, "nsde").build(P.image_size, data.num_classes)
    assert list(base.state_dict()) == list(nsde.state_dict())
