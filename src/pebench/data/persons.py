"""Fictitious persons: names, profile (age, gender, job, birthplace) and a visual look.

The appearance text is generated from the same look the renderer draws, so the two agree
by construction. Persons are sampled so that any two differ in at least two visible
attributes, which keeps identities tellable apart in a 64-pixel image.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from pebench.data.pools import load_pools

# Invented given names and surnames (syllable combinations chosen to avoid real public persons).
FEMALE_NAMES = (
    "Alvena", "Brisa", "Caelin", "Dorelle", "Elowen", "Fenna", "Galisa", "Havina", "Isolde", "Jorelle",
    "Kessa", "Lunara", "Mireth", "Nolwen", "Orla", "Pelisse", "Quenby", "Rosamel", "Sareth", "Tamsel",
    "Ulrika", "Veyla", "Wrenna", "Xalia", "Ysolde", "Zarina", "Aubrel", "Cressa", "Delphe", "Emberly",
    "Farra", "Idrina", "Liora", "Marisel", "Nerys", "Oriel", "Sabeth", "Tirzah", "Vionne", "Yaretzi",
)
MALE_NAMES = (
    "Aldric", "Bastian", "Corvin", "Darek", "Emrys", "Falkor", "Garrick", "Hollis", "Ivor", "Jarek",
    "Kellan", "Lorcan", "Maddox", "Nevin", "Osric", "Percel", "Quillan", "Rowan", "Soren", "Tavish",
    "Ulric", "Varek", "Wystan", "Xander", "Yorick", "Zephyr", "Anselm", "Brannoc", "Cadell", "Dorran",
    "Evander", "Fintan", "Gideon", "Hadrel", "Ivaro", "Jessop", "Kiran", "Lazlo", "Matthis", "Torvald",
)
SURNAMES = (
    "Ashgrove", "Brackwell", "Calloway", "Dunmere", "Elderwyn", "Farrowby", "Glenholt", "Harrowgate",
    "Ivensdale", "Jarrowby", "Kestrelwick", "Larkspurr", "Mossbeck", "Northollow", "Oakhurst", "Pellinore",
    "Quarrington", "Ravenholm", "Stroudley", "Thistlewood", "Umberfield", "Vantoller", "Whitlock",
    "Yarrowmere", "Zellerby", "Amberlin", "Birchwald", "Coldrake", "Drummerly", "Eskervale", "Fennimore",
    "Greyhallow", "Hestermoor", "Inglesby", "Juniperry", "Kilbracken", "Lowenstrand", "Marrowfield",
    "Nethercott", "Orchardine", "Penhallow", "Quillfeather", "Redmarsh", "Silverdell", "Tarrowind",
    "Underhay", "Valecourt", "Wintermere", "Yellowdene", "Zandervoort",
)

SKINS = {"pale": "#f6dcc8", "fair": "#eac09a", "olive": "#c99a6b", "tan": "#b07a4f", "brown": "#7d5030", "dark": "#4f2f1c"}
HAIR_COLOURS = {
    "black": "#141414", "brown": "#5b3a1e", "blond": "#e8c65a", "red": "#b8361a", "grey": "#9a9a9a",
    "white": "#f4f4f4", "blue": "#2a5bd7", "green": "#2f9e44", "pink": "#f06595", "purple": "#7b2cbf",
}
HAIR_STYLES = ("short", "long", "curly", "spiky", "bald")
EYE_COLOURS = {"brown": "#4a2a10", "blue": "#1e6fd9", "green": "#2b8a3e", "grey": "#6c757d"}
SHIRT_COLOURS = {
    "red": "#e03131", "orange": "#f76707", "yellow": "#fcc419", "green": "#37b24d", "teal": "#0ca678",
    "blue": "#1c7ed6", "navy": "#1b2a6b", "purple": "#7048e8", "pink": "#e64980", "white": "#f8f9fa",
    "black": "#212529", "grey": "#868e96",
}
ACCESSORIES = ("none", "glasses", "hat", "scarf")
FACE_SHAPES = {"round": 1.0, "oval": 1.2, "long": 1.4}

_STUDENT_AGES = {
    "Primary School Student": (8, 11), "Junior High Student": (12, 14), "High School Junior": (16, 17),
    "Undergraduate Student": (18, 23), "Community College Student": (18, 30), "Master’s Student": (22, 30),
    "Doctoral Student": (24, 35), "Research Assistant": (22, 35), "Apprentice": (16, 25),
    "Technical School Student": (16, 25), "Retired": (60, 85),
}


def with_article(word: str) -> str:
    """"an engineer", "a Nurse", "an Architect": the indefinite article by the first letter."""
    return f"{'an' if word[0].lower() in 'aeiou' else 'a'} {word}"


@dataclass(frozen=True)
class Look:
    skin: str
    hair_colour: str
    hair_style: str
    eye_colour: str
    shirt_colour: str
    accessory: str
    face_shape: str

    def distinct_features(self) -> tuple[str, ...]:
        hair = "none" if self.hair_style == "bald" else self.hair_colour
        return (self.skin, hair, self.hair_style, self.shirt_colour, self.accessory)

    def describe(self) -> str:
        """An appearance sentence that names exactly what the renderer draws."""
        hair = "a bald head" if self.hair_style == "bald" else f"{self.hair_style} {self.hair_colour} hair"
        wear = {"none": "", "glasses": " and glasses", "hat": " and a hat", "scarf": " and a scarf"}[self.accessory]
        return (f"{self.skin} skin, {hair}, {self.eye_colour} eyes and {with_article(self.face_shape)} face, "
                f"wearing {with_article(self.shirt_colour)} shirt{wear}")


@dataclass(frozen=True)
class Person:
    person_id: int
    name: str
    age: int
    gender: str
    job: str
    job_category: str
    city: str
    region: str
    look: Look

    @property
    def appearance(self) -> str:
        article = "An" if self.age in (8, 11, 18) or 80 <= self.age <= 89 else "A"
        return f"{article} {self.age}-year-old {self.gender} with {self.look.describe()}."

    def record(self) -> dict:
        """A flat dict for storage (look attributes prefixed `look_`)."""
        rec = {k: v for k, v in asdict(self).items() if k != "look"}
        rec.update({f"look_{k}": v for k, v in asdict(self.look).items()})
        rec["appearance"] = self.appearance
        return rec

    @classmethod
    def from_record(cls, rec: dict) -> "Person":
        look = Look(**{k[5:]: rec[k] for k in rec if k.startswith("look_")})
        fields = ("person_id", "name", "age", "gender", "job", "job_category", "city", "region")
        return cls(**{k: rec[k] for k in fields}, look=look)


def _random_look(rng: random.Random) -> Look:
    return Look(
        skin=rng.choice(list(SKINS)), hair_colour=rng.choice(list(HAIR_COLOURS)),
        hair_style=rng.choice(HAIR_STYLES), eye_colour=rng.choice(list(EYE_COLOURS)),
        shirt_colour=rng.choice(list(SHIRT_COLOURS)), accessory=rng.choice(ACCESSORIES),
        face_shape=rng.choice(list(FACE_SHAPES)),
    )


def _far_enough(look: Look, taken: list[Look], min_diff: int = 2) -> bool:
    mine = look.distinct_features()
    return all(sum(a != b for a, b in zip(mine, o.distinct_features())) >= min_diff for o in taken)


def sample_persons(n: int, seed: int, first_id: int = 0, avoid: list[Person] | None = None) -> list[Person]:
    """Sample `n` fictitious persons deterministically from `seed`.

    Names and looks never repeat those in `avoid` (e.g. the public figures), and any two
    looks differ in at least two visible attributes.
    """
    max_names = (len(FEMALE_NAMES) + len(MALE_NAMES)) * len(SURNAMES)
    if n + len(avoid or []) > max_names:
        raise ValueError(f"cannot sample {n} distinct names (at most {max_names})")
    rng = random.Random(f"persons:{seed}:{first_id}")
    pools = load_pools()
    taken_names = {p.name for p in avoid or []}
    taken_looks = [p.look for p in avoid or []]
    persons: list[Person] = []
    while len(persons) < n:
        gender = rng.choice(("female", "male"))
        name = f"{rng.choice(FEMALE_NAMES if gender == 'female' else MALE_NAMES)} {rng.choice(SURNAMES)}"
        look = _random_look(rng)
        if name in taken_names or not _far_enough(look, taken_looks):
            continue
        category, job = rng.choice(pools.jobs)
        lo, hi = _STUDENT_AGES.get(job, (22, 65))
        region, city = rng.choice(pools.cities)
        persons.append(Person(first_id + len(persons), name, rng.randint(lo, hi), gender, job, category, city, region, look))
        taken_names.add(name)
        taken_looks.append(look)
    return persons
