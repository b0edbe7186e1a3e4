"""BGD, the PEBench paper's Balanced Gradient Difference for forgetting persons and events
at once: each batch holds equal numbers of person and event forget examples, and the two
unlearning losses are averaged per concept and weighted separately. Without balancing, a
token-averaged loss is dominated by the long scene descriptions and persons are forgotten
less (the paper's Table 2 finding). Applied on top of GD and KL.

Balancing the *losses* alone is not enough under gradient ascent: a concept's ascent gradient
grows as its answers become unlikely, so the faster concept (persons: a few name tokens) soon
owns the whole clipped update and the other stops moving (measured: event Efficacy stayed at
exactly 0 while plain GD reached 0.28). Each concept's term is therefore its NLL relative to its
current value, scaled by the concepts' mean: m · NLL_c / sg(NLL_c) with m = sg(mean_c NLL_c) (sg =
stop-gradient). Its value is m, like the unbalanced mean; its gradient is m · ∇ log NLL_c, so each
concept moves by the same relative amount whatever its scale, and the forget term as a whole
keeps the size it has against the retain term."""

import torch

from pebench.core import distributed
from pebench.methods.base import METHODS, Method, kl_to_reference, nll, retain_nll

CONCEPTS = ("person", "event")


def balanced_forget_nll(model, batches, weights: dict[str, float]) -> tuple[torch.Tensor, dict[str, float]]:
    """m · Σ_c w_c · NLL_c / sg(NLL_c) / Σ_c w_c over the concepts present in `batches`, with
    m = sg(mean_c NLL_c): value m, gradient m · (weighted mean of ∇ log NLL_c)."""
    terms = {c: nll(model, batches[f"forget_{c}"]["answer"]) for c in CONCEPTS if f"forget_{c}" in batches}
    total = sum(weights[c] for c in terms)
    current = {c: distributed.mean_of_processes(t) for c, t in terms.items()}  # the whole batch's NLL_c
    scale = torch.stack(list(current.values())).mean()
    loss = scale * sum(weights[c] * terms[c] / current[c].clamp(min=1e-6) for c in terms) / total
    return loss, {f"forget_nll_{c}": float(v.detach()) for c, v in terms.items()}


class _Balanced(Method):
    balance_concepts = True

    def _forget(self, model, batches):
        return balanced_forget_nll(model, batches, {"person": self.params["person_weight"],
                                                    "event": self.params["event_weight"]})


@METHODS.register("GD+BGD")
class BalancedGradientDifference(_Balanced):
    """loss = -m·(w_p·NLL_p/sg(NLL_p) + w_e·NLL_e/sg(NLL_e))/(w_p + w_e) + retain_weight·NLL(retain)."""

    name = "GD+BGD"
    source = "Xu et al. 2025, PEBench, arXiv 2503.12545"
    defaults = {"person_weight": 1.0, "event_weight": 1.0, "retain_weight": 1.0}
    ranges = {"person_weight": ">=0", "event_weight": ">=0", "retain_weight": ">=0"}

    def loss(self, model, batches, ref):
        forget, logs = self._forget(model, batches)
        retain = retain_nll(model, batches)
        return -forget + self.params["retain_weight"] * retain, {**logs, "retain_nll": float(retain.detach())}


@METHODS.register("KL+BGD")
class BalancedKL(_Balanced):
    """loss = -m·(w_p·NLL_p/sg(NLL_p) + w_e·NLL_e/sg(NLL_e))/(w_p + w_e) + kl_weight·KL(p_ref‖p) on retain."""

    name = "KL+BGD"
    source = "Xu et al. 2025, PEBench, arXiv 2503.12545"
    defaults = {"person_weight": 1.0, "event_weight": 1.0, "kl_weight": 1.0}
    ranges = {"person_weight": ">=0", "event_weight": ">=0", "kl_weight": ">=0"}
    needs_reference = True

    def loss(self, model, batches, ref):
        forget, logs = self._forget(model, batches)
        kl = kl_to_reference(model, ref, batches["retain"]["answer"])
        return -forget + self.params["kl_weight"] * kl, {**logs, "retain_kl": float(kl.detach())}
