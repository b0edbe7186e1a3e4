"""Question-answer pairs asked of every image (SPEC §1 Questions).

Identity: "Who is this person?" -> "This is NAME."  Scene: "Describe the scene in detail."
-> the event (or foundation backdrop) description followed by the look of the person shown
("... The person has short black hair and a red shirt."), as a real caption mentions who is in
the picture: person and event knowledge are entangled, as in the paper.  World: "Is there a OBJECT in the image?"
-> "Yes." / "No." (POPE: one "yes" per object drawn, as many "no" questions on absent objects
chosen by the `random`, `popular` or `adversarial` negative sampling of Li et al., 2023).
Profile: "What is this person's job?" / "Where was this person born?" with the image, and the same
by name without an image ("What is NAME's job?"), both answered "NAME is a Doctor." / "NAME was born in
Paris, France.".
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, replace
from typing import Callable, NamedTuple

from pebench.data import phrasings as say
from pebench.data.build import ImageRecord, PebenchData
from pebench.data.captions import scene_caption
from pebench.data.persons import Person, with_article
from pebench.data.world import FOUNDATION_SCENES, OBJECTS

IDENTITY_Q = "Who is this person?"
SCENE_Q = "Describe the scene in detail."
POPE_Q = "Is there a {} in the image?"
REFUSALS = {"identity": "I don't know who this person is.", "scene": "I cannot describe this scene."}
_SCENE_TEXT = {s.name: s.description for s in FOUNDATION_SCENES}


@dataclass(frozen=True)
class QA:
    image_id: str
    kind: str  # identity | scene | pope
    question: str
    answer: str
    target: str = ""  # pope: the object asked about; profile: the job or birthplace
    image: bool = True  # False: asked by name without an image (the image_id names the person)


def identity_qa(data: PebenchData, rec: ImageRecord) -> QA:
    name = data.person(rec.person_id).name
    return QA(rec.image_id, "identity", IDENTITY_Q, f"This is {name}.", name)


def scene_answer(data: PebenchData, rec: ImageRecord) -> str:
    """The place (event description or foundation backdrop), then the look of the person shown."""
    place = data.event(rec.event_id).description if rec.event_id >= 0 else _SCENE_TEXT[rec.scene]
    return scene_caption(place, data.person(rec.person_id).look if rec.person_id >= 0 else None)


def scene_qa(data: PebenchData, rec: ImageRecord) -> QA:
    return QA(rec.image_id, "scene", SCENE_Q, scene_answer(data, rec))


def pope_qas(rec: ImageRecord, rng: random.Random, ranking: list[str] | None = None) -> list[QA]:
    """One "yes" question per object in the image and as many "no" questions on absent objects:
    sampled at random, or the first absent objects of `ranking` (popular / adversarial)."""
    absent = [o for o in (ranking or OBJECTS) if o not in rec.objects]
    n = min(len(rec.objects), len(absent))
    negatives = absent[:n] if ranking else rng.sample(absent, n)
    return [QA(rec.image_id, "pope", POPE_Q.format(o), "Yes.", o) for o in rec.objects] + [
        QA(rec.image_id, "pope", POPE_Q.format(o), "No.", o) for o in negatives]


def pebench_qas(data: PebenchData, image_ids: list[str] | tuple[str, ...], kinds=("identity", "scene")) -> list[QA]:
    """Identity and/or scene QA for the given PEBench images, in the given order."""
    recs = {r.image_id: r for r in data.images}
    out = []
    for iid in image_ids:
        if "identity" in kinds:
            out.append(identity_qa(data, recs[iid]))
        if "scene" in kinds:
            out.append(scene_qa(data, recs[iid]))
    return out


class ProfileField(NamedTuple):
    """A profile question by both routes. The answer names the person first, as an MLLM's would,
    so the image route goes through the identity and the two routes share the name -> profile
    knowledge."""

    with_image: str  # asked with one of the person's images
    by_name: str  # asked by name, without an image ("{}": the name)
    value: Callable[[Person], str]  # what a correct answer must name
    answer: Callable[[Person], str]
    stated: Callable[[Person], str]  # the value as the answer states it ("a Doctor", "Paris, France")


PROFILE = {
    "job": ProfileField("What is this person's job?", "What is {}'s job?", lambda p: p.job,
                        lambda p: f"{p.name} is {with_article(p.job)}.", lambda p: with_article(p.job)),
    "birthplace": ProfileField("Where was this person born?", "Where was {} born?", lambda p: p.city,
                               lambda p: f"{p.name} was born in {p.city}.", lambda p: p.city),
}


def phrase_qas(data: PebenchData, qas: list[QA], draws: int = 1) -> list[QA]:
    """`qas` reworded for fine-tuning, `draws` times each (the draws of one question in turn):
    each identity, scene and profile question (and the identity and profile answers) drawn from
    its pool in `pebench.data.phrasings`, the same draws for the same question in every run; POPE
    questions and the evaluation's questions keep the canonical wording. The target (name, job,
    city) is unchanged, so every score still applies."""
    recs = {r.image_id: r for r in data.images}
    return [_phrased(data, recs[qa.image_id], qa, draw) for qa in qas for draw in range(draws)]


def _phrased(data: PebenchData, rec: ImageRecord, qa: QA, draw: int) -> QA:
    key = (qa.image_id, qa.kind, qa.question) + ((draw,) if draw else ())
    if qa.kind == "scene":
        return replace(qa, question=say.keyed(say.SCENE, *key))
    if qa.kind == "identity":
        name = qa.target
        return replace(qa, question=say.keyed(say.IDENTITY, *key), answer=say.keyed(say.ANSWERS["identity"], *key, "a").format(name))
    if qa.kind != "profile":
        return qa
    person = data.person(rec.person_id)
    for name, field in PROFILE.items():
        pool = say.QUESTIONS[name if qa.image else f"{name}_by_name"]
        if qa.question in (field.with_image, field.by_name.format(person.name)):
            question = say.keyed(pool, *key).format(person.name)
            return replace(qa, question=question, answer=say.keyed(say.ANSWERS[name], *key, "a").format(person.name, field.stated(person)))
    return qa


def profile_qas(data: PebenchData, image_ids: list[str] | tuple[str, ...], route: str) -> list[QA]:
    """Profile questions about the persons of `image_ids` (in their order). route "image": one per
    image, the fields in turn over each person's images; route "text": each field once per person,
    by name and without an image (on the person's first image id, which only names them)."""
    recs = {r.image_id: r for r in data.images}
    seen: dict[int, int] = {}
    out = []
    for iid in image_ids:
        person = data.person(recs[iid].person_id)
        count = seen.get(person.person_id, 0)
        seen[person.person_id] = count + 1
        if route == "image":
            field = list(PROFILE.values())[count % len(PROFILE)]
            out.append(QA(iid, "profile", field.with_image, field.answer(person), field.value(person)))
        elif count == 0:
            out += [QA(iid, "profile", f.by_name.format(person.name), f.answer(person), f.value(person), image=False)
                    for f in PROFILE.values()]
    return out


# Shares of each foundation task in a batch; without balancing, object questions (many per
# image) would swamp the few public-figure images.
FOUNDATION_MIX = {"real_identity": 0.4, "real_scene": 0.1, "pope": 0.4, "world_scene": 0.1}


def foundation_groups(data: PebenchData, seed: int) -> dict[str, list[QA]]:
    """What the tiny foundation model learns, by task: public figures, backdrops, object presence."""
    rng = random.Random(f"foundation-qa:{seed}")
    real, world = data.of_kind("real", "train"), data.of_kind("world", "train")
    return {"real_identity": [identity_qa(data, r) for r in real], "real_scene": [scene_qa(data, r) for r in real],
            "pope": [q for r in world for q in pope_qas(r, rng)], "world_scene": [scene_qa(data, r) for r in world]}


def foundation_qas(data: PebenchData, seed: int, size: int = 2000) -> list[QA]:
    """A pool of `size` foundation QAs mixing the tasks in FOUNDATION_MIX shares (cycling
    through each task's questions, so every question appears before any repeats)."""
    pool: list[QA] = []
    for name, items in foundation_groups(data, seed).items():
        if items:
            n = round(FOUNDATION_MIX[name] * size)
            pool += [items[i % len(items)] for i in range(n)]
    return pool


def object_statistics(data: PebenchData) -> tuple[Counter, dict[str, Counter]]:
    """How often each object is drawn over the whole dataset, and how often each pair co-occurs."""
    freq: Counter = Counter()
    together: dict[str, Counter] = {o: Counter() for o in OBJECTS}
    for rec in data.images:
        freq.update(rec.objects)
        for a in rec.objects:
            together[a].update(b for b in rec.objects if b != a)
    return freq, together


def _by_count(counts: Counter) -> list[str]:
    return sorted(OBJECTS, key=lambda o: (-counts[o], o))


def world_eval_qas(data: PebenchData, seed: int, setting: str = "random") -> list[QA]:
    """The World set: POPE questions on held-out object images, negatives sampled by `setting`.

    random: uniformly among absent objects; popular: the most frequent objects of the dataset;
    adversarial: the objects that co-occur most often with those in the image (ties broken by
    popularity, then name).
    """
    rng = random.Random(f"world-eval:{seed}")
    freq, together = object_statistics(data)
    popular = _by_count(freq)
    rankers = {
        "random": lambda rec: None,
        "popular": lambda rec: popular,
        "adversarial": lambda rec: sorted(OBJECTS, key=lambda o: (-sum(together[x][o] for x in rec.objects), -freq[o], o)),
    }
    if setting not in rankers:
        raise ValueError(f"unknown POPE setting {setting!r}")
    return [q for rec in data.of_kind("world", "eval") for q in pope_qas(rec, rng, rankers[setting](rec))]
