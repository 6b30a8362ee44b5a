"""This process's place in a training job: alone, or one rank of a `torchrun` job (DistributedDataParallel)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from ..devices import resolve_device


@dataclass
class Distributed:
    """This process's place in a (possibly one-process) job."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()


def shared_clock(elapsed_seconds: float, job: Distributed) -> float:
    """Rank 0's elapsed time on every rank, so all ranks stop a --minutes budget at the same step."""
    if job.world_size == 1:
        return elapsed_seconds
    clock = torch.tensor([elapsed_seconds], dtype=torch.float64, device=job.device)
    dist.broadcast(clock, src=0)
    return float(clock)


def launched_as_main() -> bool:
    """This process is alone or rank 0 of its torchrun job, as the environment says before the job is set up."""
    return int(os.environ.get("RANK", "0")) == 0


def setup_distributed(device_name: str) -> Distributed:
    """Join the torchrun job described by the environment, or run alone."""
    device = resolve_device(device_name)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed(0, 1, device)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Distributed(dist.get_rank(), dist.get_world_size(), device)
