"""nsde._infra.runtime: one thread and precision policy, clear device errors, derived seeds."""
import pytest
import torch

from nsde._infra import runtime


def test_threads_are_fixed_by_the_policy(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("NSDE_THREADS", raising=False)
        assert runtime.configure()["threads"] == runtime.DEFAULT_THREADS == torch.get_num_threads()
        monkeypatch.setenv("NSDE_THREADS", "1")
        assert runtime.configure()["threads"] == 1
        monkeypatch.setenv("NSDE_THREADS", "many")
        with pytest.raises(ValueError, match="NSDE_THREADS must be a positive integer, got 'many'"):
            runtime.configure()
    finally:
        torch.set_num_threads(before)


def test_precision_policy(monkeypatch):
    monkeypatch.setattr(runtime, "_cpu_has_bf16", lambda: True)
    monkeypatch.delenv("NSDE_PRECISION", raising=False)
    assert runtime.precision("cpu") == "bf16"
    assert runtime.precision("cpu", "resnet10t") == "bf16"
    assert runtime.precision("cpu", "convnext_atto") == "fp32"  # ConvNeXt trains faster in fp32 on a CPU
    monkeypatch.setenv("NSDE_PRECISION", "fp32")
    assert runtime.precision("cpu") == "fp32"
    monkeypatch.setenv("NSDE_PRECISION", "bf16")
    assert runtime.precision("cpu", "convnext_atto") == "bf16"  # forced
    monkeypatch.setenv("NSDE_PRECISION", "half")
    with pytest.raises(ValueError, match="NSDE_PRECISION must be one of"):
        runtime.precision("cpu")
    monkeypatch.setattr(runtime, "_cpu_has_bf16", lambda: False)
    monkeypatch.setenv("NSDE_PRECISION", "bf16")
    with pytest.raises(ValueError, match="no native bfloat16"):
        runtime.precision("cpu")
    monkeypatch.setenv("NSDE_PRECISION", "auto")
    assert runtime.precision("cpu") == "fp32"


def test_device_errors_name_the_setting(monkeypatch):
    monkeypatch.setenv("NSDE_DEVICE", "cpu")
    assert runtime.default_device() == torch.device("cpu")
    if not torch.cuda.is_available():
        monkeypatch.setenv("NSDE_DEVICE", "cuda")
        with pytest.raises(ValueError, match="asks for CUDA, but this machine has no CUDA device"):
            runtime.default_device()
    monkeypatch.setenv("NSDE_DEVICE", "gpu0")
    with pytest.raises(ValueError, match="is not a device name"):
        runtime.default_device()


def test_derived_seeds_are_stable_and_distinct():
    assert runtime.derive_seed(1, 2, 3) == runtime.derive_seed(1, 2, 3)
    assert len({runtime.derive_seed(0, e, 1) for e in range(100)}) == 100
    assert 0 <= runtime.derive_seed(5) < 2**31
    with pytest.raises(ValueError, match="seed"):
        runtime.seed_everything(-1)


def test_eval_mode_restores_every_submodule():
    m = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout()).train()
    m[1].eval()  # a submodule in another mode than its parent
    with runtime.eval_mode(m):
        assert not m.training and not m[0].training
    assert m.training and m[0].training and not m[1].training


def test_noise_rng_draws_from_the_seed_and_restores_the_stream():
    from nsde.core.models import build_model, noise_mode, noise_rng

    model = build_model("resnet10t", "nsde", sigma=0.5, image_size=32, num_classes=16).eval()
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad(), noise_mode(model, "on"):
        model.reseed_noise(3)
        with noise_rng(model, 7):
            a = model(x)
        resumed = model(x)  # the first draw of stream 3: the block did not consume it
        with noise_rng(model, 7):
            b = model(x)
        model.reseed_noise(3)
        first = model(x)
    assert torch.equal(a, b)  # the same seed, the same draws
    assert torch.equal(resumed, first) and not torch.equal(a, first)
