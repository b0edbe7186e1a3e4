"""Build the PEBench dataset directory and load it back.

Layout (a Hugging Face `datasets` repository on disk, loadable with
`datasets.load_dataset(DIR, "images")`):

    DIR/README.md        dataset card (YAML header lists the configs)
    DIR/persons.parquet  PEBench persons and the foundation's public figures
    DIR/events.parquet   the events used, with keywords and descriptions
    DIR/images.parquet   every image (PNG bytes) with person, event/scene and objects
    DIR/build.json       the build config and counts

Images have a `kind`: `pebench` (a person at an event), `real` (a public figure on a
foundation backdrop), `world` (objects on a foundation backdrop) or `holdout` (a held-out
person at a used or held-out event: data no model ever trains on, the non-members of the
membership-inference metrics); `role` says whether a real/world image is for foundation
training (`train`) or held out for evaluation (`eval`).
The same config gives byte-identical files.
"""

from __future__ import annotations

import io
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import datasets
import pyarrow.parquet as pq
from PIL import Image

from pebench import __version__
from pebench.config import DataConfig
from pebench.core import distributed
from pebench.core.errors import PebenchError
from pebench.core.fingerprint import component_hash  # build.json records the data code: an edited generator rebuilds
from pebench.core.io import atomic_path
from pebench.data import diffusion  # noqa: F401  (registers the flux renderer)
from pebench.data.card import dataset_card
from pebench.data.events import Event, all_events
from pebench.data.identities import public_figures
from pebench.data.persons import Person, sample_persons
from pebench.data.render import RENDERERS, Backdrop, SceneSpec, png_bytes, render_all  # noqa: F401  (re-exported)
from pebench.data.world import FOUNDATION_SCENES, OBJECTS

HOLDOUT_ID_OFFSET = 200_000
FILES = ("README.md", "persons.parquet", "events.parquet", "images.parquet", "build.json")

IMAGE_FEATURES = datasets.Features({
    "image_id": datasets.Value("string"),
    "image": datasets.Image(),
    "kind": datasets.Value("string"),
    "role": datasets.Value("string"),
    "person_id": datasets.Value("int64"),
    "event_id": datasets.Value("int64"),
    "scene": datasets.Value("string"),
    "render": datasets.Value("int64"),
    "objects": datasets.Sequence(datasets.Value("string")),
})


@dataclass(frozen=True)
class ImageRecord:
    image_id: str
    image: Image.Image = field(repr=False, compare=False)
    kind: str
    role: str
    person_id: int
    event_id: int
    scene: str
    render: int
    objects: tuple[str, ...]


@dataclass
class PebenchData:
    """The loaded dataset: persons, public figures, events and images."""

    persons: list[Person]
    public_figures: list[Person]
    events: list[Event]
    images: list[ImageRecord]
    build: dict
    holdout_persons: list[Person] = field(default_factory=list)
    holdout_events: list[Event] = field(default_factory=list)

    def person(self, pid: int) -> Person:
        return self._persons_by_id[pid]

    def event(self, eid: int) -> Event:
        return self._events_by_id[eid]

    def __post_init__(self) -> None:
        self._persons_by_id = {p.person_id: p for p in self.persons + self.public_figures + self.holdout_persons}
        self._events_by_id = {e.event_id: e for e in self.events + self.holdout_events}

    def of_kind(self, kind: str, role: str | None = None) -> list[ImageRecord]:
        return [r for r in self.images if r.kind == kind and (role is None or r.role == role)]


def _backdrop_of_event(e: Event) -> Backdrop:
    lk = e.look
    return Backdrop(lk.top, lk.bottom, lk.horizon, lk.pattern, lk.glyph, lk.glyph_colour)


def _backdrop_of_scene(i: int) -> Backdrop:
    sc = FOUNDATION_SCENES[i]
    return Backdrop(sc.top, sc.bottom, sc.horizon, sc.pattern)


def _objects(rng: random.Random, lo: int, hi: int) -> tuple[str, ...]:
    return tuple(rng.sample(OBJECTS, rng.randint(lo, hi)))


