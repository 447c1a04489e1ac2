"""Data-parallel training under ``torchrun`` (PyTorch DistributedDataParallel).

A single process needs none of this: every function here is a no-op when the process was
not started by ``torchrun`` (``WORLD_SIZE`` unset or 1). Under ``torchrun`` the process
group is initialised on first use (NCCL on GPUs, gloo on CPUs), each rank runs on its
local GPU (``LOCAL_RANK``), and the training loop of :mod:`nsde.core.training`:

* draws one global shuffle per epoch (the same on every rank, from the training seed) and
  gives each rank a contiguous share of every global batch (:func:`shard`), so the global
  batch is ``TrainConfig.batch_size`` whatever the number of ranks;
* averages gradients with DDP; the loss is scaled so that the averaged gradient is the
  gradient of the mean loss over the global batch, as in a single process;
* writes checkpoints, the final weights and every cache entry from rank 0 only, and waits
  for it (:func:`barrier`) before the other ranks read them; resuming after a kill works as
  in a single process.

What differs from one process: BatchNorm statistics are per rank (ResNets see half
batches on two ranks; ConvNeXt's LayerNorm has no batch dependence), NSDE noise is drawn
independently per rank, and sums are reduced in another order. The test
``tests/test_distributed.py`` checks that two gloo ranks train a ConvNeXt baseline to the
same weights as one process within a stated tolerance.

Launch (see the README)::

    torchrun --nproc_per_node=N -m nsde.core.training --profile paper
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.nn as nn

__all__ = ["Context", "context", "wrap", "shard", "all_reduce_sum", "barrier", "is_main"]


@dataclass(frozen=True)
class Context:
    """Where this process stands in a ``torchrun`` job (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} must be an integer (torchrun sets it)") from None


def context() -> Context:
    """The ``torchrun`` context of this process, initialising the process group once."""
    world = _env_int("WORLD_SIZE", 1)
    if world <= 1:
        return Context()
    ctx = Context(rank=_env_int("RANK", 0), world_size=world, local_rank=_env_int("LOCAL_RANK", 0))
    import torch.distributed as td

    if not td.is_initialized():
        cuda = torch.cuda.is_available() and os.environ.get("NSDE_DEVICE", "cuda").startswith("cuda")
        if cuda:
            torch.cuda.set_device(ctx.local_rank)
        td.init_process_group(backend="nccl" if cuda else "gloo")
    return ctx


def is_main() -> bool:
    """Whether this process writes results (rank 0, or the only process)."""
    return context().rank == 0


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """``DistributedDataParallel(model)`` under torchrun, else ``model`` itself."""
    ctx = context()
    if not ctx.active:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index if device.index is not None else ctx.local_rank] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def shard(n: int, ctx: Context | None = None) -> slice:
    """This rank's contiguous share of a global batch of ``n`` items."""
    ctx = ctx or context()
    return slice(ctx.rank * n // ctx.world_size, (ctx.rank + 1) * n // ctx.world_size)


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """The sum of ``t`` over ranks (``t`` itself in one process)."""
    if not context().active:
        return t
    import torch.distributed as td

    t = t.clone()
    td.all_reduce(t, op=td.ReduceOp.SUM)
    return t


def barrier() -> None:
    """Wait for every rank (nothing in one process)."""
    if context().active:
        import torch.distributed as td

        td.barrier()
