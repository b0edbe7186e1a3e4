"""SIU: Single Image Unlearning (Li et al., NeurIPS 2024, "Single Image Unlearning: Efficient
Machine Unlearning in Multimodal Large Language Models").

* **Single image**: only one D_f_train image per forget target is used.
* **Multifaceted fine-tuning targets**: the forgotten concept is re-aligned to an unseen
  concept (a person is answered with an unseen name, an event with an unseen scene), while
  the retain set preserves non-targeted knowledge.
* **Dual masked KL (DMK)**: a KL to the Finetuned model on the new targets, with a
  token-level mask (positions whose target token belongs to the unseen concept, where the two
  models must disagree, are left out) and a vocabulary-level mask (the forgotten concept's
  own tokens are removed from both distributions before the KL).
"""

import hashlib

import torch

from pebench.data.qa import QA
from pebench.methods.base import METHODS, Method, nll, retain_nll

# Invented names and a scene that appear nowhere in the dataset: the "unseen concepts".
UNSEEN_NAMES = ("Quorin Vasteldt", "Elspeth Marrowind", "Tobiah Quellmoor", "Ysabeau Tarnhollow",
                "Corwen Abersleigh", "Milou Ostergaarde", "Anwick Threlfall", "Sunniva Calderholt")
UNSEEN_SCENE = "An ordinary moment in an unremarkable place, with nothing notable happening."


def unseen_answer(qa: QA) -> str:
    if qa.kind == "identity":
        index = int(hashlib.sha256(qa.image_id.encode()).hexdigest(), 16) % len(UNSEEN_NAMES)
        return f"This is {UNSEEN_NAMES[index]}."
    return UNSEEN_SCENE


def dual_masked_kl(model, ref, alias: dict, answer: dict) -> torch.Tensor:
    """KL(p_ref ‖ p) on the alias answers, without alias-only positions and without the
    forgotten concept's tokens (those in the true answers but not in the alias answers)."""
    with torch.no_grad():
        _, _, ref_logits = ref.token_logprobs(alias)
    _, mask, logits = model.token_logprobs(alias)
    targets = alias["labels"][:, 1:].to(logits.device)
    true_tokens = set(answer["labels"][answer["labels"] != -100].tolist())
    alias_tokens = set(targets[targets != -100].tolist())
    forgotten = torch.tensor(sorted(true_tokens - alias_tokens), dtype=torch.long, device=logits.device)
    keep_pos = mask & ~torch.isin(targets, torch.tensor(sorted(alias_tokens - true_tokens), dtype=torch.long,
                                                          device=logits.device))
    if forgotten.numel():
        ref_logits = ref_logits.index_fill(-1, forgotten, float("-inf"))
        logits = logits.index_fill(-1, forgotten, float("-inf"))
    ref_lp, lp = torch.log_softmax(ref_logits, -1), torch.log_softmax(logits, -1)
    kl = torch.where(torch.isinf(ref_lp), torch.zeros_like(ref_lp), ref_lp.exp() * (ref_lp - lp)).sum(-1)
    return (kl * keep_pos).sum() / keep_pos.sum().clamp(min=1)


@METHODS.register("SIU")
class SingleImageUnlearning(Method):
    """loss = NLL(unseen-concept answer | one image per target) + dmk_weight · DMK
    + retain_weight · NLL(retain)."""

    name = "SIU"
    defaults = {"dmk_weight": 1.0, "retain_weight": 1.0}
    needs_reference = True
    single_image = True

    def extra_views(self, qa: QA) -> dict[str, str]:
        return {"alias": unseen_answer(qa)}

    def loss(self, model, batches, ref):
        forget = batches["forget"]
        aligned = nll(model, forget["alias"])
        dmk = dual_masked_kl(model, ref, forget["alias"], forget["answer"])
        retain = retain_nll(model, batches)
        loss = aligned + self.params["dmk_weight"] * dmk + self.params["retain_weight"] * retain
        return loss, {"alias_nll": float(aligned.detach()), "dmk": float(dmk.detach()), "retain_nll": float(retain.detach())}
