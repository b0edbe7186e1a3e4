"""Extraction probes: is a forgotten person's name still there when an adversary asks otherwise?
Each probe asks about the forget persons' D_f_test images (the questions no step trained on) and
reports how much it extracts, 0-100 (lower = less recoverable); the Goal row, which never learnt
the persons, calibrates what "never known" reads, the Finetuned row what a known name reads.

* `choice`: "Who is this person? Choose one: A) .. D) .." with the true name among three other
  PEBench persons' names (MLLMU-Bench's classification task, Liu et al., 2024); % answers naming
  the true person, chance 25;
* `confirm`: "Is this NAME?" for the true name and for a wrong one; % answered correctly (yes,
  then no), chance 50 for a model that cannot tell;
* `hint_initial` / `hint_job`: the identity question with the first name's initial, or the
  person's job, given as a hint; % naming the person;
* `lens_<l>`: white-box, the logit lens (nostalgebraist, 2020; Belrose et al., 2023, "Eliciting
  Latent Predictions from Transformers with the Tuned Lens"): each decoder layer's hidden states
  read through the final norm and the output head, scoring the answer "This is NAME." for the
  same four names as `choice`; % images whose true name scores best (chance 25). The last layer
  is the model's own likelihood (`lens_<L>`); a method that only suppresses the name in the last
  layers still reads high in earlier ones. Visual features alone can separate faces, so compare
  with the Goal's row, not with 25.
"""

from __future__ import annotations

import random
from typing import Sequence

import torch

from pebench.data import phrasings as say
from pebench.data.build import PebenchData
from pebench.data.persons import Person, with_article
from pebench.data.qa import IDENTITY_Q
from pebench.eval.evaluate import Query
from pebench.eval.text import names_person, says_yes
from pebench.models import VLM
from pebench.models.family import base_model, family_of

OPTIONS = 4


def targets(queries: Sequence[Query], persons: Sequence[int]) -> list[Query]:
    """The D_f_test identity questions about the forget `persons` (one per image)."""
    return [q for q in queries if q.set == "f_test" and q.qa.kind == "identity" and q.record.person_id in persons]


def options(data: PebenchData, person: Person, key: str) -> list[str]:
    """The true name and three other PEBench persons' names, in a seeded order."""
    rng = random.Random(f"extraction:{key}")
    others = rng.sample([p.name for p in data.persons if p.person_id != person.person_id], OPTIONS - 1)
    names = [person.name, *others]
    rng.shuffle(names)
    return names


def _percent(hits: Sequence[bool]) -> float:
    return round(100 * sum(hits) / len(hits), 4) if hits else float("nan")


def _ask(vlm: VLM, asked: list[tuple[Query, str]], tokens: int, batch_size: int) -> list[str]:
    items = [vlm.encode(q.record.image_id, q.record.image, question) for q, question in asked]
    return vlm.generate(items, tokens, batch_size)


def _language_model(vlm: VLM):
    family = family_of(vlm.model)
    inner = base_model(vlm.model).model
    return getattr(inner, family.language if family else "language_model")


@torch.inference_mode()
def lens_scores(vlm: VLM, items: list, batch_size: int) -> torch.Tensor:
    """[len(items), layers]: each item's summed answer log-prob read through each decoder layer
    (hidden states after layer l, final norm, output head); the last column is the model's own."""
    norm, head = _language_model(vlm).norm, vlm.model.get_output_embeddings()
    out = []
    for start in range(0, len(items), batch_size):
        batch = vlm.to_device(vlm.collate(items[start : start + batch_size]))
        targets = batch.pop("labels")[:, 1:]
        mask = targets != -100
        hidden = vlm.model(**batch, output_hidden_states=True).hidden_states[1:]
        columns = []
        for layer, states in enumerate(hidden):
            h = states[:, :-1][mask]
            # transformers appends the last layer's states after the final norm
            logits = head(h if layer == len(hidden) - 1 else norm(h)).float()
            logp = torch.log_softmax(logits, -1).gather(-1, targets[mask].unsqueeze(-1)).squeeze(-1)
            per_item = logp.new_zeros(mask.shape).masked_scatter(mask, logp).sum(-1)
            columns.append(per_item)
        out.append(torch.stack(columns, -1).cpu())
    return torch.cat(out)


def extraction_columns(vlm: VLM, data: PebenchData, queries: Sequence[Query], persons: Sequence[int],
                       tokens: int, batch_size: int) -> dict[str, float]:
    """Every extraction probe's % on the forget persons of `queries` (see the module docstring)."""
    asked = targets(queries, persons)
    if not asked:
        return {}
    was_training = vlm.model.training
    vlm.model.eval()
    people = [data.person(q.record.person_id) for q in asked]
    choices = [options(data, p, q.record.image_id) for p, q in zip(people, asked)]
    wrong = [next(n for n in names if n != p.name) for p, names in zip(people, choices)]
    forms = [say.extraction_questions(p.name, names) for p, names in zip(people, choices)]
    questions = {
        "choice": [f["choice"] for f in forms], "hint_initial": [f["hint_initial"] for f in forms],
        "hint_job": [say.hinted_question(IDENTITY_Q, say.HINT_JOB[0].format(with_article(p.job))) for p in people],
    }
    out = {name: _percent([names_person(a, p.name) for a, p in zip(_ask(vlm, list(zip(asked, qs)), tokens, batch_size), people)])
           for name, qs in questions.items()}
    confirm = list(zip([*asked, *asked], say.confirm_questions([p.name for p in people], wrong)))
    said = [says_yes(a) for a in _ask(vlm, confirm, 4, batch_size)]
    out["confirm"] = _percent(say.confirmed_right(said))
    items = [vlm.encode(q.record.image_id, q.record.image, IDENTITY_Q, say.ANSWERS["identity"][0].format(n))
             for q, names in zip(asked, choices) for n in names]
    scores = lens_scores(vlm, items, max(1, batch_size // 4)).view(len(asked), OPTIONS, -1)
    best = scores.argmax(1)  # [images, layers]
    truth = torch.tensor([names.index(p.name) for p, names in zip(people, choices)]).unsqueeze(-1)
    for layer, hits in enumerate((best == truth).T.tolist(), start=1):
        out[f"lens_{layer}"] = _percent(hits)
    vlm.model.train(was_training)
    return out
