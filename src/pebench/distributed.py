"""Data parallelism over processes started by `accelerate launch` or `torchrun`.

Every process holds the whole model. Training: each step's batch is split across processes
and gradients are averaged before the optimizer step (what DDP does, but it also works for
methods that run the model several times per step, and for reference models). Evaluation:
generation batches are dealt out across processes and the answers gathered, so every
process ends with the same answers a single process would give. Only the main process
writes files. With one process (the default) every function here is a no-op.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence, TypeVar

import torch
import torch.distributed as dist

from pebench.errors import PebenchError

T = TypeVar("T")


def init() -> None:
    """Join the process group announced by the launcher's environment (WORLD_SIZE > 1):
    NCCL on GPUs, gloo on CPUs. The world size is taken from torch.distributed itself, not
    from accelerate's state (which reports 1 process for CPU launches). An accelerate launch
    that asks for FSDP or DeepSpeed is refused: pebench replicates the model, it does not
    shard it, and silently ignoring the request would misstate the memory it needs."""
    for flag, name in (("ACCELERATE_USE_FSDP", "FSDP"), ("ACCELERATE_USE_DEEPSPEED", "DeepSpeed")):
        if os.environ.get(flag, "").lower() in ("1", "true"):
            raise PebenchError(f"{name} model sharding is not supported: pebench keeps a whole model per process "
                               "(use configs/accelerate/ddp.yaml, with LoRA for 7B models)")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if cuda else "gloo")


def device(name: str = "auto") -> torch.device:
    """`name`, or for `auto` this process's GPU (LOCAL_RANK under accelerate / torchrun) when
    CUDA is present, else the CPU."""
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def shutdown() -> None:
    """Leave the process group (exiting with it still open can abort gloo's threads)."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def shard(items: Sequence[T]) -> list[T]:
    """This process's share of `items` (every world_size-th item, from its rank)."""
    return list(items[rank() :: world_size()])


def gather(obj: Any) -> list[Any]:
    """`obj` from every process, in rank order (just [obj] with one process)."""
    if world_size() == 1:
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def from_main(fn: Callable[[], T]) -> T:
    """`fn()` run by the main process only, its result sent to every process (e.g. judge
    calls to a paid endpoint, made once, with one writer of the judgement cache)."""
    if world_size() == 1:
        return fn()
    box = [fn() if is_main() else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def items_per_process(count: torch.Tensor) -> torch.Tensor | None:
    """The mean over processes of `count` (e.g. labelled tokens in this process's share of a
    batch), or None with one process. Dividing a per-process *sum* by it makes the averaged
    gradients equal the single-process token mean even when shares hold unequal token counts."""
    if world_size() == 1:
        return None
    total = count.detach().float().clone()
    dist.all_reduce(total)
    return total / world_size()


def mean_over_processes(values: dict[str, float]) -> dict[str, float]:
    """Each logged number averaged over processes (unchanged with one process)."""
    if world_size() == 1 or not values:
        return values
    keys = sorted(values)
    flat = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
    dist.all_reduce(flat)
    return dict(zip(keys, (flat / world_size()).tolist()))


def broadcast_parameters(model: torch.nn.Module) -> None:
    """Make every process start from the main process's weights."""
    if world_size() > 1:
        for p in model.parameters():
            dist.broadcast(p.data, 0)


def average_gradients(params: Sequence[torch.nn.Parameter]) -> None:
    """Replace each gradient by its mean over processes (one flat all-reduce)."""
    n = world_size()
    if n == 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= n
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()
