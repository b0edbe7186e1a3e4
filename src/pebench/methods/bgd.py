"""BGD, the PEBench paper's Balanced Gradient Difference for forgetting persons and events
at once: each batch holds equal numbers of person and event forget examples, and the two
unlearning losses are averaged per concept and weighted separately. Without balancing, a
token-averaged loss is dominated by the long scene descriptions and persons are forgotten
less (the paper's Table 2 finding). Applied on top of GD and KL."""

import torch

from pebench.methods.base import METHODS, Method, kl_to_reference, nll, retain_nll

CONCEPTS = ("person", "event")


def balanced_forget_nll(model, batches, weights: dict[str, float]) -> tuple[torch.Tensor, dict[str, float]]:
    """Σ_c w_c · NLL(forget_c) / Σ_c w_c over the concepts present in `batches`."""
    terms = {c: nll(model, batches[f"forget_{c}"]["answer"]) for c in CONCEPTS if f"forget_{c}" in batches}
    total = sum(weights[c] for c in terms)
    loss = sum(weights[c] * terms[c] for c in terms) / total
    return loss, {f"forget_nll_{c}": float(v.detach()) for c, v in terms.items()}


class _Balanced(Method):
    balance_concepts = True

    def _forget(self, model, batches):
        return balanced_forget_nll(model, batches, {"person": self.params["person_weight"],
                                                    "event": self.params["event_weight"]})


@METHODS.register("GD+BGD")
class BalancedGradientDifference(_Balanced):
    """loss = -(w_p·NLL(forget_person) + w_e·NLL(forget_event))/(w_p + w_e) + retain_weight·NLL(retain)."""

    name = "GD+BGD"
    defaults = {"person_weight": 1.0, "event_weight": 1.0, "retain_weight": 1.0}

    def loss(self, model, batches, ref):
        forget, logs = self._forget(model, batches)
        retain = retain_nll(model, batches)
        return -forget + self.params["retain_weight"] * retain, {**logs, "retain_nll": float(retain.detach())}


@METHODS.register("KL+BGD")
class BalancedKL(_Balanced):
    """loss = -(w_p·NLL(forget_person) + w_e·NLL(forget_event))/(w_p + w_e) + kl_weight·KL(p_ref‖p) on retain."""

    name = "KL+BGD"
    defaults = {"person_weight": 1.0, "event_weight": 1.0, "kl_weight": 1.0}
    needs_reference = True

    def loss(self, model, batches, ref):
        forget, logs = self._forget(model, batches)
        kl = kl_to_reference(model, ref, batches["retain"]["answer"])
        return -forget + self.params["kl_weight"] * kl, {**logs, "retain_kl": float(kl.detach())}
