"""Run by tests/test_distributed.py under torchrun: train a tiny ConvNeXt baseline on the
test's data and save the weights from rank 0."""
import sys

import torch

sys.path.insert(0, sys.argv[3])  # the tests folder, for _tiny_data
from test_distributed import make_data, make_model  # noqa: E402

from nsde._infra import distributed as dist  # noqa: E402
from nsde.core.training import TrainConfig, train  # noqa: E402

out, ckpt = sys.argv[1], sys.argv[2]
train_data, val_data = make_data()
model = make_model()
train(model, train_data, val_data, TrainConfig(epochs=2, batch_size=8, lr=2e-3, seed=0), device="cpu",
      ckpt_dir=ckpt, key="ddp-test")
if dist.context().rank == 0:
    torch.save(model.state_dict(), out)
