"""Evaluation sets from outside the generated dataset, for real models:

* **POPE** (Li et al., 2023): the authors' question files, one JSON object per line with
  `question_id`, `image`, `text` and `label` (`yes`/`no`), named `*_<setting>.json` or
  `*_<setting>.jsonl` (e.g. `coco_pope_adversarial.json`), beside an `images/` folder (or
  the images in the same folder).
* **Real** (a MIKE-style set of real identities): one subfolder per person, named with the
  person's name, holding that person's images; an optional `descriptions.json` maps an
  image's relative path to a scene description (used by the event concept's Real column).

Every image path must stay inside its folder; anything else is refused.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from PIL import Image

from pebench.core.errors import PebenchError
from pebench.data.build import ImageRecord
from pebench.data.qa import IDENTITY_Q, QA, SCENE_Q

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


def inside(root: Path, relative: str) -> Path:
    """`root / relative`, refusing absolute paths and paths that escape `root`."""
    candidate = (root / relative).resolve()
    if Path(relative).is_absolute() or not candidate.is_relative_to(root.resolve()):
        raise PebenchError(f"path {relative!r} escapes the folder {root}")
    return candidate


def open_image(path: Path) -> Image.Image:
    """An RGB image, or a PebenchError naming the file."""
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except FileNotFoundError:
        raise PebenchError(f"image {path} does not exist") from None
    except Exception as exc:
        raise PebenchError(f"image {path} is corrupt or unreadable ({type(exc).__name__})") from None


def _record(image_id: str, image: Image.Image, kind: str, person_id: int = -1) -> ImageRecord:
    return ImageRecord(image_id, image, kind, "eval", person_id, -1, "", 0, ())


def _pope_file(root: Path, setting: str) -> Path:
    found = sorted(p for suffix in ("json", "jsonl") for p in root.glob(f"*_{setting}.{suffix}"))
    if not found:
        raise PebenchError(f"POPE folder {root} has no *_{setting}.json question file")
    return found[0]


@lru_cache(maxsize=8)
def load_pope(root: str, setting: str) -> tuple[tuple[ImageRecord, QA], ...]:
    """The (image, question) pairs of one POPE setting in `root`, in file order."""
    base = Path(root)
    if not base.is_dir():
        raise PebenchError(f"POPE folder {base} does not exist")
    images_dir = base / "images" if (base / "images").is_dir() else base
    path = _pope_file(base, setting)
    images: dict[str, ImageRecord] = {}
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            name, text, label = str(row["image"]), str(row["text"]), str(row["label"]).strip().lower()
        except (json.JSONDecodeError, KeyError, TypeError):
            raise PebenchError(f"{path}:{number} is not a POPE question (JSON with image, text, label)") from None
        if label not in ("yes", "no"):
            raise PebenchError(f"{path}:{number} has label {label!r}; expected yes or no")
        if name not in images:
            images[name] = _record(f"pope:{name}", open_image(inside(images_dir, name)), "world")
        pairs.append((images[name], QA(images[name].image_id, "pope", text, "Yes." if label == "yes" else "No.")))
    if not pairs:
        raise PebenchError(f"POPE question file {path} is empty")
    return tuple(pairs)


@lru_cache(maxsize=4)
def load_real(root: str) -> tuple[tuple[ImageRecord, QA], ...]:
    """Identity questions (and scene questions where described) for a folder of real identities."""
    base = Path(root)
    if not base.is_dir():
        raise PebenchError(f"Real folder {base} does not exist")
    descriptions_file = base / "descriptions.json"
    descriptions = {}
    if descriptions_file.is_file():
        try:
            descriptions = json.loads(descriptions_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            raise PebenchError(f"{descriptions_file} is not valid JSON") from None
    pairs = []
    # Each identity gets its own person_id (its folder's index), so the Real column's interval
    # resamples identities, as for the generated public figures.
    for person_id, person_dir in enumerate(sorted(p for p in base.iterdir() if p.is_dir())):
        name = person_dir.name.replace("_", " ")
        for image_path in sorted(p for p in person_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            relative = f"{person_dir.name}/{image_path.name}"
            rec = _record(f"real:{relative}", open_image(inside(base, relative)), "real", person_id)
            pairs.append((rec, QA(rec.image_id, "identity", IDENTITY_Q, f"This is {name}.", name)))
            if relative in descriptions:
                pairs.append((rec, QA(rec.image_id, "scene", SCENE_Q, str(descriptions[relative]))))
    if not pairs:
        raise PebenchError(f"Real folder {base} has no person subfolders with images")
    return tuple(pairs)
