"""CE-U: cross-entropy unlearning (Yang, 2025, "CE-U: Cross Entropy Unlearning", arXiv 2503.01224)."""


from pebench.methods.base import METHODS, Method, OptionalRetain, answer_logits
from pebench.methods.token_weighted import after_first_answer_tokens, ceu_targets, soft_cross_entropy


@METHODS.register("CE-U")
class CrossEntropyUnlearning(OptionalRetain, Method):
    """loss = mean_t CE(p_θ(·|t), q_t), q_t = softmax(sg(z_θ(·|t)) with z(y_t) = −∞), over the forget
    answer tokens after the first `skip_first` of each answer, + retain_weight · NLL(retain).

    The target is the model's own distribution without the true token, so the gradient at a
    token is p_θ(y_t)·(∇ log-partition − ∇ z(y_t))-shaped and vanishes as the true token's
    probability does: no unbounded ascent. The paper skips the first answer token (shared by
    many answers); `retain_weight` 0 is the paper's forget-only setting."""

    name = "CE-U"
    source = "Yang 2025, arXiv 2503.01224"
    defaults = {"skip_first": 1, "retain_weight": 0.0}
    ranges = {"skip_first": ">=0", "retain_weight": ">=0"}

    def loss(self, model, batches, ref):
        logits, targets, rows = answer_logits(model, batches["forget"]["answer"])
        keep = after_first_answer_tokens(rows, int(self.params["skip_first"]))
        forget = soft_cross_entropy(logits[keep], ceu_targets(logits[keep], targets[keep]))
        logs = {"ceu": float(forget.detach())}
        return self.plus_retain(model, batches, forget, logs)
