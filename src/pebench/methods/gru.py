"""GRU: gradient rectified unlearning (Wang et al., ICML 2025, "GRU: Mitigating the Trade-off
between Unlearning and Retention for LLMs", arXiv 2503.09117)."""

from __future__ import annotations

import torch

from pebench.core import distributed
from pebench.methods.base import METHODS, Method, nll, retain_nll


def rectify(forget: torch.Tensor, retain: torch.Tensor) -> torch.Tensor:
    """The forget update g_f with the part that conflicts with the retain direction g_r removed:
    g_f − (g_f·g_r / ‖g_r‖²) g_r when g_f·g_r < 0, else g_f unchanged (flat vectors)."""
    dot = torch.dot(forget, retain)
    if dot >= 0 or not torch.any(retain):
        return forget
    return forget - dot / torch.dot(retain, retain) * retain


def _flat_gradient(params: list[torch.nn.Parameter]) -> torch.Tensor:
    """The parameters' gradients as one flat vector (zeros where a parameter has none)."""
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])


@METHODS.register("GRU")
class GradientRectifiedUnlearning(Method):
    """loss = −NLL(forget) (gradient ascent); after each backward pass the update is rectified:
    g ← rectify(g_f, ĝ_r) with ĝ_r = γ·∇NLL(retain) + (1 − γ)·ĝ_r(previous step) (0 before the
    first), an exponential average of the retain gradient (the authors' γ = 0.8). Only the rectified forget gradient is
    applied: the retain gradient only sets which directions the update may not go."""

    name = "GRU"
    source = "Wang et al., ICML 2025, arXiv 2503.09117"
    supports_sharding = False  # whole gradients / activations (one process or DDP)
    # on_gradients holds flat forget and retain gradients and the old and new averages, the new
    # one built from two temporaries: six at once
    state_copies = 6
    defaults = {"gamma": 0.8}
    ranges = {"gamma": ">=0,<=1"}

    def __init__(self, **params):
        super().__init__(**params)
        self._retain_average: torch.Tensor | None = None

    def loss(self, model, batches, ref):
        forget = nll(model, batches["forget"]["answer"])
        return -forget, {"forget_nll": float(forget.detach())}

    def on_gradients(self, model, batches, ref):
        params = [p for p in model.model.parameters() if p.requires_grad]
        forget = _flat_gradient(params)
        for p in params:
            p.grad = None
        retain_nll(model, batches).backward()
        distributed.average_gradients(params)
        retain = _flat_gradient(params)
        previous = torch.zeros_like(retain) if self._retain_average is None else self._retain_average
        self._retain_average = self.params["gamma"] * retain + (1 - self.params["gamma"]) * previous
        rectified = rectify(forget, self._retain_average)
        offset = 0
        for p in params:
            p.grad = rectified[offset: offset + p.numel()].view_as(p).clone()
            offset += p.numel()
        return {"conflict": float(torch.dot(forget, self._retain_average) < 0)}
