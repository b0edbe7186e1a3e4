"""The training loop: AdamW, linear warmup + cosine decay, gradient clipping, step budget.

It knows nothing about what is being trained for: an `objective` turns the step's batches
into a loss (and numbers to log). Fine-tuning and every unlearning method use this loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch

from pebench.core import distributed
from pebench.core.errors import PebenchError
from pebench.train.streams import Stream

Objective = Callable[[dict[str, dict[str, dict[str, torch.Tensor]]]], tuple[torch.Tensor, dict[str, float]]]


@dataclass
class TrainResult:
    steps: int
    history: list[dict[str, float]] = field(default_factory=list)


def _lr_factor(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def process_seed(seed: int) -> int:
    """The global RNG seed of this process's training: `seed` offset by the process rank, so that
    under a launch each process draws its own dropout masks for its own share of the batch, as
    one process draws a mask per example (one process: `seed` itself)."""
    return seed + distributed.rank()


def train(model: torch.nn.Module, objective: Objective, streams: dict[str, Stream], *, steps: int, lr: float,
          warmup: int = 0, weight_decay: float = 0.0, grad_clip: float = 1.0, seed: int = 0,
          on_step: Callable[[int, dict[str, float]], None] | None = None, log_every: int = 10,
          after_backward: Callable[[dict], dict[str, float]] | None = None) -> TrainResult:
    """Run `steps` optimizer steps of `objective` on batches drawn from `streams`.

    Each step draws one item from every stream and calls objective({name: item}). A loss
    that is not finite stops training with a PebenchError. `on_step(step, logs)` is called
    after every step; the history keeps every `log_every`-th step's logs. Under a multi-process
    launch, streams yield each process's share of the batch and gradients are averaged.
    `after_backward(batches)` runs after the gradients are averaged, before clipping (a method's
    `on_gradients`), and its numbers are logged with the loss.
    """
    torch.manual_seed(process_seed(seed))
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise PebenchError("the model has no trainable parameters")
    distributed.broadcast_parameters(model)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, warmup, steps))
    model.train()
    result = TrainResult(steps=steps)
    for step in range(steps):
        batches = {name: next(stream) for name, stream in streams.items()}
        loss, logs = objective(batches)
        if not torch.isfinite(loss):
            raise PebenchError(f"training diverged: loss is {loss.item()} at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        distributed.average_gradients(params)
        if after_backward:
            logs = {**logs, **after_backward(batches)}
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
        opt.step()
        sched.step()
        logs = distributed.mean_over_processes({"loss": float(loss.detach()), **logs})
        if step % log_every == 0 or step == steps - 1:
            result.history.append({"step": step, **logs})
        if on_step:
            on_step(step, logs)
    model.eval()
    return result
