"""The pretraining stream: an unlimited supply of freshly rendered examples.

Example `i` of step `s` is drawn from its own seeded generator (`pretrain:<seed>:<s>:<i>`), so
nothing repeats, the stream is deterministic for a seed, and a resumed run continues with exactly
the examples an uninterrupted run would have seen. Tasks (shares in `MIX`):

* `public`: "Who is this person?" about a public figure (the identities of the Real set);
* `pseudo`: the same about one of many pseudo-identities (practice at binding faces to names);
* `scene`: "Describe the scene in detail." on random or foundation backdrops, with a person
  (caption = place sentence + look sentence) or without;
* `objects`: "What objects are in the image?" on large-object images (the World-set style);
* `pope`: "Is there a X in the image?" on the same images, balanced yes / no;
* `person`: "Describe this person.";
* `choice`, `confirm`, `hinted`: the extraction forms the robustness probes ask of forget persons
  (four lettered names, "Is this NAME?" answered yes or no, the first name's initial given), on
  public figures and pseudo-identities, so the forms are understood before a probe asks them.

Every question (and the identity answer) is drawn from its pool of phrasings
(`pebench.data.phrasings`), the canonical one a quarter of the time, so the base understands a
question however it is worded; the paraphrase probe's phrasings are in no pool.

PEBench persons and event *descriptions* never appear: the base must not know what the benchmark
fine-tunes (event backdrops do appear, unnamed, behind practice identities).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from PIL import Image

from pebench.data import phrasings as say
from pebench.data.captions import objects_answer, person_description, random_backdrop, scene_caption
from pebench.data.events import all_events
from pebench.data.identities import public_figures, pseudo_identities
from pebench.data.persons import Person
from pebench.data.render import Backdrop, SceneSpec, render_procedural
from pebench.data.world import FOUNDATION_SCENES, OBJECTS

MIX = {"public": 0.15, "pseudo": 0.2, "scene": 0.15, "objects": 0.2, "pope": 0.1, "person": 0.05,
       "choice": 0.05, "confirm": 0.05, "hinted": 0.05}
RENDER_SIZE = 128  # the dataset's image size; the processor resizes to the model's input size


@dataclass(frozen=True)
class Sample:
    image: Image.Image
    question: str
    answer: str
    task: str


def _foundation(rng: random.Random) -> tuple[Backdrop, str]:
    scene = FOUNDATION_SCENES[rng.randrange(len(FOUNDATION_SCENES))]
    return Backdrop(scene.top, scene.bottom, scene.horizon, scene.pattern), scene.description


def _event_backdrop(rng: random.Random) -> Backdrop:
    look = rng.choice(all_events()).look
    return Backdrop(look.top, look.bottom, look.horizon, look.pattern, look.glyph, look.glyph_colour)


def _identity_backdrop(rng: random.Random) -> Backdrop:
    roll = rng.random()
    if roll < 0.4:
        return _foundation(rng)[0]
    return _event_backdrop(rng) if roll < 0.7 else random_backdrop(rng)[0]


def _person_image(rng: random.Random, person: Person, backdrop: Backdrop, seed: str) -> Image.Image:
    objects = tuple(rng.sample(OBJECTS, rng.randint(0, 2)))
    return render_procedural(SceneSpec(backdrop, person.look, objects, seed=seed), RENDER_SIZE)


def _object_image(rng: random.Random, seed: str) -> tuple[Image.Image, tuple[str, ...]]:
    backdrop = _foundation(rng)[0] if rng.random() < 0.5 else random_backdrop(rng)[0]
    objects = () if rng.random() < 0.08 else (rng.choice(OBJECTS),)
    return render_procedural(SceneSpec(backdrop, None, objects, seed=seed, large_objects=True), RENDER_SIZE), objects


def _any_identity(rng: random.Random) -> Person:
    return rng.choice(public_figures() if rng.random() < 0.3 else pseudo_identities())


def _pool_of(person: Person) -> tuple[Person, ...]:
    return public_figures() if person in public_figures() else pseudo_identities()


def _extraction(rng: random.Random, task: str, person: Person) -> tuple[str, str]:
    """(question, answer) of an extraction form about `person`."""
    others = [p.name for p in rng.sample(_pool_of(person), 4) if p != person][:3]
    if task == "confirm":
        asked = person.name if rng.random() < 0.5 else others[0]
        return say.pick(say.CONFIRM, rng).format(asked), "Yes." if asked == person.name else "No."
    answer = say.pick(say.ANSWERS["identity"], rng).format(person.name)
    if task == "choice":
        options = [person.name, *others]
        rng.shuffle(options)
        return say.choice_question(say.pick(say.IDENTITY, rng), options, rng.choice(say.CHOICE)), answer
    hint = rng.choice(say.HINT_INITIAL).format(person.name[0])
    return say.hinted_question(say.pick(say.IDENTITY, rng), hint), answer


def make_sample(seed: int, step: int, index: int) -> Sample:
    """Example `index` of training step `step` (deterministic)."""
    key = f"pretrain:{seed}:{step}:{index}"
    rng = random.Random(key)
    task = rng.choices(list(MIX), weights=list(MIX.values()))[0]
    if task in ("public", "pseudo"):
        person = rng.choice(public_figures() if task == "public" else pseudo_identities())
        return Sample(_person_image(rng, person, _identity_backdrop(rng), key), say.pick(say.IDENTITY, rng),
                      say.pick(say.ANSWERS["identity"], rng).format(person.name), task)
    if task == "scene":
        backdrop, text = _foundation(rng) if rng.random() < 0.4 else random_backdrop(rng)
        person = _any_identity(rng) if rng.random() < 0.85 else None
        if person is None:
            image = render_procedural(SceneSpec(backdrop, None, (), seed=key), RENDER_SIZE)
        else:
            image = _person_image(rng, person, backdrop, key)
        return Sample(image, say.pick(say.SCENE, rng), scene_caption(text, person.look if person else None), task)
    if task in ("choice", "confirm", "hinted"):
        person = _any_identity(rng)
        question, answer = _extraction(rng, task, person)
        return Sample(_person_image(rng, person, _identity_backdrop(rng), key), question, answer, task)
    if task == "person":
        person = _any_identity(rng)
        return Sample(_person_image(rng, person, _identity_backdrop(rng), key), say.pick(say.PERSON, rng),
                      person_description(person.look), task)
    image, objects = _object_image(rng, key)
    if task == "objects":
        return Sample(image, say.pick(say.OBJECTS_LIST, rng), objects_answer(objects), task)
    question = say.pick(say.POPE, rng)
    if objects and rng.random() < 0.5:
        return Sample(image, question.format(objects[0]), "Yes.", task)
    return Sample(image, question.format(rng.choice([o for o in OBJECTS if o not in objects])), "No.", task)


def make_batch(seed: int, step: int, size: int) -> list[Sample]:
    """The `size` examples of training step `step`."""
    return [make_sample(seed, step, i) for i in range(size)]


def replay_samples(n: int, seed: int) -> list[Sample]:
    """`n` examples of the pretraining tasks, never drawn by pretraining itself (their own seed
    namespace): replayed during fine-tuning so the base keeps its Real and World knowledge."""
    return [make_sample(seed, -1 - i // 64, i % 64) for i in range(n)]
