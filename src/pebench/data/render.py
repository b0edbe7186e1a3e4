"""Renderers turn a scene specification into an image; registered by name.

A registered renderer is a factory: `factory(DataConfig) -> Renderer`. `procedural` (the
default) draws with PIL: a background with the event's (or foundation scene's) palette and
pattern, the event's props scattered at random, the person at a random position and scale, and
everyday objects in free corners. The same seed gives the same pixels. `flux`
(`pebench.data.diffusion`) renders the spec's text prompt with a diffusion pipeline.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol

from PIL import Image, ImageDraw

from pebench.core.registry import Registry
from pebench.data.persons import EYE_COLOURS, FACE_SHAPES, HAIR_COLOURS, SHIRT_COLOURS, SKINS, Look

if TYPE_CHECKING:
    from pebench.config import DataConfig


@dataclass(frozen=True)
class Backdrop:
    top: str
    bottom: str
    horizon: float
    pattern: str
    glyph: str | None = None
    glyph_colour: str | None = None


@dataclass(frozen=True)
class SceneSpec:
    """Everything one image shows; `seed` drives the random placement."""

    backdrop: Backdrop
    look: Look | None
    objects: tuple[str, ...]
    seed: str
    large_objects: bool = False  # object scenes (World set): one big object near the centre, no person
    prompt: str = ""  # the same scene in words, for text-to-image renderers
    person_id: int = -1


class Renderer(Protocol):
    def __call__(self, spec: SceneSpec, size: int) -> Image.Image: ...


RENDERERS: Registry[Callable[["DataConfig"], Renderer]] = Registry("renderer")


def _shade(hex_colour: str, factor: float) -> tuple[int, int, int]:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    if factor >= 1:
        return tuple(int(c + (255 - c) * (factor - 1)) for c in (r, g, b))  # type: ignore[return-value]
    return tuple(int(c * factor) for c in (r, g, b))  # type: ignore[return-value]


def _pattern_shade(colour: str) -> tuple[int, int, int]:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return _shade(colour, 0.7 if (r + g + b) > 300 else 1.35)


def _draw_backdrop(d: ImageDraw.ImageDraw, b: Backdrop, s: int) -> None:
    h = int(b.horizon * s)
    d.rectangle([0, 0, s, h], fill=b.top)
    d.rectangle([0, h, s, s], fill=b.bottom)
    alt = _pattern_shade(b.top)
    step = max(4, s // 8)
    if b.pattern == "vstripes":
        for x in range(0, s, step * 2):
            d.rectangle([x, 0, x + step // 2, h], fill=alt)
    elif b.pattern == "hstripes":
        for y in range(0, h, step):
            d.rectangle([0, y, s, y + step // 4], fill=alt)
    elif b.pattern == "grid":
        for x in range(0, s, step):
            d.line([x, 0, x, h], fill=alt, width=max(1, s // 64))
        for y in range(0, h, step):
            d.line([0, y, s, y], fill=alt, width=max(1, s // 64))
    elif b.pattern == "dots":
        for x in range(step // 2, s, step):
            for y in range(step // 2, h, step):
                d.ellipse([x - s // 64 - 1, y - s // 64 - 1, x + s // 64 + 1, y + s // 64 + 1], fill=alt)
    elif b.pattern == "checker":
        for i, x in enumerate(range(0, s, step)):
            for j, y in enumerate(range(0, h, step // 2)):
                if (i + j) % 2:
                    d.rectangle([x, y, x + step - 1, y + step // 2 - 1], fill=alt)
    elif b.pattern == "waves":
        wave = _pattern_shade(b.bottom)
        for y in range(h + step // 2, s, step):
            for x in range(0, s, step):
                d.arc([x, y - step // 4, x + step, y + step // 4], 180, 360, fill=wave, width=max(1, s // 48))


def _glyph(d: ImageDraw.ImageDraw, kind: str, cx: float, cy: float, r: float, colour: str) -> None:
    box = [cx - r, cy - r, cx + r, cy + r]
    if kind == "circle":
        d.ellipse(box, fill=colour)
    elif kind == "square":
        d.rectangle(box, fill=colour)
    elif kind == "triangle":
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    elif kind == "diamond":
        d.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=colour)
    elif kind == "cross":
        w = r / 3
        d.rectangle([cx - w, cy - r, cx + w, cy + r], fill=colour)
        d.rectangle([cx - r, cy - w, cx + r, cy + w], fill=colour)
    elif kind == "bar":
        d.rectangle([cx - r, cy - r / 3, cx + r, cy + r / 3], fill=colour)
    elif kind == "ring":
        d.ellipse(box, outline=colour, width=max(1, int(r / 2.5)))
    elif kind == "star":
        pts = []
        for k in range(10):
            import math

            ang = math.pi / 2 + k * math.pi / 5
            rad = r if k % 2 == 0 else r * 0.45
            pts.append((cx + rad * math.cos(ang), cy - rad * math.sin(ang)))
        d.polygon(pts, fill=colour)


def _draw_props(d: ImageDraw.ImageDraw, b: Backdrop, s: int, rng: random.Random) -> None:
    if not b.glyph:
        return
    for _ in range(rng.randint(3, 6)):
        r = s * rng.uniform(0.04, 0.08)
        _glyph(d, b.glyph, rng.uniform(r, s - r), rng.uniform(r, b.horizon * s + r), r, b.glyph_colour or "#000000")


def _draw_person(d: ImageDraw.ImageDraw, look: Look, cx: float, base: float, k: float) -> None:
    """Draw a person whose feet/torso bottom is at `base`; `k` is the head radius in pixels."""
    skin, shirt = SKINS[look.skin], SHIRT_COLOURS[look.shirt_colour]
    hair = HAIR_COLOURS[look.hair_colour]
    hw, hh = k, k * FACE_SHAPES[look.face_shape]
    head_cy = base - 3.2 * k - hh
    # torso
    d.polygon([(cx - 1.9 * k, base), (cx + 1.9 * k, base), (cx + 1.4 * k, base - 3.4 * k), (cx - 1.4 * k, base - 3.4 * k)], fill=shirt,
              outline=_shade(shirt, 0.6))
    d.rectangle([cx - 0.35 * k, base - 3.6 * k, cx + 0.35 * k, base - 3.2 * k], fill=skin)  # neck
    if look.hair_style == "long":
        d.rectangle([cx - hw * 1.15, head_cy - hh * 0.3, cx + hw * 1.15, head_cy + hh * 1.3], fill=hair)
    d.ellipse([cx - hw, head_cy - hh, cx + hw, head_cy + hh], fill=skin)
    top = head_cy - hh
    if look.hair_style in ("short", "long"):
        d.chord([cx - hw * 1.05, top - hh * 0.1, cx + hw * 1.05, head_cy + hh * 0.4], 180, 360, fill=hair)
    elif look.hair_style == "curly":
        for dx in (-0.8, -0.4, 0.0, 0.4, 0.8):
            d.ellipse([cx + dx * hw - 0.35 * k, top - 0.3 * k, cx + dx * hw + 0.35 * k, top + 0.4 * k], fill=hair)
    elif look.hair_style == "spiky":
        for dx in (-0.7, -0.25, 0.25, 0.7):
            d.polygon([(cx + (dx - 0.25) * hw, top + 0.3 * k), (cx + dx * hw, top - 0.6 * k),
                       (cx + (dx + 0.25) * hw, top + 0.3 * k)], fill=hair)
    eye_y, eye_r = head_cy - hh * 0.1, max(1.0, 0.18 * k)
    for ex in (-0.4, 0.4):
        d.ellipse([cx + ex * hw - eye_r, eye_y - eye_r, cx + ex * hw + eye_r, eye_y + eye_r], fill=EYE_COLOURS[look.eye_colour])
    if look.accessory == "glasses":
        for ex in (-0.4, 0.4):
            d.ellipse([cx + ex * hw - 2.2 * eye_r, eye_y - 2.2 * eye_r, cx + ex * hw + 2.2 * eye_r, eye_y + 2.2 * eye_r],
                      outline="#000000", width=max(1, int(k / 6)))
    elif look.accessory == "hat":
        d.rectangle([cx - 1.4 * hw, top + 0.05 * k, cx + 1.4 * hw, top + 0.3 * k], fill="#343a40")
        d.rectangle([cx - 0.8 * hw, top - 0.8 * k, cx + 0.8 * hw, top + 0.1 * k], fill="#343a40")
    elif look.accessory == "scarf":
        d.rectangle([cx - 1.3 * k, base - 3.6 * k, cx + 1.3 * k, base - 2.9 * k], fill="#f8f0e3", outline="#adb5bd")


def _draw_object(d: ImageDraw.ImageDraw, name: str, cx: float, cy: float, r: float) -> None:
    if name == "ball":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill="#f03e3e", outline="#ffffff", width=max(1, int(r / 4)))
    elif name == "tree":
        d.rectangle([cx - r * 0.2, cy + r * 0.3, cx + r * 0.2, cy + r], fill="#6b3e1f")
        d.polygon([(cx, cy - r), (cx - r * 0.8, cy + r * 0.4), (cx + r * 0.8, cy + r * 0.4)], fill="#1f7a1f")
    elif name == "car":
        d.rectangle([cx - r, cy - r * 0.2, cx + r, cy + r * 0.45], fill="#1971c2")
        d.rectangle([cx - r * 0.5, cy - r * 0.6, cx + r * 0.5, cy - r * 0.2], fill="#74c0fc")
        for wx in (-0.55, 0.55):
            d.ellipse([cx + wx * r - r * 0.25, cy + r * 0.3, cx + wx * r + r * 0.25, cy + r * 0.8], fill="#000000")
    elif name == "lamp":
        d.rectangle([cx - r * 0.08, cy - r * 0.2, cx + r * 0.08, cy + r], fill="#495057")
        d.polygon([(cx - r * 0.6, cy - r * 0.1), (cx + r * 0.6, cy - r * 0.1), (cx + r * 0.3, cy - r), (cx - r * 0.3, cy - r)],
                  fill="#ffd43b")
    elif name == "cup":
        d.rectangle([cx - r * 0.5, cy - r * 0.6, cx + r * 0.4, cy + r * 0.7], fill="#ffffff", outline="#495057")
        d.arc([cx + r * 0.2, cy - r * 0.3, cx + r * 0.9, cy + r * 0.4], 270, 90, fill="#495057", width=max(1, int(r / 5)))
    elif name == "flag":
        d.rectangle([cx - r * 0.7, cy - r, cx - r * 0.55, cy + r], fill="#343a40")
        d.rectangle([cx - r * 0.55, cy - r, cx + r * 0.8, cy - r * 0.1], fill="#12b886")
    elif name == "clock":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill="#fff9db", outline="#212529", width=max(1, int(r / 5)))
        d.line([cx, cy, cx, cy - r * 0.7], fill="#212529", width=max(1, int(r / 6)))
        d.line([cx, cy, cx + r * 0.5, cy], fill="#212529", width=max(1, int(r / 6)))
    elif name == "umbrella":
        d.pieslice([cx - r, cy - r, cx + r, cy + r * 0.6], 180, 360, fill="#9c36b5")
        d.line([cx, cy - r * 0.2, cx, cy + r], fill="#212529", width=max(1, int(r / 6)))
    elif name == "chair":
        d.rectangle([cx - r * 0.6, cy - r, cx - r * 0.4, cy + r], fill="#8b5a2b")
        d.rectangle([cx - r * 0.6, cy, cx + r * 0.6, cy + r * 0.2], fill="#8b5a2b")
        d.rectangle([cx + r * 0.4, cy, cx + r * 0.6, cy + r], fill="#8b5a2b")
    elif name == "kite":
        d.polygon([(cx, cy - r), (cx + r * 0.6, cy), (cx, cy + r * 0.6), (cx - r * 0.6, cy)], fill="#fd7e14")
        d.line([cx, cy + r * 0.6, cx + r * 0.3, cy + r], fill="#212529", width=1)
    else:
        raise ValueError(f"unknown object {name!r}")


@RENDERERS.register("procedural")
def procedural(cfg: "DataConfig") -> Renderer:
    """The PIL renderer (needs no settings)."""
    return render_procedural


def render_procedural(spec: SceneSpec, size: int) -> Image.Image:
    """Draw `spec` as a `size`×`size` RGB image (deterministic in `spec.seed`)."""
    rng = random.Random(spec.seed)
    img = Image.new("RGB", (size, size))
    d = ImageDraw.Draw(img)
    _draw_backdrop(d, spec.backdrop, size)
    _draw_props(d, spec.backdrop, size, rng)
    if spec.large_objects:
        slots, radius = [(rng.uniform(0.42, 0.58), rng.uniform(0.42, 0.58))], (0.3, 0.36)
    else:
        slots, radius = [(0.15, 0.18), (0.85, 0.18), (0.15, 0.82), (0.85, 0.82)], (0.13, 0.15)
    rng.shuffle(slots)
    if spec.look is not None:
        k = size * rng.uniform(0.085, 0.11)
        cx = size * rng.uniform(0.38, 0.62)
        _draw_person(d, spec.look, cx, size * rng.uniform(0.97, 1.0), k)
    for name, (sx, sy) in zip(spec.objects, slots):
        r = size * rng.uniform(*radius)
        _draw_object(d, name, size * (sx + rng.uniform(-0.03, 0.03)), size * (sy + rng.uniform(-0.03, 0.03)), r)
    return img


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def render_all(renderer, specs: list[SceneSpec], size: int, progress: Callable[[int, int], None] | None = None,
               chunk: int = 50) -> list[bytes]:
    """Every spec rendered and PNG-encoded, in chunks through `renderer.render_many` when it has
    one (batched diffusion), else one by one; `progress(done, total)` after each chunk.

    Under a multi-process launch the chunks are dealt out across processes (chunk i to rank
    i mod N) and gathered, so every process returns every image, each rendered in the same
    chunk as by one process: the same bytes, each process rendering 1/N of them."""
    from pebench.core import distributed

    many = getattr(renderer, "render_many", None)
    chunk = getattr(renderer, "batch_size", chunk)
    chunks = [specs[start : start + chunk] for start in range(0, len(specs), chunk)]
    mine: dict[int, list[bytes]] = {}
    for index in distributed.shard(range(len(chunks))):
        part = chunks[index]
        mine[index] = [png_bytes(img) for img in (many(part, size) if many else (renderer(s, size) for s in part))]
        if progress:
            progress(min(len(specs), chunk * len(mine) * distributed.world_size()), len(specs))
    rendered = {i: pngs for part in distributed.gather(mine) for i, pngs in part.items()}
    return [png for i in range(len(chunks)) for png in rendered[i]]
