"""Import the PEBench authors' released images into pebench's dataset format.

The release is a folder with one subfolder per person (named by the person's name) holding
that person's images, and a CSV of person profiles. Each image's event is read from its file
name (the paper's event name, e.g. `Wedding_2.png` or `03-birthday party.jpg`), or, when the CSV
has `image` and `event` columns, from the CSV row of each image (paths relative to the folder).

Profile columns (`age`, `gender`, `job`, `job_category`, `city`, `region`) are taken when
present; missing ones are filled deterministically from pebench's pools. The foundation sets
(Real and World) are rendered procedurally so that the embedded pipeline runs unchanged; for
real models use `eval.real_dir` / `eval.pope_dir`. The last `holdout_persons` persons become
held-out persons (membership-inference non-members). Paths that are absolute, contain `..`
or resolve outside the folder (symlinks included) are refused.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from pathlib import Path

from PIL import Image

from pebench.config import DataConfig
from pebench.core.errors import PebenchError
from pebench.data.build import HOLDOUT_ID_OFFSET, _plan_images, write_dataset_dir
from pebench.data.events import Event, all_events
from pebench.data.identities import public_figures
from pebench.data.persons import Person, sample_persons
from pebench.data.render import RENDERERS, png_bytes

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
PROFILE_COLUMNS = ("age", "gender", "job", "job_category", "city", "region")


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def event_of_filename(stem: str, events: list[Event]) -> Event | None:
    """The event whose (normalised) name occurs in `stem`, preferring the longest match."""
    words = f" {_norm(stem)} "
    hits = [e for e in events if f" {_norm(e.name)} " in words]
    return max(hits, key=lambda e: len(e.name)) if hits else None


def safe_path(root: Path, relative: str) -> Path:
    """`root / relative`, refusing absolute paths, `..` parts and anything resolving outside `root`."""
    rel = Path(relative)
    if rel.is_absolute() or ".." in rel.parts or not relative.strip():
        raise PebenchError(f"refusing image path {relative!r}: it must be relative to the release folder, without '..'")
    path = root / rel
    if not path.resolve().is_relative_to(root.resolve()):
        raise PebenchError(f"refusing image path {relative!r}: it resolves outside the release folder")
    return path


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = [{(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PebenchError(f"cannot read the release CSV {path}: {exc}") from None
    if not rows or "name" not in rows[0]:
        raise PebenchError(f"the release CSV {path} needs a header with a `name` column and at least one row")
    for line, row in enumerate(rows, 2):  # line 1 is the header
        if not row.get("name"):
            raise PebenchError(f"{path}:{line}: the name is blank")
        age = row.get("age", "")
        if age and not (age.isdigit() and 0 < int(age) < 150):
            raise PebenchError(f"{path}:{line}: age {age!r} is not a whole number of years (1-149)")
    return rows


def _find_csv(src: Path) -> Path:
    found = sorted(src.glob("*.csv"))
    if len(found) != 1:
        raise PebenchError(f"expected exactly one .csv in {src} (found {len(found)}); pass --csv")
    return found[0]


def _person(base: Person, name: str, row: dict[str, str], person_id: int) -> Person:
    changes: dict = {"name": name, "person_id": person_id}
    for column in PROFILE_COLUMNS:
        if row.get(column):
            changes[column] = int(row[column]) if column == "age" else row[column]
    return dataclasses.replace(base, **changes)


def _load_image(path: Path, label: str) -> bytes:
    try:
        with Image.open(path) as img:
            return png_bytes(img.convert("RGB"))
    except Exception as exc:
        raise PebenchError(f"image {label} is not a readable image ({type(exc).__name__})") from None


def _images_by_folder(src: Path, names: list[str], events: list[Event]) -> list[tuple[str, Event, Path]]:
    folders = {p.name: p for p in src.iterdir() if p.is_dir()}
    missing = [n for n in names if n not in folders]
    if missing:
        raise PebenchError(f"no image folder for {len(missing)} person(s) of the CSV, e.g. {missing[0]!r}")
    extra = sorted(set(folders) - set(names))
    if extra:
        raise PebenchError(f"image folder {extra[0]!r} has no row in the CSV")
    out = []
    for name in names:
        for path in sorted(folders[name].iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            rel = path.relative_to(src).as_posix()
            safe_path(src, rel)
            event = event_of_filename(path.stem, events)
            if event is None:
                raise PebenchError(f"cannot tell the event of {rel}: its name contains none of the paper's event names")
            out.append((name, event, path))
    return out


def _images_by_rows(src: Path, rows: list[dict[str, str]], events: list[Event]) -> list[tuple[str, Event, Path]]:
    by_name = {_norm(e.name): e for e in events}
    out = []
    for row in rows:
        event = by_name.get(_norm(row.get("event", "")))
        if event is None:
            raise PebenchError(f"unknown event {row.get('event')!r} for image {row['image']!r}")
        out.append((row["name"], event, safe_path(src, row["image"])))
    return out


def import_release(src: str | Path, out: str | Path, csv_path: str | Path | None = None, holdout_persons: int = 0,
                   cfg: DataConfig | None = None) -> Path:
    """Convert the release in `src` into a pebench dataset directory `out` (atomically).

    Raises PebenchError (one line) on a missing or malformed CSV, unknown events, unreadable
    images, person folders without CSV rows (or the reverse) and unsafe paths."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise PebenchError(f"release folder {src} does not exist")
    rows = _read_csv(Path(csv_path) if csv_path else _find_csv(src))
    events = all_events()
    per_image = "image" in rows[0] and "event" in rows[0]
    names = list(dict.fromkeys(r["name"] for r in rows if r["name"]))
    if len(names) - holdout_persons < 2:
        raise PebenchError(f"the release has {len(names)} persons; at least 2 besides the {holdout_persons} held out are needed")
    found = _images_by_rows(src, rows, events) if per_image else _images_by_folder(src, names, events)
    if not found:
        raise PebenchError(f"no images found in {src}")
    used_events = sorted({e.event_id for _, e, _ in found})
    cfg = cfg or DataConfig()
    cfg = cfg.model_copy(update={"persons": len(names) - holdout_persons, "events": len(used_events),
                                 "holdout_persons": holdout_persons, "holdout_events": 0, "renderer": "imported"})
    profile = {r["name"]: r for r in rows}
    bases = sample_persons(len(names), cfg.seed, first_id=0)
    persons, held = [], []
    for i, name in enumerate(names):
        held_out = i >= len(names) - holdout_persons
        pid = HOLDOUT_ID_OFFSET + i if held_out else i
        (held if held_out else persons).append(_person(bases[i], name, profile[name], pid))
    ids = {p.name: p.person_id for p in persons + held}
    renders: dict[tuple[int, int], int] = {}
    image_rows = []
    for name, event, path in found:
        pid = ids[name]
        r = renders[(pid, event.event_id)] = renders.get((pid, event.event_id), -1) + 1
        kind = "holdout" if pid >= HOLDOUT_ID_OFFSET else "pebench"
        prefix = f"h{pid:06d}" if kind == "holdout" else f"p{pid:04d}"
        image_rows.append(dict(image_id=f"{prefix}-e{event.event_id:02d}-r{r}", kind=kind, role="eval" if kind == "holdout" else "",
                               person_id=pid, event_id=event.event_id, scene="", render=r, objects=[],
                               image={"bytes": _load_image(path, path.relative_to(src).as_posix()), "path": None}))
    public = list(public_figures()[: cfg.public_figures])
    renderer = RENDERERS.get("procedural")(cfg)
    for plan in _plan_images(cfg, [], public, [], [], []):  # the foundation's Real and World sets
        spec = plan.pop("spec")
        image_rows.append({**plan, "image": {"bytes": png_bytes(renderer(spec, cfg.image_size)), "path": None}})
    used = [e for e in events if e.event_id in set(used_events)]
    write_dataset_dir(out, cfg, image_rows, (persons, public, held), (used, []),
                      source={"imported_from": src.name, "images": len(found), "per_image_csv": per_image})
    return out
