"""NPO: negative preference optimisation (Zhang et al. 2024), with a retain NLL term."""

import torch.nn.functional as F

from pebench.methods.base import METHODS, Method, reference_logprob, retain_nll


@METHODS.register("NPO")
class NegativePreference(Method):
    """loss = (2/β) · mean(-log σ(-β (log π(answer) - log π_ref(answer)))) + retain_weight · NLL(retain)."""

    name = "NPO"
    source = "Zhang et al. 2024, arXiv 2404.05868"
    defaults = {"beta": 0.1, "retain_weight": 1.0}
    ranges = {"beta": ">0", "retain_weight": ">=0"}
    needs_reference = True

    def loss(self, model, batches, ref):
        forget = batches["forget"]["answer"]
        ratio = model.sequence_logprob(forget) - reference_logprob(ref, forget)
        npo = -(2 / self.params["beta"]) * F.logsigmoid(-self.params["beta"] * ratio).mean()
        retain = retain_nll(model, batches)
        return npo + self.params["retain_weight"] * retain, {"npo": float(npo.detach()), "retain_nll": float(retain.detach())}
