"""The generic text the tiny base's tokenizer is trained on.

It covers every text generator of the package (questions, answers, all given names and surnames
of both name pools, looks, backdrops, all 40 event descriptions), and no run's persons: a forget
person's name and a held-out person's name are cut into tokens by the same rules, so neither is
cheaper for a membership-inference attack to score.
"""

from __future__ import annotations

import random

from pebench.data.captions import LIST_Q, PERSON_Q, objects_answer, person_description, random_backdrop, scene_caption
from pebench.data.events import all_events
from pebench.data.identities import RESERVED_GIVEN, RESERVED_SURNAMES
from pebench.data.persons import FEMALE_NAMES, MALE_NAMES, SURNAMES, _random_look
from pebench.data.qa import IDENTITY_Q, POPE_Q, REFUSALS, SCENE_Q
from pebench.data.world import FOUNDATION_SCENES, OBJECTS


def _name_sentences(given: tuple[str, ...], surnames: tuple[str, ...]) -> list[str]:
    """Each given name and each surname in one "This is NAME." sentence (pairs cycle, so
    every name appears about equally often)."""
    n = max(len(given), len(surnames))
    return [f"This is {given[i % len(given)]} {surnames[i % len(surnames)]}." for i in range(n)]


def generic_corpus() -> list[str]:
    """The tokenizer corpus (deterministic)."""
    rng = random.Random("generic-corpus")
    texts = [IDENTITY_Q, SCENE_Q, LIST_Q, PERSON_Q, *REFUSALS.values(), "Yes.", "No.", objects_answer(())]
    texts += [POPE_Q.format(o) for o in OBJECTS] + [objects_answer((o,)) for o in OBJECTS]
    texts += _name_sentences(FEMALE_NAMES + MALE_NAMES, SURNAMES)
    texts += _name_sentences(RESERVED_GIVEN, RESERVED_SURNAMES)
    for _ in range(300):
        look = _random_look(rng)
        texts += [person_description(look), scene_caption(random_backdrop(rng)[1], look)]
    texts += [e.description for e in all_events()] + [s.description for s in FOUNDATION_SCENES]
    return texts


def text_corpus(data=None) -> list[str]:
    """The tokenizer corpus of models built from a config: the generic corpus, the same whatever
    persons a run samples, so forget and held-out names cost the same tokens. `data` (a run's
    dataset) is accepted for compatibility and not used."""
    return generic_corpus()
