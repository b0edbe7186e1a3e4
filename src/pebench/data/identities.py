"""Identities the pretrained base knows: public figures (the Real set) and pseudo-identities.

Their names come from a *reserved* pool of given names and surnames that PEBench persons never
use, so a fictitious person can never share a name (or a name's tokens' history) with an
identity the base was pretrained on. The lists are fixed by the package, not by a run's seed:
the shipped base was pretrained on exactly these identities.
"""

from __future__ import annotations

import random
from functools import lru_cache

from pebench.data.persons import Look, Person, _far_enough, _random_look

RESERVED_GIVEN = (
    "Abelard", "Brenna", "Cosima", "Dashiell", "Eulalie", "Florian", "Griselda", "Horatio", "Imelda", "Jasper",
    "Katriel", "Leopold", "Marguerite", "Nikolai", "Ottilie", "Peregrine", "Rosalind", "Sebastien", "Theodora",
    "Valentin", "Wilhelmina", "Ximena", "Yannick", "Zenobia", "Ambrose", "Beatrix", "Cyprian", "Delphine",
    "Ezekiel", "Fabienne", "Gulliver", "Henrietta", "Ignatius", "Juliette", "Lucius", "Mirabel", "Octavian",
    "Philippa", "Quentin", "Serafina",
)
RESERVED_SURNAMES = (
    "Abernathy", "Blackthorne", "Carrington", "Dewhurst", "Everleigh", "Fairweather", "Gainsborough",
    "Hollingsworth", "Islington", "Kingsbury", "Lockhart", "Montgomery", "Nightingale", "Ormsby", "Pemberton",
    "Rutherford", "Sackville", "Thornbury", "Upton", "Waverley", "Ashcombe", "Bellingham", "Chadwick",
    "Dunsmore", "Fotheringay", "Grimshaw", "Huxtable", "Lindqvist", "Mortimer", "Westerberg",
)
PUBLIC_FIGURES = 40  # the Real set: identities the base knows, evaluated on renders it never saw
PSEUDO_IDENTITIES = 400  # practice identities of pretraining, never evaluated
PUBLIC_ID_OFFSET = 100_000
PSEUDO_ID_OFFSET = 300_000


def _reserved(n: int, seed: str, first_id: int, avoid: list[Person]) -> list[Person]:
    rng = random.Random(seed)
    taken = {p.name for p in avoid}
    looks: list[Look] = [p.look for p in avoid]
    out: list[Person] = []
    while len(out) < n:
        name = f"{rng.choice(RESERVED_GIVEN)} {rng.choice(RESERVED_SURNAMES)}"
        look = _random_look(rng)
        if name in taken or not _far_enough(look, looks, 1):
            continue
        taken.add(name)
        looks.append(look)
        out.append(Person(first_id + len(out), name, rng.randint(25, 70), rng.choice(("female", "male")), "", "", "", "",
                          look))
    return out


@lru_cache(maxsize=1)
def public_figures() -> tuple[Person, ...]:
    """The fixed public figures (Real set); looks differ pairwise in at least one visible attribute."""
    return tuple(_reserved(PUBLIC_FIGURES, "public-figures", PUBLIC_ID_OFFSET, []))


@lru_cache(maxsize=1)
def pseudo_identities() -> tuple[Person, ...]:
    """Practice identities for pretraining, distinct in name from the public figures."""
    return tuple(_reserved(PSEUDO_IDENTITIES, "pseudo-identities", PSEUDO_ID_OFFSET, list(public_figures())))
