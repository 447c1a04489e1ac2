"""Data-parallel training under torchrun (gloo, 2 CPU processes) matches one process."""
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

HERE = Path(__file__).resolve().parent
#: Largest absolute weight difference accepted between 2 ranks and 1 process (float32 sums
#: reduced in another order by the all-reduce; LayerNorm has no batch dependence).
TOLERANCE = 1e-4


def make_data():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(4).repeat_interleave(8)
    x = (0.5 * torch.rand(len(y), 1, 32, 32, generator=g) + 0.12 * y.view(-1, 1, 1, 1)).clamp(0, 1)
    return SimpleNamespace(x=x, y=y), SimpleNamespace(x=x[::4], y=y[::4])


def make_model():
    from nsde.core.models import build_model

    torch.manual_seed(0)
    return build_model("convnext_atto", "baseline", image_size=32, num_classes=4)


def test_two_gloo_ranks_train_the_same_weights_as_one_process(tmp_path, monkeypatch):
    from nsde.core.training import TrainConfig, train

    env = {**os.environ, "NSDE_PRECISION": "fp32", "NSDE_DEVICE": "cpu", "NSDE_THREADS": "1",
           "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parent)}
    out = tmp_path / "ddp.pt"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533",
           str(HERE / "_ddp_worker.py"), str(out), str(tmp_path / "ckpt"), str(HERE)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ddp = torch.load(out)

    monkeypatch.setenv("NSDE_PRECISION", "fp32")
    torch.set_num_threads(1)
    model = make_model()
    train(model, *make_data(), TrainConfig(epochs=2, batch_size=8, lr=2e-3, seed=0), device="cpu")
    single = model.state_dict()
    worst = max((ddp[k].float() - single[k].float()).abs().max().item() for k in single)
    moved = max((single[k].float() - make_model().state_dict()[k].float()).abs().max().item() for k in single)
    assert moved > 100 * TOLERANCE  # training changed the weights, so the comparison means something
    assert worst < TOLERANCE, f"2 ranks and 1 process differ by up to {worst:.2e}"
    assert (tmp_path / "ckpt" / "checkpoint.pt").exists()  # written by rank 0


def test_a_batch_the_ranks_cannot_share_is_refused(monkeypatch):
    from nsde.core.training import TrainConfig, train

    monkeypatch.setattr("nsde._infra.distributed.context", lambda: __import__("nsde._infra.distributed", fromlist=["Context"])
                        .Context(rank=0, world_size=3))
    with pytest.raises(ValueError, match="batch_size=8 is not divisible by the torchrun world size 3"):
        train(make_model(), *make_data(), TrainConfig(epochs=1, batch_size=8), device="cpu")
