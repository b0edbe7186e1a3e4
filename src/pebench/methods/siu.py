"""SIU: Single Image Unlearning (Li et al., NeurIPS 2024, "Single Image Unlearning: Efficient
Machine Unlearning in Multimodal Large Language Models").

* **Single image**: only one D_f_train image per forget target is used.
* **Multifaceted fine-tuning data**, the paper's four targets: (1) *aligning with an unseen
  concept*: the question is answered with an unseen name (persons) or an unseen scene
  (events); (2) *assigning a new visual description*: "Describe this person." / the scene
  question is answered with a description that ties what is visible to the unseen concept;
  (3) *decoupling factual knowledge*: the paper keeps facts about the concept (asked in text)
  while its visual recognition is forgotten: here the forget persons' profile (job,
  birthplace) asked by name without an image, trained with NLL (`keeps_facts`; events carry no
  such facts, so in the event scenario this term is absent); (4) *preserving non-targeted
  knowledge*: the retain set's NLL.
* **Dual masked KL (DMK)** per concept: a KL to the Finetuned model on targets (1) and (2), with
  a token-level mask (positions whose target token belongs only to the unseen concept, where the
  two models must disagree, are left out) and a vocabulary-level mask (the forgotten concept's own
  tokens, those of *this* example's true answer that its new answer does not use, are removed
  from both distributions before the KL). Each example is masked with its own concept's tokens,
  not with the union over the batch.
"""

import hashlib

import torch

from pebench.data.captions import PERSON_Q
from pebench.data.qa import QA
from pebench.methods.base import METHODS, Method, nll, retain_nll, whole_batch_mean

# Invented names and a scene that appear nowhere in the dataset: the "unseen concepts".
UNSEEN_NAMES = ("Quorin Vasteldt", "Elspeth Marrowind", "Tobiah Quellmoor", "Ysabeau Tarnhollow",
                "Corwen Abersleigh", "Milou Ostergaarde", "Anwick Threlfall", "Sunniva Calderholt")
UNSEEN_SCENE = "An ordinary moment in an unremarkable place, with nothing notable happening."


def _unseen_name(qa: QA) -> str:
    return UNSEEN_NAMES[int(hashlib.sha256(qa.image_id.encode()).hexdigest(), 16) % len(UNSEEN_NAMES)]


def unseen_answer(qa: QA) -> str:
    """Target (1): the question answered with an unseen concept."""
    return f"This is {_unseen_name(qa)}." if qa.kind == "identity" else UNSEEN_SCENE


def new_description(qa: QA) -> tuple[str, str]:
    """Target (2): (question, answer) describing the image as the unseen concept."""
    if qa.kind == "identity":
        return PERSON_Q, f"A person named {_unseen_name(qa)}."
    return qa.question, f"{UNSEEN_SCENE} Nothing here is a known event."


def masked_kl(ref_logits: torch.Tensor, logits: torch.Tensor, mask: torch.Tensor, targets: torch.Tensor,
              true_labels: torch.Tensor) -> torch.Tensor:
    """The dual masked KL(p_ref ‖ p) of rows [B, T, V] against per-row true-answer labels [B, L].

    Row i forgets F_i = tokens(true answer i) − tokens(new answer i): those vocabulary entries are
    removed from both distributions (vocabulary mask), and positions whose target is in
    tokens(new answer i) − tokens(true answer i) are left out (token mask)."""
    vocab_mask = torch.zeros_like(logits, dtype=torch.bool)
    keep = mask.clone()
    for i in range(logits.shape[0]):
        true = set(true_labels[i][true_labels[i] != -100].tolist())
        new = set(targets[i][mask[i]].tolist())
        vocab_mask[i, :, sorted(true - new)] = True
        keep[i] &= ~torch.isin(targets[i], torch.tensor(sorted(new - true), dtype=torch.long, device=targets.device))
    ref_lp = torch.log_softmax(ref_logits.masked_fill(vocab_mask, float("-inf")), -1)
    lp = torch.log_softmax(logits.masked_fill(vocab_mask, float("-inf")), -1)
    kl = torch.where(vocab_mask, torch.zeros_like(ref_lp), ref_lp.exp() * (ref_lp - lp)).sum(-1)
    return whole_batch_mean(kl, keep)


def dual_masked_kl(model, ref, new: dict, answer: dict) -> torch.Tensor:
    """DMK on the new-target batch `new`, each row masked by its own true answer in `answer`."""
    with torch.no_grad():
        _, _, ref_logits = ref.token_logprobs(new)
    _, mask, logits = model.token_logprobs(new)
    targets = new["labels"][:, 1:].to(logits.device)
    return masked_kl(ref_logits, logits, mask, targets, answer["labels"].to(logits.device))


@METHODS.register("SIU")
class SingleImageUnlearning(Method):
    """loss = ½[NLL(target 1) + NLL(target 2)] (one image per target) + dmk_weight · ½[DMK(1) + DMK(2)]
    + facts_weight · NLL(facts, target 3) + retain_weight · NLL(retain)."""

    name = "SIU"
    source = "Li et al., NeurIPS 2024, arXiv 2405.12523"
    defaults = {"dmk_weight": 1.0, "facts_weight": 1.0, "retain_weight": 1.0}
    ranges = {"dmk_weight": ">=0", "facts_weight": ">=0", "retain_weight": ">=0"}
    needs_reference = True
    single_image = True
    keeps_facts = True

    def extra_views(self, qa: QA) -> dict[str, str | tuple[str, str]]:
        return {"alias": unseen_answer(qa), "description": new_description(qa)}

    def loss(self, model, batches, ref):
        forget = batches["forget"]
        aligned = (nll(model, forget["alias"]) + nll(model, forget["description"])) / 2
        dmk = (dual_masked_kl(model, ref, forget["alias"], forget["answer"])
               + dual_masked_kl(model, ref, forget["description"], forget["answer"])) / 2
        retain = retain_nll(model, batches)
        facts = nll(model, batches["facts"]["answer"]) if "facts" in batches else torch.zeros(())
        loss = aligned + self.params["dmk_weight"] * dmk + self.params["facts_weight"] * facts + self.params["retain_weight"] * retain
        return loss, {"alias_nll": float(aligned.detach()), "dmk": float(dmk.detach()), "facts_nll": float(facts.detach()),
                      "retain_nll": float(retain.detach())}
