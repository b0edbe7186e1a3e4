"""The method interface: a loss over (model, batches, reference model), registered by name.

`batches` has a "forget" entry (views "answer" = the true answer and "refusal" = the
refusal answer on the same prompts, plus any `extra_views`) and a "retain" entry (view
"answer"); a method with `balance_concepts` gets "forget_person" / "forget_event" instead
of "forget"; a method with `keeps_facts` also gets "facts" (view "answer": the forget persons'
profile questions by name, without an image). A method never runs its own loop; `pebench.train.train` calls `loss` each step.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from pebench.core.errors import PebenchError
from pebench.core.registry import Registry
from pebench.data.qa import QA
from pebench.models.adapter import VLM

Batches = dict[str, dict[str, dict[str, torch.Tensor]]]


class Method:
    """Base class. Subclasses set `name`, `defaults` (hyperparameters) and implement `loss`."""

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    # Allowed values of numeric hyperparameters, e.g. {"beta": ">0", "weight": ">=0,<=1"}
    # (`pebench.methods.overrides` checks a config's overrides against them before any work).
    ranges: ClassVar[dict[str, str]] = {}
    needs_reference: ClassVar[bool] = False
    uses_retain: ClassVar[bool] = True
    # True: forget data arrives as "forget_person" and "forget_event" (half a batch each)
    # instead of one mixed "forget" entry.
    balance_concepts: ClassVar[bool] = False
    # True: only the first D_f_train image of each forget target is used (SIU).
    single_image: ClassVar[bool] = False
    # True: batches carry "facts", the forget persons' profile asked by name (text only), when
    # the split forgets persons (SIU keeps these facts while the visual concept is forgotten).
    keeps_facts: ClassVar[bool] = False

    def extra_views(self, qa: QA) -> dict[str, str | tuple[str, str]]:
        """Extra answers to encode for each forget question, by view name (default none): an
        answer to the same question, or a (question, answer) pair asked of the same image."""
        return {}

    def __init__(self, **params: Any):
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise PebenchError(f"method {self.name}: unknown hyperparameter(s) {', '.join(sorted(unknown))} "
                               f"(known: {', '.join(sorted(self.defaults)) or 'none'})")
        self.params = {**self.defaults, **params}

    def loss(self, model: VLM, batches: Batches, ref: VLM | None) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError


METHODS: Registry[type[Method]] = Registry("method")


def nll(model: VLM, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean answer-token negative log-likelihood."""
    return model.nll(batch)


def retain_nll(model: VLM, batches: Batches) -> torch.Tensor:
    return nll(model, batches["retain"]["answer"])


def reference_logprob(ref: VLM, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        return ref.sequence_logprob(batch)


def kl_to_reference(model: VLM, ref: VLM, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean over answer tokens of KL(p_ref || p_model) of the next-token distributions."""
    with torch.no_grad():
        _, _, ref_logits = ref.token_logprobs(batch)
    _, mask, logits = model.token_logprobs(batch)
    ref_lp = torch.log_softmax(ref_logits, -1)
    kl = (ref_lp.exp() * (ref_lp - torch.log_softmax(logits, -1))).sum(-1)
    return (kl * mask).sum() / mask.sum().clamp(min=1)
