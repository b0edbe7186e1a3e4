"""PDU: primal-dual unlearning (Entesari et al., 2025, "Constrained Entropic Unlearning: A
Primal-Dual Framework for Large Language Models", arXiv 2506.05314)."""

from __future__ import annotations

import torch

from pebench.core import distributed
from pebench.methods.base import METHODS, Method, answer_logits, retain_nll, whole_batch_mean


def flatness(logits: torch.Tensor) -> torch.Tensor:
    """The entropic forget loss: mean_t (max_v z_t(v) − mean_v z_t(v))², zero when the
    next-token logits at each forget answer position are flat (maximum entropy)."""
    return whole_batch_mean((logits.max(-1).values - logits.mean(-1)) ** 2)


def dual_step(multiplier: float, retain_loss: float, epsilon: float, step_size: float) -> float:
    """Projected dual ascent on the constraint NLL(retain) ≤ ε: λ ← max(0, λ + η (NLL(retain) − ε))."""
    return max(0.0, multiplier + step_size * (retain_loss - epsilon))


@METHODS.register("PDU")
class PrimalDualUnlearning(Method):
    """min_θ flatness(forget) subject to NLL(retain) ≤ ε, by its Lagrangian
    loss = flatness(forget) + λ · (NLL(retain) − ε), with λ updated after every step by projected
    dual ascent (`dual_step`, step size η) from `multiplier` (its start).

    The constraint keeps the retained answers as likely as ε allows instead of a fixed retain
    weight; the statistic λ follows is the whole batch's retain NLL (averaged over processes)."""

    name = "PDU"
    source = "Entesari et al. 2025, arXiv 2506.05314"
    defaults = {"epsilon": 0.05, "multiplier": 1.0, "dual_step_size": 1.0}
    ranges = {"epsilon": ">=0", "multiplier": ">=0", "dual_step_size": ">=0"}

    def __init__(self, **params):
        super().__init__(**params)
        self.multiplier = float(self.params["multiplier"])

    def loss(self, model, batches, ref):
        logits, _, _ = answer_logits(model, batches["forget"]["answer"])
        forget = flatness(logits)
        retain = retain_nll(model, batches)
        lagrangian = forget + self.multiplier * (retain - self.params["epsilon"])
        whole_retain = float(distributed.mean_of_processes(retain))
        logs = {"flatness": float(forget.detach()), "retain_nll": whole_retain, "multiplier": self.multiplier}
        self.multiplier = dual_step(self.multiplier, whole_retain, self.params["epsilon"], self.params["dual_step_size"])
        return lagrangian, logs
