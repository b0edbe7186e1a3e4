"""RMU (Li et al. 2024, "The WMDP Benchmark", representation misdirection for unlearning):
steer one layer's activations on forget data toward a scaled random direction, and keep
that layer's activations on retain data where the frozen model has them."""

import torch

from pebench.core import distributed
from pebench.methods.base import METHODS, Method, whole_batch_mean


def layer_activations(model, batch: dict, layer: int) -> torch.Tensor:
    """Hidden states [B, T, H] of the language model after decoder layer `layer` (0 = embeddings)."""
    inputs = {k: v for k, v in model.to_device(batch).items() if k != "labels"}
    return model.model(**inputs, output_hidden_states=True).hidden_states[layer]


def content_mask(model, batch: dict) -> torch.Tensor:
    """[B, T, 1] mask of positions from the first image token on (non-padding): the part of
    the input that differs between forget and retain examples. Earlier positions (the shared
    question) see no image under causal attention, so steering them would move retain
    activations just as much."""
    config = model.model.config
    image_token = getattr(config, "image_token_id", None)
    image_token = image_token if image_token is not None else config.image_token_index
    ids = batch["input_ids"].to(model.device)
    after_image = torch.cumsum((ids == image_token).int(), dim=1) > 0
    return (after_image & batch["attention_mask"].to(model.device).bool()).unsqueeze(-1).float()


@METHODS.register("RMU")
class RepresentationMisdirection(Method):
    """loss = mean_t ||h(x_f)_t − c·‖h_ref‖·u||² + α · mean_t ||h(x_r)_t − h_ref(x_r)_t||²

    over the positions from the image on (see `content_mask`), where u is a random unit vector
    drawn from `seed` (the run's split seed unless overridden), ‖h_ref‖ is the
    frozen model's mean activation norm on the forget batch (so `steering` is scale-free), and
    the layer is counted in decoder layers (1 = after the first)."""

    name = "RMU"
    source = "Li et al. 2024, WMDP, arXiv 2403.03218"
    defaults = {"layer": 1, "steering": 4.0, "alpha": 10.0, "seed": 0}
    ranges = {"layer": ">=0", "steering": ">0", "alpha": ">=0", "seed": ">=0"}
    needs_reference = True

    def __init__(self, **params):
        super().__init__(**params)
        self._direction: torch.Tensor | None = None

    def direction(self, hidden: int) -> torch.Tensor:
        if self._direction is None or self._direction.numel() != hidden:
            g = torch.Generator().manual_seed(int(self.params["seed"]))
            u = torch.rand(hidden, generator=g)
            self._direction = u / u.norm()
        return self._direction

    def loss(self, model, batches, ref):
        layer = int(self.params["layer"])
        forget, retain = batches["forget"]["answer"], batches["retain"]["answer"]
        f_mask, r_mask = content_mask(model, forget), content_mask(model, retain)
        with torch.no_grad():
            ref_forget = layer_activations(ref, forget, layer)
            ref_retain = layer_activations(ref, retain, layer)
            # the frozen model's mean activation norm over the whole batch's content positions
            norms = (ref_forget.norm(dim=-1, keepdim=True) * f_mask).sum()
            scale = distributed.mean_of_processes(norms) / distributed.mean_of_processes(f_mask.sum())
        h_forget = layer_activations(model, forget, layer)
        target = self.params["steering"] * scale * self.direction(h_forget.shape[-1]).to(h_forget)
        forget_loss = whole_batch_mean(((h_forget - target) ** 2).mean(-1, keepdim=True), f_mask)
        h_retain = layer_activations(model, retain, layer)
        retain_loss = whole_batch_mean(((h_retain - ref_retain) ** 2).mean(-1, keepdim=True), r_mask)
        return forget_loss + self.params["alpha"] * retain_loss, {"rmu_forget": float(forget_loss.detach()),
                                                                 "rmu_retain": float(retain_loss.detach())}
