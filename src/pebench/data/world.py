"""What the tiny foundation model knows before PEBench: generic scenes and everyday objects.

Objects appear in every image (PEBench and foundation) and are recorded per image, so
POPE-style "Is there a X in the image?" questions can be asked anywhere. Foundation scenes
are plain backdrops, distinct from every PEBench event, where the "public figures" (the
Real set) are shown.
"""

from __future__ import annotations

from dataclasses import dataclass

OBJECTS = ("ball", "tree", "car", "lamp", "cup", "flag", "clock", "umbrella", "chair", "kite")


@dataclass(frozen=True)
class Scene:
    name: str
    description: str
    top: str
    bottom: str
    horizon: float
    pattern: str


FOUNDATION_SCENES = (
    Scene("grey studio", "A person standing in front of a plain grey studio backdrop.", "#8c8c8c", "#6e6e6e", 0.8, "none"),
    Scene("white room", "A person in a bright white room with a light wooden floor.", "#f1f3f5", "#d9b38c", 0.7, "none"),
    Scene("brick wall", "A person standing beside a red brick wall on a stone pavement.", "#a23b2a", "#8a8a8a", 0.75, "checker"),
    Scene("blue curtain", "A person posing before a dark blue stage curtain.", "#1c2e6e", "#3b2f2f", 0.8, "vstripes"),
    Scene("green lawn", "A person on a green lawn under a pale cloudy sky.", "#dde6ee", "#5c940d", 0.5, "none"),
    Scene("yellow wall", "A person in front of a pale yellow wall with a tiled floor.", "#ffe066", "#ced4da", 0.7, "grid"),
)
