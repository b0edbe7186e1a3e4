"""PO: preference optimisation towards refusals (TOFU's "IDK"): learn "I don't know" on forget data."""

from pebench.methods.base import METHODS, Method, nll, retain_nll


@METHODS.register("PO")
class RefusalTuning(Method):
    """loss = NLL(refusal | forget prompt) + retain_weight * NLL(retain)."""

    name = "PO"
    source = "Maini et al. 2024, TOFU, arXiv 2401.06121"
    defaults = {"retain_weight": 1.0}
    ranges = {"retain_weight": ">=0"}

    def loss(self, model, batches, ref):
        refusal = nll(model, batches["forget"]["refusal"])
        retain = retain_nll(model, batches)
        return refusal + self.params["retain_weight"] * retain, {"refusal_nll": float(refusal.detach()),
                                                                 "retain_nll": float(retain.detach())}
