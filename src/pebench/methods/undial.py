"""UNDIAL (Dong et al., NAACL 2025, "UNDIAL: Self-Distillation with Adjusted Logits for Robust
Unlearning in Large Language Models", arXiv 2402.10052)."""

import torch

from pebench.methods.base import METHODS, Method, OptionalRetain, answer_logits
from pebench.methods.token_weighted import soft_cross_entropy, undial_targets


@METHODS.register("UNDIAL")
class AdjustedLogitDistillation(OptionalRetain, Method):
    """loss = mean_t CE(p_θ(·|t), softmax(z_ref(·|t) − β·onehot(y_t))) over forget answer tokens
    + retain_weight · NLL(retain).

    Self-distillation toward the frozen Finetuned model's distribution with the true token's
    logit lowered by β: the targets are bounded (unlike ascent), so training cannot diverge.
    The authors' strength β = 5 (open-unlearning's config uses 10); `retain_weight` 0 as in their setup."""

    name = "UNDIAL"
    source = "Dong et al., NAACL 2025, arXiv 2402.10052"
    defaults = {"beta": 5.0, "retain_weight": 0.0}
    ranges = {"beta": ">0", "retain_weight": ">=0"}
    needs_reference = True

    def loss(self, model, batches, ref):
        forget = batches["forget"]["answer"]
        with torch.no_grad():
            ref_logits, targets, _ = answer_logits(ref, forget)
        logits, _, _ = answer_logits(model, forget)
        distil = soft_cross_entropy(logits, undial_targets(ref_logits, targets, self.params["beta"]))
        logs = {"undial": float(distil.detach())}
        return self.plus_retain(model, batches, distil, logs)
