"""SatImp (Yang et al., ICML 2025, "Exploring Criteria of Loss Reweighting to Enhance LLM
Unlearning", arXiv 2505.11953): token weights from saturation and importance."""

from pebench.methods.base import METHODS, Method, answer_logits, retain_nll
from pebench.methods.token_weighted import satimp_weight, weighted_ascent


@METHODS.register("SatImp")
class SaturationImportance(Method):
    """loss = gamma · (−mean_t sg(p_t^β1 (1 − p_t)^β2) · (−log p_t)) + retain_weight · NLL(retain),
    p_t = p(y_t) on forget answer tokens. β1 favours tokens still likely (saturation), β2 those
    not yet certain (importance). The authors' defaults (README and the class's): β1 = 5, β2 = 1,
    forget weight gamma = 1 and retain weight 0.1 (the open-unlearning yaml's 0.1 / 1 swaps them)."""

    name = "SatImp"
    source = "Yang et al., ICML 2025, arXiv 2505.11953"
    defaults = {"beta1": 5.0, "beta2": 1.0, "gamma": 1.0, "retain_weight": 0.1}
    ranges = {"beta1": ">=0", "beta2": ">=0", "gamma": ">0", "retain_weight": ">=0"}

    def loss(self, model, batches, ref):
        logits, targets, _ = answer_logits(model, batches["forget"]["answer"])
        weight = satimp_weight(logits, targets, self.params["beta1"], self.params["beta2"])
        forget = self.params["gamma"] * weighted_ascent(logits, targets, weight)
        retain = retain_nll(model, batches)
        return forget + self.params["retain_weight"] * retain, {"satimp": float(forget.detach()), "retain_nll": float(retain.detach())}
