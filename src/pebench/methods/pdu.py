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
    dual ascent (`dual_step`, step size η) from `multiplier` (its start), once the first
    `warmup_steps` steps have passed (the authors' dual warm-up: λ is held meanwhile).

    As the authors prescribe, ε sits above the starting retain loss: ε = NLL_Finetuned(D_r) +
    `epsilon`, the Finetuned model's retain NLL measured in `prepare` on `batches` retain
    batches. λ starts at 50 (the authors' 50-100) so that the constraint binds from the first
    step. The statistic λ follows is the whole batch's retain NLL (averaged over processes);
    each step logs ε and whether the constraint held (`constraint_held`, 1 or 0), so the run's
    final training log says whether it held at the end. Kept on purpose: the flatness is taken
    over the forget answer positions only (open-unlearning's `pdu.py` takes every position,
    prompt included)."""

    name = "PDU"
    source = "Entesari et al. 2025, arXiv 2506.05314"
    defaults = {"epsilon": 0.05, "multiplier": 50.0, "dual_step_size": 1.0, "warmup_steps": 10, "batches": 4}
    ranges = {"epsilon": ">=0", "multiplier": ">=0", "dual_step_size": ">=0", "warmup_steps": ">=0", "batches": ">=1"}

    def __init__(self, **params):
        super().__init__(**params)
        self.multiplier = float(self.params["multiplier"])
        self.threshold = float(self.params["epsilon"])  # ε; `prepare` adds the Finetuned retain NLL
        self.steps_taken = 0

    def prepare(self, model, draw, ref):
        with torch.no_grad():
            start = sum(float(distributed.mean_of_processes(retain_nll(model, draw())))
                        for _ in range(int(self.params["batches"]))) / int(self.params["batches"])
        self.threshold = start + float(self.params["epsilon"])
        return {"finetuned_retain_nll": start, "epsilon": self.threshold}

    def loss(self, model, batches, ref):
        logits, _, _ = answer_logits(model, batches["forget"]["answer"])
        forget = flatness(logits)
        retain = retain_nll(model, batches)
        lagrangian = forget + self.multiplier * (retain - self.threshold)
        whole_retain = float(distributed.mean_of_processes(retain))
        logs = {"flatness": float(forget.detach()), "retain_nll": whole_retain, "multiplier": self.multiplier,
                "epsilon": self.threshold, "constraint_held": float(whole_retain <= self.threshold)}
        self.steps_taken += 1
        if self.steps_taken > self.params["warmup_steps"]:
            self.multiplier = dual_step(self.multiplier, whole_retain, self.threshold, self.params["dual_step_size"])
        return lagrangian, logs
