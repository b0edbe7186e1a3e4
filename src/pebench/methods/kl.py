"""KL: ascent on forget data while matching the Finetuned model on retain data (TOFU's KL)."""

from pebench.methods.base import METHODS, Method, kl_to_reference, nll


@METHODS.register("KL")
class KLMinimization(Method):
    """loss = -NLL(forget) + kl_weight * KL(p_ref || p_model) on retain answer tokens."""

    name = "KL"
    source = "Maini et al. 2024, TOFU, arXiv 2401.06121"
    defaults = {"kl_weight": 1.0}
    ranges = {"kl_weight": ">=0"}
    needs_reference = True

    def loss(self, model, batches, ref):
        forget = nll(model, batches["forget"]["answer"])
        kl = kl_to_reference(model, ref, batches["retain"]["answer"])
        return -forget + self.params["kl_weight"] * kl, {"forget_nll": float(forget.detach()), "retain_kl": float(kl.detach())}
