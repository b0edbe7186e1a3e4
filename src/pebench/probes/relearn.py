"""The relearning attack: fine-tune an unlearned model for a few steps on half the forget
targets, then measure Efficacy on the *other* half. Knowledge that unlearning only suppressed
comes back for targets the attack never showed (Hu et al., 2024, "Jogging the Memory of
Unlearned LLMs Through Targeted Relearning Attacks"; Lynch et al., 2024, "Eight Methods to
Evaluate Robust Unlearning in LLMs"); a model that never knew them (the Goal) stays at its
Efficacy.

The forget targets of each concept are dealt alternately into halves A and B (in id order):
the attack trains on the correct answers of A's D_f_train questions (plain NLL, `steps`
AdamW steps at `lr`), and Efficacy (D_f_train) and Generality (D_f_test) are measured on B's
images before and after.
"""

from __future__ import annotations

import hashlib

from pebench.data.build import PebenchData
from pebench.methods.finetune import Finetune
from pebench.models import VLM
from pebench.models.lora import plain_copy
from pebench.splits import Split, forget_qas, restrict
from pebench.train import Stream, train


def halves(data: PebenchData, split: Split) -> tuple[Split, Split] | None:
    """(A, B): `split` restricted to alternate forget targets of each concept, or None when a
    concept has a single target (nothing to hold out)."""
    persons, events = split.forget_persons, split.forget_events
    if any(len(targets) == 1 for targets in (persons, events)):
        return None
    return restrict(data, split, persons[0::2], events[0::2]), restrict(data, split, persons[1::2], events[1::2])


def relearned(vlm: VLM, examples: list[dict], steps: int, lr: float, batch_size: int, seed: str) -> VLM:
    """A plain copy of `vlm` (LoRA merged) fine-tuned `steps` steps on `examples`, every weight trainable."""
    model = plain_copy(vlm.model).requires_grad_(True)
    attacked = vlm.with_model(model)
    stream = Stream([(examples, batch_size)], attacked.collate, f"relearn:{seed}")
    method = Finetune()
    train(model, lambda b: method.loss(attacked, b, None), {"train": stream}, steps=steps, lr=lr,
          seed=int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16), log_every=steps)
    model.eval()
    return attacked


def attack_examples(encoder, data: PebenchData, part: Split) -> list[dict]:
    """The attack's training examples: the correct answers to half A's forget questions."""
    return encoder.examples([qa for qas in forget_qas(data, part).values() for qa in qas])
