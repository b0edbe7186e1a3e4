"""MMUnlearner (Huo et al., ACL 2025 Findings, "MMUnlearner: Reformulating Multimodal Machine
Unlearning in the Era of Multimodal Large Language Models", arXiv 2502.11051): gradient ascent
restricted to the parameters a weight-saliency map marks as more important to the forget data
than to the retained data, per modality."""

from __future__ import annotations

import torch

from pebench.core import distributed
from pebench.core.errors import PebenchError
from pebench.methods.base import METHODS, Method, nll, retain_nll
from pebench.methods.modality import in_modality


def saliency_mask(forget_fisher: torch.Tensor, retain_fisher: torch.Tensor, threshold: float) -> torch.Tensor:
    """1 where (F_f + 1e-15) / (F_r + 1e-15) ≥ threshold and F_f > 0: the parameter matters more
    to the forget data than to the retained data (F: mean squared gradient, a diagonal Fisher).
    A parameter no gradient reaches on either set (0/0, e.g. a LoRA `lora_A` while B is zero)
    is not salient: nothing shows it matters to the forget data."""
    return (((forget_fisher + 1e-15) / (retain_fisher + 1e-15) >= threshold) & (forget_fisher > 0)).float()


def preserve_nll(model, batches, part: str) -> torch.Tensor:
    """The loss whose squared gradients give F_r: NLL on D_r ("retain", the vision side's
    preserve set), or ("language") the mean of the NLLs on D_r and on the forget persons'
    facts asked by name, a preserve batch of both halves."""
    retain = retain_nll(model, batches)
    return retain if part == "retain" else (retain + nll(model, batches["facts"]["answer"])) / 2


@METHODS.register("MMUnlearner")
class MMUnlearner(Method):
    """Before the first step, for each trainable parameter of the chosen `modality`:
    F_f = mean over `saliency_batches` forget batches of (∇NLL(forget))², F_r likewise on the
    preserve batches, both at the Finetuned model; mask m = 1[F_f / F_r ≥ threshold] (0 for the
    other modality's parameters). The preserve set of a vision parameter is D_r; that of a
    language parameter is D_r and the forget persons' profile asked by name without an image
    (`facts`): the knowledge about the concept that MMUnlearner keeps while its visual pattern
    is erased (the authors' `language_preserve_dataset` joins the text-only knowledge to D_r,
    data_process/MLLMU_gen_mask.py; here each preserve batch holds both halves, and in the
    event scenario, whose events carry no such facts, it is D_r alone). Then each step's
    gradient is m ⊙ ∇(−NLL(forget)) + retain_weight · ∇NLL(retain): the forget step moves only
    the salient parameters, the retain step every trainable one on D_r (as the authors'
    training loop masks the forget gradient only). A `modality` with no trainable parameter is
    refused: it would train nothing. Under LoRA it is refused too: its mask selects single
    weights of the base model, and an adapter's update B·A cannot be confined to them."""

    name = "MMUnlearner"
    source = "Huo et al., ACL 2025 Findings, arXiv 2502.11051"
    supports_sharding = False  # whole gradients / activations (one process or DDP)
    supports_lora = False  # the mask is over the base weights, which an adapter does not train
    # prepare holds the forget and both preserve Fishers while the masks are made (four); a step
    # then holds the masks, the retain gradients and their flat average (three)
    state_copies = 4
    keeps_facts = True  # the language side's preserve set
    defaults = {"modality": "both", "threshold": 1.0, "saliency_batches": 4, "retain_weight": 1.0}
    ranges = {"threshold": ">0", "saliency_batches": ">=1", "retain_weight": ">=0"}

    def __init__(self, **params):
        super().__init__(**params)
        if self.params["modality"] not in ("vision", "language", "both"):
            raise PebenchError(f"method MMUnlearner: modality must be vision, language or both, not {self.params['modality']!r}")
        self.masks: dict[str, torch.Tensor] = {}
        self._retain_grads: dict[str, torch.Tensor] = {}

    def _fishers(self, model, params: dict[str, torch.nn.Parameter], draw, parts: tuple[str, ...]) -> dict[str, dict]:
        """{part: {name: mean over `saliency_batches` draws of (∂loss_part/∂θ)²}}, each part's
        loss ("forget", or a preserve set of `preserve_nll`) on the same draws; a part whose
        batches are absent (no facts in the event scenario) is left out."""
        fisher: dict[str, dict] = {}
        for _ in range(int(self.params["saliency_batches"])):
            batches = draw()
            for part in parts:
                if part == "language" and "facts" not in batches:
                    continue
                for p in params.values():
                    p.grad = None
                (nll(model, batches["forget"]["answer"]) if part == "forget" else preserve_nll(model, batches, part)).backward()
                distributed.average_gradients(list(params.values()))
                sums = fisher.setdefault(part, {name: torch.zeros_like(p) for name, p in params.items()})
                for name, p in params.items():
                    if p.grad is not None:
                        sums[name] += p.grad.detach() ** 2 / self.params["saliency_batches"]
        for p in params.values():
            p.grad = None
        return fisher

    def prepare(self, model, draw, ref):
        params = {n: p for n, p in model.model.named_parameters() if p.requires_grad}
        if not any(in_modality(n, self.params["modality"]) for n in params):
            raise PebenchError(f"method MMUnlearner: no trainable parameter belongs to modality {self.params['modality']!r} "
                               "(choose another modality)")
        forget = self._fishers(model, params, draw, ("forget",))["forget"]
        preserve = self._fishers(model, params, draw, ("retain", "language"))
        language = preserve.get("language", preserve["retain"])
        self.masks = {n: saliency_mask(forget[n], (preserve["retain"] if in_modality(n, "vision") else language)[n],
                                       self.params["threshold"])
                      if in_modality(n, self.params["modality"]) else torch.zeros_like(p) for n, p in params.items()}
        kept = sum(float(m.sum()) for m in self.masks.values()) / max(1, sum(m.numel() for m in self.masks.values()))
        return {"salient_share": kept}

    def loss(self, model, batches, ref):
        """Returns the forget term to back-propagate (masked in `on_gradients`); the retain
        term's gradient is taken here, apart, and added unmasked after the mask."""
        forget = nll(model, batches["forget"]["answer"])
        retain = retain_nll(model, batches)
        params = {n: p for n, p in model.model.named_parameters() if p.requires_grad}
        weighted = self.params["retain_weight"] * retain
        grads = torch.autograd.grad(weighted, list(params.values()), allow_unused=True) if weighted.requires_grad else ()
        self._retain_grads = {n: g for n, g in zip(params, grads) if g is not None}
        return -forget + weighted.detach(), {"forget_nll": float(forget.detach()), "retain_nll": float(retain.detach())}

    def on_gradients(self, model, batches, ref):
        for name, p in model.model.named_parameters():
            if p.grad is not None and name in self.masks:
                p.grad.mul_(self.masks[name])
        retain = self._retain_grads
        if retain:  # averaged over processes as the loop averaged the forget gradient
            flat = distributed.mean_of_processes(torch.cat([g.reshape(-1) for g in retain.values()]))
            offset = 0
            for name, p in model.model.named_parameters():
                if name in retain:
                    g = flat[offset:offset + p.numel()].view_as(p)
                    offset += p.numel()
                    p.grad = g.clone() if p.grad is None else p.grad.add_(g)
        self._retain_grads = {}
        return {}
