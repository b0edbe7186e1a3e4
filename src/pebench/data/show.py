"""`pebench data show`: a contact sheet PNG (persons as rows, events as columns)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from pebench.core.errors import PebenchError
from pebench.core.io import atomic_path
from pebench.data.build import PebenchData


def contact_sheet(data: PebenchData, persons: int = 8, events: int = 8, cell: int = 96) -> Image.Image:
    """A grid of the first `persons` × `events` images (render 0), labelled with names and events."""
    people, evs = data.persons[:persons], data.events[:events]
    if not people or not evs:
        raise PebenchError("the dataset has no PEBench images to show")
    index = {(r.person_id, r.event_id): r for r in data.of_kind("pebench") if r.render == 0}
    label_w, label_h = 130, 28
    sheet = Image.new("RGB", (label_w + cell * len(evs), label_h + cell * len(people)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for j, e in enumerate(evs):
        draw.text((label_w + j * cell + 3, 3), e.name[:16], fill="black", font=font)
        draw.text((label_w + j * cell + 3, 14), e.name[16:32], fill="black", font=font)
    for i, p in enumerate(people):
        y = label_h + i * cell
        draw.text((3, y + cell // 2 - 12), p.name, fill="black", font=font)
        draw.text((3, y + cell // 2 + 2), f"{p.age}, {p.job}"[:21], fill="#555555", font=font)
        for j, e in enumerate(evs):
            rec = index.get((p.person_id, e.event_id))
            if rec is not None:
                sheet.paste(rec.image.resize((cell, cell)), (label_w + j * cell, y))
    return sheet


def write_contact_sheet(data: PebenchData, out: str | Path, persons: int = 8, events: int = 8) -> Path:
    """Write the contact sheet PNG to `out` atomically and return its path."""
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise PebenchError(f"contact sheet must be a .png file, got {out}")
    with atomic_path(out) as tmp:
        contact_sheet(data, persons, events).save(tmp, format="PNG")
    return out
