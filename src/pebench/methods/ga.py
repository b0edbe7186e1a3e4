"""GA: gradient ascent on the forget set (Thudi et al. 2022; Jang et al. 2023)."""

from pebench.methods.base import METHODS, Method, nll


@METHODS.register("GA")
class GradientAscent(Method):
    """loss = -NLL(forget). Uses no retain data."""

    name = "GA"
    source = "Jang et al. 2023, arXiv 2210.01504"
    uses_retain = False

    def loss(self, model, batches, ref):
        forget = nll(model, batches["forget"]["answer"])
        return -forget, {"forget_nll": float(forget.detach())}
