"""Data parallelism over processes started by `accelerate launch` or `torchrun`, with the
model being trained either replicated (strategy `ddp`) or sharded (strategy `fsdp`: FSDP2,
`pebench.models.sharding`; chosen by an accelerate FSDP config or `PEBENCH_STRATEGY=fsdp`).

Training: each step's batch is split across processes and gradients are averaged before the
optimizer step (replicated: one all-reduce, what DDP does, but it also works for methods that
run the model several times per step, and for reference models; sharded: FSDP's
reduce-scatter). Evaluation:
generation batches are dealt out across processes and the answers gathered, so every
process ends with the same answers a single process would give. Only the main process
writes files. With one process (the default) every function here is a no-op.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence, TypeVar

import torch
import torch.distributed as dist

from pebench.core.errors import PebenchError

T = TypeVar("T")
STRATEGIES = ("ddp", "fsdp")


def _flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true")


def strategy() -> str:
    """`fsdp` under a multi-process launch that asks for sharding (an accelerate FSDP config, or
    `PEBENCH_STRATEGY=fsdp` for torchrun), `ddp` under any other, `single` with one process."""
    if world_size() == 1:
        return "single"
    return "fsdp" if _flag("ACCELERATE_USE_FSDP") or os.environ.get("PEBENCH_STRATEGY") == "fsdp" else "ddp"


def init() -> None:
    """Join the process group announced by the launcher's environment (WORLD_SIZE > 1):
    NCCL on GPUs, gloo on CPUs. The world size is taken from torch.distributed itself, not
    from accelerate's state (which reports 1 process for CPU launches). A DeepSpeed launch is
    refused: pebench shards with FSDP2 (configs/accelerate/fsdp.yaml), and silently ignoring
    the request would misstate the memory it needs. An FSDP launch that asks for FSDP1 is
    refused for the same reason."""
    if _flag("ACCELERATE_USE_DEEPSPEED"):
        raise PebenchError("DeepSpeed is not supported: pebench shards models with PyTorch FSDP2 "
                           "(use configs/accelerate/fsdp.yaml; ZeRO-3 and FSDP shard the same state)")
    if _flag("ACCELERATE_USE_FSDP") and os.environ.get("FSDP_VERSION", "2") != "2":
        raise PebenchError("only FSDP version 2 is supported (set fsdp_version: 2, as configs/accelerate/fsdp.yaml does)")
    if os.environ.get("PEBENCH_STRATEGY", "ddp") not in STRATEGIES:
        raise PebenchError(f"PEBENCH_STRATEGY must be one of {', '.join(STRATEGIES)}, not "
                           f"{os.environ['PEBENCH_STRATEGY']!r}")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if cuda else "gloo")


def describe() -> dict[str, Any]:
    """What results.json records: the strategy, the world size and what is sharded."""
    out: dict[str, Any] = {"strategy": strategy(), "world_size": world_size()}
    if out["strategy"] == "fsdp":
        out["sharded"] = "FSDP2: each trained model (vision tower and each decoder layer as units); references and evaluation whole"
    return out


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


def mean_of_processes(value: torch.Tensor) -> torch.Tensor:
    """A detached statistic (e.g. a loss's current value, used as a weight) averaged over
    processes, so that every process weights by the whole batch's value, as one process would.
    With equal shares a per-process token mean (`VLM.nll`) averages to the whole batch's."""
    if world_size() == 1:
        return value.detach()
    total = value.detach().float().clone()
    dist.all_reduce(total)
    return (total / world_size()).to(value.dtype)


def mean_over_processes(values: dict[str, float]) -> dict[str, float]:
    """Each logged number averaged over processes (unchanged with one process)."""
    if world_size() == 1 or not values:
        return values
    keys = sorted(values)
    flat = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
    dist.all_reduce(flat)
    return dict(zip(keys, (flat / world_size()).tolist()))


def broadcast_parameters(model: torch.nn.Module) -> None:
    """Make every process start from the main process's weights (a sharded model's shards
    come from whole models that are already the same on every process)."""
    from torch.distributed.tensor import DTensor

    if world_size() > 1:
        for p in model.parameters():
            if not isinstance(p, DTensor):
                dist.broadcast(p.data, 0)


def average_gradients(params: Sequence[torch.nn.Parameter]) -> None:
    """Replace each gradient by its mean over processes (one flat all-reduce); sharded
    parameters' gradients are left alone (FSDP has reduce-scattered them already)."""
    from torch.distributed.tensor import DTensor

    n = world_size()
    if n == 1:
        return
    grads = [p.grad for p in params if p.grad is not None and not isinstance(p.grad, DTensor)]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= n
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()
