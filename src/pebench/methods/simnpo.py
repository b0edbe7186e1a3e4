"""SimNPO (Fan et al. 2024, "Simplicity Prevails: Rethinking Negative Preference Optimization
for LLM Unlearning"): NPO without a reference model, with length-normalised log-probs."""

import torch.nn.functional as F

from pebench.methods.base import METHODS, Method, retain_nll


@METHODS.register("SimNPO")
class SimpleNPO(Method):
    """loss = forget_weight · (2/β) · mean(-log σ(-(β/|y|) · log π(y|x) - γ)) + retain_weight · NLL(retain),
    where |y| is the number of answer tokens. No reference model. The authors' TOFU setting:
    β 2.5, γ 0, forget weight 0.1375, retain weight 1."""

    name = "SimNPO"
    source = "Fan et al. 2024, arXiv 2410.07163"
    defaults = {"beta": 2.5, "gamma": 0.0, "forget_weight": 0.1375, "retain_weight": 1.0}
    ranges = {"beta": ">0", "gamma": ">=0", "forget_weight": ">0", "retain_weight": ">=0"}

    def loss(self, model, batches, ref):
        logps, mask, _ = model.token_logprobs(batches["forget"]["answer"])
        mean_logp = logps.sum(-1) / mask.sum(-1).clamp(min=1)
        beta, gamma = self.params["beta"], self.params["gamma"]
        simnpo = -self.params["forget_weight"] * (2 / beta) * F.logsigmoid(-beta * mean_logp - gamma).mean()
        retain = retain_nll(model, batches)
        return simnpo + self.params["retain_weight"] * retain, {"simnpo": float(simnpo.detach()),
                                                                "retain_nll": float(retain.detach())}
