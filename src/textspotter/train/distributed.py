"""Process-group handling for ``torchrun`` (DistributedDataParallel; NCCL on GPU, gloo on CPU).

Rules (``STYLE.md``): ``LOCAL_RANK`` only picks the device; the global rank seeds and shards the data; only rank 0
writes files; metric counters are summed over ranks (never averaged rates). A single process (no ``WORLD_SIZE`` or
``WORLD_SIZE=1``) runs without a process group, and every helper here is then a no-op.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "init_distributed", "shutdown_distributed", "all_reduce_sums", "all_gather_objects", "barrier"]


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands.

    Attributes:
        rank: global rank (seeds, data shard, who writes).
        world_size: number of training processes.
        local_rank: rank on this machine (picks the GPU).
        device: the device this process trains on.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """True on the process that writes logs, checkpoints and plots (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from None


def init_distributed(device: str = "auto", *, env: Mapping[str, str] | None = None, timeout_s: int = 1800) -> DistInfo:
    """Read the ``torchrun`` environment, pick the device and join the process group when there are several ranks.

    Args:
        device: ``"auto"`` (``cuda:LOCAL_RANK`` when CUDA is available, else CPU), ``"cpu"`` or ``"cuda"``.
        env: the environment to read (``os.environ`` by default; tests pass their own).
        timeout_s: process-group timeout.

    Returns:
        The process's :class:`DistInfo`.

    Raises:
        ValueError: on an unknown device or inconsistent ranks.
    """
    env = os.environ if env is None else env
    world_size = _env_int(env, "WORLD_SIZE", 1)
    rank = _env_int(env, "RANK", 0)
    local_rank = _env_int(env, "LOCAL_RANK", 0)
    if not 0 <= rank < world_size:
        raise ValueError(f"RANK={rank} is outside WORLD_SIZE={world_size}")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {device!r}")
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' requested but CUDA is not available")
        torch_device = torch.device("cuda", local_rank)
        torch.cuda.set_device(torch_device)
    else:
        torch_device = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if use_cuda else "gloo"
        kwargs: dict[str, Any] = {"backend": backend, "timeout": timedelta(seconds=timeout_s)}
        if use_cuda:
            kwargs["device_id"] = torch_device
        dist.init_process_group(**kwargs)
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank, device=torch_device)


def shutdown_distributed(info: DistInfo) -> None:
    """Leave the process group (no-op for a single process)."""
    if info.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    """Wait for every rank (no-op for a single process)."""
    if info.distributed:
        dist.barrier()


def all_reduce_sums(values: Mapping[str, float], info: DistInfo) -> dict[str, float]:
    """Sum each named value over the ranks (float64), e.g. metric counters or loss totals.

    Every rank must pass the same keys. Returns a new dict (the input on a single process, as floats).
    """
    keys = sorted(values)
    if not info.distributed:
        return {k: float(values[k]) for k in keys}
    # gloo reduces CPU tensors; NCCL needs them on the GPU.
    tensor = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=info.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return dict(zip(keys, tensor.tolist()))


def all_gather_objects(value: Any, info: DistInfo) -> list[Any]:
    """Return ``[value of rank 0, value of rank 1, ...]`` (``[value]`` for a single process)."""
    if not info.distributed:
        return [value]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, value)
    return out
