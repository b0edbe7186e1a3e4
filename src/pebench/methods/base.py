"""The method interface: a loss over (model, batches, reference model), registered by name.

`batches` has a "forget" entry (views "answer" = the true answer and "refusal" = the
refusal answer on the same prompts, plus any `extra_views`) and a "retain" entry (view
"answer"); a method with `balance_concepts` gets "forget_person" / "forget_event" instead
of "forget"; a method with `keeps_facts` also gets "facts" (view "answer": the forget persons'
profile questions by name, without an image). A method never runs its own loop; `pebench.train.train` calls `loss` each step.

Methods that are not only a loss use two seams, called by the recipe and the loop: `prepare`
once before the first step (a saliency mask, a pruning: `trains = False` skips the steps) and
`on_gradients` after each backward pass (masking, projecting, a dual variable).

Every mean a loss takes is over the whole batch, also under a launch where each process holds
a share: `whole_batch_mean` divides a process's sum by the mean count per process (so the
averaged gradients are the one-process gradients), and a detached statistic that weights a
loss is averaged over processes first (`distributed.mean_of_processes`).
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

import torch

from pebench.core import distributed
from pebench.core.errors import PebenchError
from pebench.core.registry import Registry
from pebench.data.qa import QA
from pebench.models.adapter import VLM

Batches = dict[str, dict[str, dict[str, torch.Tensor]]]


class Method:
    """Base class. Subclasses set `name`, `defaults` (hyperparameters) and implement `loss`."""

    name: ClassVar[str] = ""
    source: ClassVar[str] = ""  # the paper, as `pebench list` and the methods page cite it
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
    # False: the method changes the model in `prepare` only and takes no gradient steps (MANU).
    trains: ClassVar[bool] = True
    # False: the method edits weights in a way a LoRA adapter cannot hold (refused under --lora).
    supports_lora: ClassVar[bool] = True
    # False: the method needs whole gradients or activations (refused under an FSDP launch).
    supports_sharding: ClassVar[bool] = True
    # Copies of the trainable parameters (in the training dtype) the method holds at its peak
    # besides the model, its gradients and AdamW's moments: `pebench plan` counts them. The
    # reference model (the Finetuned model, or under LoRA the adapter-disabled view) is the
    # plan's `start` term, never a copy.
    state_copies: ClassVar[int] = 0

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

    def prepare(self, model: VLM, draw: Callable[[], Batches], ref: VLM | None) -> dict[str, float]:
        """Called once before the first step with the model to unlearn; `draw()` gives batches
        like the steps' (from streams of their own, so the steps see the same batches as without
        this call). Returns numbers to log. Default: nothing."""
        return {}

    def on_gradients(self, model: VLM, batches: Batches, ref: VLM | None) -> dict[str, float]:
        """Called after each backward pass (gradients already averaged over processes), before
        clipping and the optimizer step; may change the trainable parameters' `.grad`. Default: nothing."""
        return {}

    @classmethod
    def edits_gradients(cls) -> bool:
        return cls.on_gradients is not Method.on_gradients


METHODS: Registry[type[Method]] = Registry("method")


def nll(model: VLM, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean answer-token negative log-likelihood."""
    return model.nll(batch)


def retain_nll(model: VLM, batches: Batches) -> torch.Tensor:
    return nll(model, batches["retain"]["answer"])


class OptionalRetain:
    """A method (mixed in before `Method`) whose retain term, `retain_weight` · NLL(retain), is
    off by default, as in its authors' forget-only setting: it draws a D_r batch, and logs
    `retain_nll`, only at a non-zero `retain_weight`."""

    @property
    def uses_retain(self) -> bool:
        return bool(self.params["retain_weight"])

    def plus_retain(self, model: VLM, batches: Batches, forget: torch.Tensor,
                    logs: dict[str, float]) -> tuple[torch.Tensor, dict[str, float]]:
        """forget + retain_weight · NLL(retain) and its logs (forget alone at weight 0)."""
        if not self.uses_retain:
            return forget, logs
        retain = retain_nll(model, batches)
        return forget + self.params["retain_weight"] * retain, {**logs, "retain_nll": float(retain.detach())}


def reference_logprob(ref: VLM, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        return ref.sequence_logprob(batch)


def whole_batch_mean(values: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Σ values·mask / Σ mask: the mean over the batch's selected items (all without `mask`);
    under a launch the divisor is the mean count per process (`distributed.items_per_process`),
    so the gradients averaged over processes are those of the mean over the whole batch."""
    mask = torch.ones_like(values) if mask is None else mask.to(values.dtype)
    count = mask.sum()
    per_process = distributed.items_per_process(count)
    return (values * mask).sum() / (count.clamp(min=1) if per_process is None else per_process)


def answer_logits(model: VLM, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(logits [N, V], targets [N], rows [N]) at the N positions of `batch` that predict an
    answer token, in order; `rows` is each position's example index."""
    logits, targets, mask = model.answer_logits(batch)
    return logits, targets, mask.nonzero(as_tuple=True)[0]


def kl_to_reference(model: VLM, ref: VLM, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean over the whole batch's answer tokens of KL(p_ref || p_model) of the next-token distributions."""
    with torch.no_grad():
        _, _, ref_logits = ref.token_logprobs(batch)
    _, mask, logits = model.token_logprobs(batch)
    ref_lp = torch.log_softmax(ref_logits, -1)
    kl = (ref_lp.exp() * (ref_lp - torch.log_softmax(logits, -1))).sum(-1)
    return whole_batch_mean(kl, mask)