def _plan_images(cfg: DataConfig, persons: list[Person], public: list[Person], events: list[Event],
                 holdout: list[Person], holdout_events: list[Event]) -> list[dict]:
    """Every image to render, as a record plus its SceneSpec (not yet drawn)."""
    rng = random.Random(f"images:{cfg.seed}")
    plans: list[dict] = []
    by_id = {p.person_id: p for p in persons + public + holdout}
    by_event = {e.event_id: e for e in events + holdout_events}

    def add(image_id, kind, role, pid, eid, scene, render, backdrop, look, objects):
        prompt = scene_prompt(by_id.get(pid), by_event.get(eid), scene, objects)
        spec = SceneSpec(backdrop, look, objects, seed=f"{cfg.seed}:{image_id}", large_objects=kind == "world",
                         prompt=prompt, person_id=pid)
        plans.append(dict(image_id=image_id, kind=kind, role=role, person_id=pid, event_id=eid, scene=scene,
                          render=render, objects=list(objects), spec=spec))

    for p in persons:
        for e in events:
            for r in range(cfg.renders_per_pair):
                add(f"p{p.person_id:04d}-e{e.event_id:02d}-r{r}", "pebench", "", p.person_id, e.event_id, "", r,
                    _backdrop_of_event(e), p.look, _objects(rng, 0, cfg.max_objects))
    for p in public:
        for role, n in (("train", cfg.real_train_renders), ("eval", cfg.real_eval_renders)):
            for r in range(n):
                s = rng.randrange(len(FOUNDATION_SCENES))
                add(f"real-{p.person_id}-{role}-r{r}", "real", role, p.person_id, -1, FOUNDATION_SCENES[s].name, r,
                    _backdrop_of_scene(s), p.look, _objects(rng, 0, cfg.max_objects))
    for role, n in (("train", cfg.world_train_images), ("eval", cfg.world_eval_images)):
        for i in range(n):
            s = rng.randrange(len(FOUNDATION_SCENES))
            add(f"world-{role}-{i:05d}", "world", role, -1, -1, FOUNDATION_SCENES[s].name, 0,
                _backdrop_of_scene(s), None, _objects(rng, 1, 1))
    for p in holdout:
        for e in events + holdout_events:
            add(f"h{p.person_id:06d}-e{e.event_id:02d}", "holdout", "eval", p.person_id, e.event_id, "", 0,
                _backdrop_of_event(e), p.look, _objects(rng, 0, cfg.max_objects))
    return plans


FOUNDATION_SCENE_TEXT = {s.name: s.description for s in FOUNDATION_SCENES}


def scene_prompt(person: Person | None, event: Event | None, scene: str, objects: tuple[str, ...]) -> str:
    """A text-to-image prompt for one planned image (name, age, gender, job, city, appearance, event)."""
    things = f" Visible nearby: {', '.join(objects)}." if objects else ""
    if person is None:
        return f"A photo of {' and '.join(objects) or 'an empty room'} in a {scene} setting, natural light.{things}"
    who = (f"A realistic photo of {person.name}, a {person.age}-year-old {person.gender} {person.job.lower()} "
           f"from {person.city}. {person.appearance}")
    where = (f" {person.name} is at a {event.name}: {', '.join(event.keywords[:6])}." if event
             else f" {FOUNDATION_SCENE_TEXT.get(scene, scene)}")
    return who + where + things



def planned_images(cfg: DataConfig) -> int:
    """How many images `build_dataset(cfg)` renders."""
    return (cfg.persons * cfg.events * cfg.renders_per_pair
            + cfg.public_figures * (cfg.real_train_renders + cfg.real_eval_renders)
            + cfg.world_train_images + cfg.world_eval_images
            + cfg.holdout_persons * (cfg.events + cfg.holdout_events))


def build_dataset(cfg: DataConfig, out: str | Path, progress: Callable[[int, int], None] | None = None) -> Path:
    """Render and write the dataset for `cfg` to directory `out` (atomically replaced).

    `progress(done, total)` is called while rendering. Returns the directory path. Under a
    multi-process launch the images are rendered across processes and the main one writes.
    """
    out = Path(out)
    renderer = RENDERERS.get(cfg.renderer)(cfg)
    events = all_events()[: cfg.events]
    public = list(public_figures()[: cfg.public_figures])  # the identities the pretrained base knows
    persons = sample_persons(cfg.persons, cfg.seed, first_id=0, avoid=public)
    holdout = sample_persons(cfg.holdout_persons, cfg.seed, first_id=HOLDOUT_ID_OFFSET, avoid=public + persons)
    holdout_events = all_events()[cfg.events : cfg.events + cfg.holdout_events]
    plans = _plan_images(cfg, persons, public, events, holdout, holdout_events)
    specs = [plan.pop("spec") for plan in plans]
    pngs = render_all(renderer, specs, cfg.image_size, progress)
    source = None
    if hasattr(renderer, "verify_and_regenerate"):  # e.g. diffusion: same person recognisable across events
        source = {"identity_check": renderer.verify_and_regenerate(specs, pngs, cfg.image_size)}
    rows = [{**plan, "image": {"bytes": png, "path": None}} for plan, png in zip(plans, pngs)]
    if distributed.is_main():  # under a launch the processes rendered a share each; one writes
        write_dataset_dir(out, cfg, rows, (persons, public, holdout), (events, holdout_events), source)
    distributed.barrier()
    return out


