"""DPO (Rafailov et al. 2023) for unlearning: the refusal is preferred over the true answer."""

import torch.nn.functional as F

from pebench.methods.base import METHODS, Method, reference_logprob, retain_nll


@METHODS.register("DPO")
class DirectPreference(Method):
    """loss = -(2/β) · log σ(β[(log π(refusal) - log π_ref(refusal)) - (log π(answer) - log π_ref(answer))])
    + retain_weight * NLL(retain); log-probs are summed over answer tokens.

    The 2/β factor is the unlearning implementations' (open-unlearning `compute_dpo_loss`, as
    NPO's 2/β): at β 0.1 it makes the preference term 20 times what Rafailov et al.'s alignment
    loss gives, so the forget term is not drowned by the retain NLL. Its gradient at a zero
    margin is -(2/β)·β/2 = -1 per unit margin, whatever β."""

    name = "DPO"
    source = "Rafailov et al. 2023, arXiv 2305.18290"
    defaults = {"beta": 0.1, "retain_weight": 1.0}
    ranges = {"beta": ">0", "retain_weight": ">=0"}
    needs_reference = True

    def loss(self, model, batches, ref):
        chosen, rejected = batches["forget"]["refusal"], batches["forget"]["answer"]
        margin = (model.sequence_logprob(chosen) - reference_logprob(ref, chosen)) - (
            model.sequence_logprob(rejected) - reference_logprob(ref, rejected))
        beta = self.params["beta"]
        pref = -(2 / beta) * F.logsigmoid(beta * margin).mean()
        retain = retain_nll(model, batches)
        return pref + self.params["retain_weight"] * retain, {"dpo": float(pref.detach()), "retain_nll": float(retain.detach())}
