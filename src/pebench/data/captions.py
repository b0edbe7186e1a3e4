"""Captions and questions shared by pretraining and the benchmark's data.

A scene caption describes the place *and the person in it* ("<backdrop or event sentence> The
person has short black hair, a red shirt and glasses."), as a real caption of a photo would:
that entangles the person and event concepts, so unlearning a person can disturb descriptions
of their scenes (the P-Scope column). World questions are answered by listing the objects seen.
"""

from __future__ import annotations

import random
import re

from pebench.data.persons import Look, with_article
from pebench.data.render import Backdrop
from pebench.data.world import OBJECTS

LIST_Q = "What objects are in the image?"
PERSON_Q = "Describe this person."

# Named backdrop colours of the pretraining stream (the benchmark's events use their own palettes).
NAMED_COLOURS = {
    "red": "#c92a2a", "orange": "#e8590c", "yellow": "#fab005", "green": "#2b8a3e", "teal": "#0c8599",
    "blue": "#1864ab", "purple": "#6741d9", "pink": "#d6336c", "brown": "#7b4a2a", "grey": "#868e96",
    "white": "#f1f3f5", "black": "#212529", "beige": "#e9d8a6", "sky blue": "#74c0fc", "lime": "#94d82d",
    "maroon": "#5c1a1a",
}
PATTERN_WORDS = {"none": "", "vstripes": " with vertical stripes", "hstripes": " with horizontal stripes",
                 "grid": " with a grid", "dots": " with dots", "checker": " with checks", "waves": ""}
GLYPHS = ("circle", "square", "triangle", "diamond", "cross", "bar", "ring", "star")


def look_sentence(look: Look) -> str:
    """What a caption says about the person: hair, shirt and accessory (what 64 px show best)."""
    hair = "a bald head" if look.hair_style == "bald" else f"{look.hair_style} {look.hair_colour} hair"
    parts = [hair, f"{with_article(look.shirt_colour)} shirt"] + ([] if look.accessory == "none" else [with_article(look.accessory)])
    return f"The person has {', '.join(parts[:-1])} and {parts[-1]}."


def scene_caption(place: str, look: Look | None) -> str:
    """A scene description: the place sentence, then the person's look when one is shown."""
    return place if look is None else f"{place} {look_sentence(look)}"


def place_part(description: str) -> str:
    """The place sentence of a scene description: everything before its look sentence."""
    return description.split(" The person has", 1)[0]


def person_description(look: Look) -> str:
    """The answer to "Describe this person.": every visible attribute."""
    return f"A person with {look.describe()}."


def objects_answer(objects: tuple[str, ...] | list[str]) -> str:
    """The answer to "What objects are in the image?"."""
    if not objects:
        return "There are no objects."
    return "There is " + " and ".join(with_article(o) for o in objects) + "."


_OBJECT_WORD = re.compile(r"\b(" + "|".join(OBJECTS) + r")s?\b")


def listed_objects(answer: str) -> set[str]:
    """The known objects an answer names (e.g. "There is a kite and a cup." -> {kite, cup})."""
    return set(_OBJECT_WORD.findall(answer.lower()))


def _jitter(colour: str, rng: random.Random, d: int = 14) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{min(255, max(0, c + rng.randint(-d, d))):02x}" for c in (r, g, b))


def random_backdrop(rng: random.Random) -> tuple[Backdrop, str]:
    """A random named-colour backdrop and the sentence that describes it."""
    top, bottom = rng.sample(list(NAMED_COLOURS), 2)
    pattern = rng.choice(list(PATTERN_WORDS))
    glyph = rng.choice(GLYPHS) if rng.random() < 0.7 else None
    glyph_colour = rng.choice([c for c in NAMED_COLOURS if c != top]) if glyph else None
    backdrop = Backdrop(_jitter(NAMED_COLOURS[top], rng), _jitter(NAMED_COLOURS[bottom], rng), rng.uniform(0.45, 0.8),
                        pattern, glyph, _jitter(NAMED_COLOURS[glyph_colour], rng) if glyph_colour else None)
    plural = {"cross": "crosses"}.get(glyph or "", f"{glyph}s")
    text = (f"A {top} wall{PATTERN_WORDS[pattern]} above a {bottom} floor{' with waves' if pattern == 'waves' else ''}"
            + (f", with {glyph_colour} {plural}." if glyph else "."))
    return backdrop, text
