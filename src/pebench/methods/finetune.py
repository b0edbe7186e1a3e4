"""Supervised fine-tuning: NLL of the answers (used for the foundation, Finetuned and Goal models)."""

from pebench.methods.base import Method, nll


class Finetune(Method):
    """loss = NLL(train). The fine-tuning objective, not a registered unlearning method; `batches`
    holds a "train" entry."""

    name = "finetune"
    uses_retain = False

    def loss(self, model, batches, ref):
        loss = nll(model, batches["train"]["answer"])
        return loss, {}
