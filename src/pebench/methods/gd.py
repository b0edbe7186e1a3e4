"""GD: gradient difference (Liu et al. 2022): ascent on forget data, descent on retain data."""

from pebench.methods.base import METHODS, Method, nll, retain_nll


@METHODS.register("GD")
class GradientDifference(Method):
    """loss = -NLL(forget) + retain_weight * NLL(retain)."""

    name = "GD"
    source = "Liu et al. 2022, arXiv 2203.12817 (gradient difference)"
    defaults = {"retain_weight": 1.0}
    ranges = {"retain_weight": ">=0"}

    def loss(self, model, batches, ref):
        forget = nll(model, batches["forget"]["answer"])
        retain = retain_nll(model, batches)
        return -forget + self.params["retain_weight"] * retain, {"forget_nll": float(forget.detach()),
                                                                 "retain_nll": float(retain.detach())}
