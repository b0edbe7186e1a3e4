"""WGA: weighted gradient ascent (Wang et al., ICLR 2025, "Rethinking LLM Unlearning Objectives:
A Gradient Perspective and Go Beyond", arXiv 2502.19301)."""

from pebench.methods.base import METHODS, Method, answer_logits, retain_nll
from pebench.methods.token_weighted import wga_weight, weighted_ascent


@METHODS.register("WGA")
class WeightedGradientAscent(Method):
    """loss = −mean_t sg(p(y_t))^β · (−log p(y_t)) over forget answer tokens + retain_weight · NLL(retain).

    Gradient ascent whose per-token weight falls as the token becomes unlikely, so a token that
    is already forgotten stops driving the update (plain GA's gradient grows without bound)."""

    name = "WGA"
    source = "Wang et al., ICLR 2025, arXiv 2502.19301"
    defaults = {"beta": 1.0, "retain_weight": 1.0}
    ranges = {"beta": ">=0", "retain_weight": ">=0"}

    def loss(self, model, batches, ref):
        logits, targets, _ = answer_logits(model, batches["forget"]["answer"])
        forget = weighted_ascent(logits, targets, wga_weight(logits, targets, self.params["beta"]))
        retain = retain_nll(model, batches)
        return forget + self.params["retain_weight"] * retain, {"wga": float(forget.detach()), "retain_nll": float(retain.detach())}
