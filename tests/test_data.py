import hashlib
from pathlib import Path

import datasets
import pytest

from pebench.config import DataConfig
from pebench.core.errors import PebenchError
from pebench.data.build import build_dataset, load_dataset_dir
from pebench.data.events import all_events
from pebench.data.persons import sample_persons
from pebench.data.pools import load_pools
from pebench.data.show import write_contact_sheet


def _digest(path: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.iterdir())}


def test_pools_match_the_paper():
    pools = load_pools()
    assert len(pools.jobs) == 77 and len({c for c, _ in pools.jobs}) == 17
    assert len(pools.cities) == 55 and len({r for r, _ in pools.cities}) == 7
    assert len(pools.events) == 40 and all(len(k) == 10 for _, k in pools.events)


def test_events_have_own_descriptions_using_keywords_and_distinct_looks():
    events = all_events()
    assert len(events) == 40
    assert len({e.look for e in events}) == 40
    for e in events:
        words = e.description.lower()
        used = sum(k.split()[0].lower() in words for k in e.keywords)
        assert used >= 4, e.name


def _palette_distance(a: str, b: str) -> float:
    return sum((int(a[i:i + 2], 16) - int(b[i:i + 2], 16)) ** 2 for i in (1, 3, 5)) ** 0.5


def test_no_event_looks_like_a_foundation_scene():
    """The Real set is shown on the foundation scenes: an event drawn like one of them (the art
    gallery once had the white room's palette, pattern and horizon) made the Goal describe the
    public figures in the white room as art-gallery visitors (23 of 120 Real answers; event Real
    0.875 against the Finetuned model's 0.968)."""
    from pebench.data.world import FOUNDATION_SCENES

    for event in all_events():
        for scene in FOUNDATION_SCENES:
            alike = (event.look.pattern == scene.pattern and abs(event.look.horizon - scene.horizon) < 0.05
                     and _palette_distance(event.look.top, scene.top) + _palette_distance(event.look.bottom, scene.bottom) < 100)
            assert not alike, (event.name, scene.name)


def test_persons_are_distinct_and_profiles_come_from_pools():
    pools = load_pools()
    persons = sample_persons(200, seed=3)
    assert len({p.name for p in persons}) == 200
    jobs, cities = {j for _, j in pools.jobs}, {c for _, c in pools.cities}
    for i, p in enumerate(persons):
        assert p.job in jobs and p.city in cities and p.gender in ("female", "male")
        for q in persons[:i]:
            diff = sum(a != b for a, b in zip(p.look.distinct_features(), q.look.distinct_features()))
            assert diff >= 2
    assert sample_persons(20, seed=3) == persons[:20]
    assert sample_persons(20, seed=4) != persons[:20]


def test_appearance_names_what_is_drawn():
    for p in sample_persons(30, seed=1):
        text = p.appearance
        assert p.look.shirt_colour in text and p.look.skin in text and p.look.face_shape in text
        assert ("bald" in text) == (p.look.hair_style == "bald")
        if p.look.hair_style != "bald":
            assert f"{p.look.hair_style} {p.look.hair_colour} hair" in text
        assert (p.look.accessory in text) == (p.look.accessory != "none")


def test_same_seed_gives_byte_identical_dataset(tmp_path):
    cfg = DataConfig(persons=4, events=3, public_figures=2, real_train_renders=2, real_eval_renders=1,
                     world_train_images=5, world_eval_images=5)
    a = _digest(build_dataset(cfg, tmp_path / "a"))
    b = _digest(build_dataset(cfg, tmp_path / "b"))
    c = _digest(build_dataset(cfg.model_copy(update={"seed": 1}), tmp_path / "c"))
    assert a == b
    assert a["images.parquet"] != c["images.parquet"]


def test_dataset_layout_loads_with_hf_datasets(tiny_data_dir, tiny_cfg):
    ds = datasets.load_dataset(str(tiny_data_dir), "images", split="train")
    d = tiny_cfg.data
    n_pebench = d.persons * d.events * d.renders_per_pair
    assert sum(k == "pebench" for k in ds["kind"]) == n_pebench
    assert ds.features["image"].__class__.__name__ == "Image"
    assert ds[0]["image"].size == (d.image_size, d.image_size)
    card = (tiny_data_dir / "README.md").read_text()
    assert card.startswith("---") and "config_name: images" in card


def test_loaded_data_is_consistent(tiny_data, tiny_cfg):
    d = tiny_cfg.data
    assert len(tiny_data.persons) == d.persons and len(tiny_data.public_figures) == d.public_figures
    assert len(tiny_data.of_kind("real", "eval")) == d.public_figures * d.real_eval_renders
    pairs = {(r.person_id, r.event_id) for r in tiny_data.of_kind("pebench")}
    assert len(pairs) == d.persons * d.events
    assert all(len(r.objects) >= 1 for r in tiny_data.of_kind("world"))
    # same person in two events: different pixels (scene), same person id
    a, b = [r for r in tiny_data.of_kind("pebench") if r.person_id == 0][:2]
    assert a.image.tobytes() != b.image.tobytes()


def test_load_rejects_missing_and_corrupt_files(tmp_path, tiny_data_dir):
    with pytest.raises(PebenchError, match="does not exist"):
        load_dataset_dir(tmp_path / "nope")
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_data_dir, broken)
    (broken / "images.parquet").write_bytes((broken / "images.parquet").read_bytes()[:1000])
    with pytest.raises(PebenchError, match="images.parquet"):
        load_dataset_dir(broken)
    (broken / "images.parquet").unlink()
    with pytest.raises(PebenchError, match="missing"):
        load_dataset_dir(broken)


def test_corrupt_image_is_named(tmp_path, tiny_data_dir):
    ds = datasets.Dataset.from_parquet(str(tiny_data_dir / "images.parquet"))
    bad = tmp_path / "bad"
    import shutil

    shutil.copytree(tiny_data_dir, bad)
    rows = ds.to_list()
    rows[3]["image"] = {"bytes": rows[3]["image"]["bytes"][:40], "path": None}
    datasets.Dataset.from_list(rows, features=ds.features).to_parquet(str(bad / "images.parquet"))
    with pytest.raises(PebenchError, match=rows[3]["image_id"]):
        load_dataset_dir(bad)


def test_contact_sheet(tmp_path, tiny_data):
    out = write_contact_sheet(tiny_data, tmp_path / "sheet.png", persons=3, events=2)
    from PIL import Image

    img = Image.open(out)
    assert img.size[0] > 2 * 96 and img.size[1] > 3 * 96
    with pytest.raises(PebenchError):
        write_contact_sheet(tiny_data, tmp_path / "sheet.jpg")