def write_dataset_dir(out: Path, cfg: DataConfig, rows: list[dict],
                      people: tuple[list[Person], list[Person], list[Person]],
                      event_groups: tuple[list[Event], list[Event]], source: dict | None = None) -> None:
    """Write the image rows, the people (PEBench persons, public figures, held-out persons),
    the events (used, held out), the dataset card and build.json to `out` atomically.
    `source` (e.g. where an imported release came from) is recorded in build.json."""
    persons, public, holdout = people
    events, holdout_events = event_groups
    images = datasets.Dataset.from_list(rows, features=IMAGE_FEATURES)
    person_rows = ([dict(p.record(), public=False, holdout=False) for p in persons]
                   + [dict(p.record(), public=True, holdout=False) for p in public]
                   + [dict(p.record(), public=False, holdout=True) for p in holdout])
    event_rows = [dict(event_id=e.event_id, name=e.name, keywords=list(e.keywords), description=e.description,
                       holdout=e in holdout_events) for e in events + holdout_events]
    counts = dict(persons=len(persons), events=len(events), public=len(public), holdout_persons=len(holdout),
                  holdout_events=len(holdout_events), pebench=sum(r["kind"] == "pebench" for r in rows),
                  holdout=sum(r["kind"] == "holdout" for r in rows),
                  **{f"{k}_{role}": sum(r["kind"] == k and r["role"] == role for r in rows)
                     for k in ("real", "world") for role in ("train", "eval")})
    with atomic_path(out) as tmp:
        tmp.mkdir()
        images.to_parquet(str(tmp / "images.parquet"))
        datasets.Dataset.from_list(person_rows).to_parquet(str(tmp / "persons.parquet"))
        datasets.Dataset.from_list(event_rows).to_parquet(str(tmp / "events.parquet"))
        (tmp / "README.md").write_text(dataset_card(cfg, counts), encoding="utf-8")
        build = {"pebench_version": __version__, "config": cfg.model_dump(), "counts": counts, "code": component_hash("data"),
                 **({"source": source} if source else {})}
        (tmp / "build.json").write_text(json.dumps(build, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _read_table(path: Path) -> datasets.Dataset:
    if not path.is_file():
        raise PebenchError(f"dataset file {path} is missing")
    try:
        return datasets.Dataset(pq.read_table(path))
    except Exception as exc:  # pyarrow raises several types for truncated/corrupt files
        raise PebenchError(f"dataset file {path} is corrupt or unreadable ({type(exc).__name__})") from None


def _decode(row: dict, path: Path) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(row["image"]["bytes"]))
        img.load()
        return img.convert("RGB")
    except Exception as exc:
        raise PebenchError(f"image {row.get('image_id')!r} in {path} is corrupt ({type(exc).__name__})") from None


def load_dataset_dir(path: str | Path) -> PebenchData:
    """Load a dataset directory written by `build_dataset`, validating every file and image.

    Raises PebenchError naming the file (or image) when something is missing or corrupt.
    """
    path = Path(path)
    if not path.is_dir():
        raise PebenchError(f"dataset directory {path} does not exist (build it with `pebench data build`)")
    try:
        build = json.loads((path / "build.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PebenchError(f"{path} is not a pebench dataset: build.json is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise PebenchError(f"dataset file {path / 'build.json'} is corrupt") from None
    persons_ds = _read_table(path / "persons.parquet")
    events_ds = _read_table(path / "events.parquet")
    images_ds = _read_table(path / "images.parquet")
    try:
        people = [(Person.from_record(r), "public" if r["public"] else "holdout" if r.get("holdout") else "")
                  for r in persons_ds]
        by_name = {e.name: e for e in all_events()}
        events = [(by_name[r["name"]], bool(r.get("holdout"))) for r in events_ds]
    except (KeyError, TypeError) as exc:
        raise PebenchError(f"dataset {path} has unexpected columns or values ({exc})") from None
    images_file = path / "images.parquet"
    if "image" not in images_ds.column_names:
        raise PebenchError(f"dataset file {images_file} has no image column")
    images_ds = images_ds.cast_column("image", datasets.Image(decode=False))  # decode ourselves, naming bad images
    images = [
        ImageRecord(r["image_id"], _decode(r, images_file), r["kind"], r["role"], r["person_id"], r["event_id"],
                    r["scene"], r["render"], tuple(r["objects"]))
        for r in images_ds
    ]
    return PebenchData(
        persons=[p for p, group in people if not group],
        public_figures=[p for p, group in people if group == "public"],
        events=[e for e, held in events if not held], images=images, build=build,
        holdout_persons=[p for p, group in people if group == "holdout"],
        holdout_events=[e for e, held in events if held],
    )
