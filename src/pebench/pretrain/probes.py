"""Quick held-out probes of a base during pretraining: Real (naming public figures on fresh
renders, asked in the canonical phrasing and in the paraphrase probe's held-out phrasings) and
World (POPE answered from the listed objects, and POPE asked yes / no)."""

from __future__ import annotations

import random

from pebench.config import EvalConfig
from pebench.data.captions import LIST_Q, listed_objects
from pebench.data.identities import public_figures
from pebench.data.phrasings import HELD_OUT, confirm_questions, confirmed_right, extraction_questions
from pebench.data.qa import IDENTITY_Q, POPE_Q
from pebench.data.render import SceneSpec, render_procedural
from pebench.data.world import OBJECTS
from pebench.eval.text import names_person, says_yes
from pebench.models.adapter import VLM
from pebench.pretrain.tasks import RENDER_SIZE, Sample, _foundation, _object_image


# The evaluation's own limit: "This is <reserved name>." takes up to 15 tokens, so a shorter limit
# cuts long names off and scores a correct answer as wrong.
NAME_TOKENS = EvalConfig().identity_tokens


def _ask(vlm: VLM, encoder, samples: list[Sample], tokens: int) -> list[str]:
    return vlm.generate(encoder.encode(samples, with_answers=False), tokens, batch_size=64)


def _public_figures(rng: random.Random, n: int) -> tuple[list, list[Sample]]:
    """`n` public figures (cycled) on fresh renders, each asked "Who is this person?"."""
    people = [public_figures()[i % len(public_figures())] for i in range(n)]
    return people, [Sample(render_procedural(SceneSpec(_foundation(rng)[0], p.look, (), seed=f"probe-real:{i}"), RENDER_SIZE),
                           IDENTITY_Q, "", "public") for i, p in enumerate(people)]


def probe(vlm: VLM, encoder, n: int = 80) -> dict[str, float]:
    """Real name accuracy, listing-scored POPE accuracy and yes/no POPE accuracy, 0-100."""
    rng = random.Random("pretrain-probe")
    people, real = _public_figures(rng, n)
    named = _ask(vlm, encoder, real, NAME_TOKENS)
    held_out = HELD_OUT["identity"]
    reworded = _ask(vlm, encoder, [Sample(s.image, held_out[i % len(held_out)], "", s.task) for i, s in enumerate(real)],
                    NAME_TOKENS)
    objects = [_object_image(rng, f"probe-world:{i}") for i in range(n)]
    listed = [listed_objects(a) for a in _ask(vlm, encoder, [Sample(img, LIST_Q, "", "objects") for img, _ in objects], NAME_TOKENS)]
    correct, yes_no = 0, []
    for (img, objs), seen in zip(objects, listed):
        absent = rng.choice([o for o in OBJECTS if o not in objs])
        questions = ([(objs[0], True)] if objs else []) + [(absent, False)]
        correct += sum((o in seen) == label for o, label in questions)
        yes_no += [(Sample(img, POPE_Q.format(o), "", "pope"), label) for o, label in questions]
    answers = _ask(vlm, encoder, [s for s, _ in yes_no], 3)
    return {"real": round(100 * sum(names_person(a, p.name) for a, p in zip(named, people)) / n, 1),
            "real_held_out": round(100 * sum(names_person(a, p.name) for a, p in zip(reworded, people)) / n, 1),
            "world_listing": round(100 * correct / len(yes_no), 1),
            "world_yesno": round(100 * sum(says_yes(a) == label for a, (_, label) in zip(answers, yes_no)) / len(yes_no), 1)}


def held_out_phrasings(vlm: VLM, encoder, n: int = 80) -> dict[str, float]:
    """Real name accuracy, 0-100, asked in each of the paraphrase probe's held-out identity
    phrasings on `n` public figures (the renders of `probe`): which wordings the base reads."""
    people, real = _public_figures(random.Random("pretrain-probe"), n)
    out = {}
    for question in HELD_OUT["identity"]:
        answers = _ask(vlm, encoder, [Sample(s.image, question, "", s.task) for s in real], NAME_TOKENS)
        out[question] = round(100 * sum(names_person(a, p.name) for a, p in zip(answers, people)) / n, 1)
    return out


def extraction_probe(vlm: VLM, encoder, n: int = 80) -> dict[str, float]:
    """The extraction forms on public figures (fresh renders), 0-100: the true name among four
    (`choice`, chance 25), "Is this NAME?" answered right for the true and a wrong name
    (`confirm`, chance 50), the first name's initial given (`hint_initial`)."""
    rng = random.Random("pretrain-extraction-probe")
    figures = public_figures()
    people = [figures[i % len(figures)] for i in range(n)]
    images = [render_procedural(SceneSpec(_foundation(rng)[0], p.look, (), seed=f"probe-extract:{i}"), RENDER_SIZE)
              for i, p in enumerate(people)]
    choices = [[p.name, *(o.name for o in rng.sample([f for f in figures if f != p], 3))] for p in people]
    for names in choices:
        rng.shuffle(names)
    forms = [extraction_questions(p.name, names) for p, names in zip(people, choices)]
    out = {}
    for name in ("choice", "hint_initial"):
        samples = [Sample(img, f[name], "", "public") for img, f in zip(images, forms)]
        answers = _ask(vlm, encoder, samples, NAME_TOKENS)
        out[name] = round(100 * sum(names_person(a, p.name) for a, p in zip(answers, people)) / n, 1)
    wrong = [next(x for x in names if x != p.name) for p, names in zip(people, choices)]
    questions = confirm_questions([p.name for p in people], wrong)
    said = [says_yes(a) for a in _ask(vlm, encoder, [Sample(img, q, "", "public") for img, q in zip(images * 2, questions)], 3)]
    out["confirm"] = round(100 * sum(confirmed_right(said)) / (2 * n), 1)
    return out
