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
* `person`: "Describe this person.".

PEBench persons and event *descriptions* never appear: the base must not know what the benchmark
fine-tunes (event backdrops do appear, unnamed, behind practice identities).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from PIL import Image

from pebench.data.captions import LIST_Q, PERSON_Q, objects_answer, person_description, random_backdrop, scene_caption
from pebench.data.events import all_events
from pebench.data.identities import public_figures, pseudo_identities
from pebench.data.persons import Person
from pebench.data.qa import IDENTITY_Q, POPE_Q, SCENE_Q
from pebench.data.render import Backdrop, SceneSpec, render_procedural
from pebench.data.world import FOUNDATION_SCENES, OBJECTS

MIX = {"public": 0.2, "pseudo": 0.25, "scene": 0.15, "objects": 0.25, "pope": 0.1, "person": 0.05}
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


def make_sample(seed: int, step: int, index: int) -> Sample:
    """Example `index` of training step `step` (deterministic)."""
    key = f"pretrain:{seed}:{step}:{index}"
    rng = random.Random(key)
    task = rng.choices(list(MIX), weights=list(MIX.values()))[0]
    if task in ("public", "pseudo"):
        person = rng.choice(public_figures() if task == "public" else pseudo_identities())
        return Sample(_person_image(rng, person, _identity_backdrop(rng), key), IDENTITY_Q, f"This is {person.name}.", task)
    if task == "scene":
        backdrop, text = _foundation(rng) if rng.random() < 0.4 else random_backdrop(rng)
        person = _any_identity(rng) if rng.random() < 0.85 else None
        if person is None:
            image = render_procedural(SceneSpec(backdrop, None, (), seed=key), RENDER_SIZE)
        else:
            image = _person_image(rng, person, backdrop, key)
        return Sample(image, SCENE_Q, scene_caption(text, person.look if person else None), task)
    if task == "person":
        person = _any_identity(rng)
        return Sample(_person_image(rng, person, _identity_backdrop(rng), key), PERSON_Q,
                      person_description(person.look), task)
    image, objects = _object_image(rng, key)
    if task == "objects":
        return Sample(image, LIST_Q, objects_answer(objects), task)
    if objects and rng.random() < 0.5:
        return Sample(image, POPE_Q.format(objects[0]), "Yes.", task)
    return Sample(image, POPE_Q.format(rng.choice([o for o in OBJECTS if o not in objects])), "No.", task)


def make_batch(seed: int, step: int, size: int) -> list[Sample]:
    """The `size` examples of training step `step`."""
    return [make_sample(seed, step, i) for i in range(size)]


def replay_samples(n: int, seed: int) -> list[Sample]:
    """`n` examples of the pretraining tasks, never drawn by pretraining itself (their own seed
    namespace): replayed during fine-tuning so the base keeps its Real and World knowledge."""
    return [make_sample(seed, -1 - i // 64, i % 64) for i in range(n)]
