"""The release importer: folder per person + CSV -> a pebench dataset the pipeline loads."""

import csv
import os
import subprocess
import sys

import pytest
from PIL import Image

from pebench.core.errors import PebenchError
from pebench.data.build import load_dataset_dir
from pebench.data.events import all_events
from pebench.data.importer import event_of_filename, import_release, safe_path

EVENTS = [e.name for e in all_events()[:3]]
NAMES = ["Ada Quill", "Bo Renn", "Cy Marsh"]


def _release(root, per_image=False):
    root.mkdir()
    rows = []
    for i, name in enumerate(NAMES):
        (root / name).mkdir()
        for j, event in enumerate(EVENTS):
            file = f"{j:02d}_{event.replace(' ', '_')}.jpg"
            Image.new("RGB", (40, 32), (60 * i, 80 * j, 120)).save(root / name / file)
            if per_image:
                rows.append({"name": name, "age": str(30 + i), "job": "Baker", "event": event, "image": f"{name}/{file}"})
    if not per_image:
        rows = [{"name": n, "age": str(30 + i), "job": "Baker", "city": "Oslo"} for i, n in enumerate(NAMES)]
    with (root / "persons.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root


@pytest.mark.parametrize("per_image", [False, True])
def test_import_makes_a_loadable_dataset(tmp_path, per_image):
    out = import_release(_release(tmp_path / "rel", per_image), tmp_path / "ds", holdout_persons=1)
    data = load_dataset_dir(out)
    assert [p.name for p in data.persons] == NAMES[:2]
    assert [p.name for p in data.holdout_persons] == NAMES[2:]
    assert all(p.age == 30 + i and p.job == "Baker" for i, p in enumerate(data.persons))
    assert [e.name for e in data.events] == EVENTS
    pebench = data.of_kind("pebench")
    assert len(pebench) == 6 and len(data.of_kind("holdout")) == 3
    first = next(r for r in pebench if r.person_id == 0 and r.event_id == 1)
    assert first.image.size == (40, 32) and first.image.getpixel((0, 0)) == pytest.approx((0, 80, 120), abs=6)
    assert data.of_kind("real", "train") and data.of_kind("world", "train")  # foundation sets for the tiny pipeline
    assert data.build["source"]["images"] == 9
    again = import_release(tmp_path / "rel", tmp_path / "ds2", holdout_persons=1)
    assert (again / "images.parquet").read_bytes() == (out / "images.parquet").read_bytes()  # deterministic


def test_event_names_in_file_names():
    events = all_events()
    assert event_of_filename("03-Dinner_with_Friends-2", events).name == "dinner with friends"
    assert event_of_filename("train_station_waiting", events).name == "train station waiting"  # longest match
    assert event_of_filename("img_0001", events) is None


def test_unsafe_paths_are_refused(tmp_path):
    root = tmp_path / "rel"
    root.mkdir()
    (tmp_path / "secret.png").write_bytes(b"x")
    for bad in ("/etc/passwd", "../secret.png", "a/../../secret.png", ""):
        with pytest.raises(PebenchError, match="refusing image path"):
            safe_path(root, bad)
    os.symlink(tmp_path / "secret.png", root / "link.png")
    with pytest.raises(PebenchError, match="outside the release folder"):
        safe_path(root, "link.png")


def test_escaping_csv_row_fails_and_writes_nothing(tmp_path):
    root = _release(tmp_path / "rel", per_image=True)
    lines = (root / "persons.csv").read_text().splitlines()
    lines[1] = lines[1].replace("Ada Quill/", "../../")
    (root / "persons.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(PebenchError, match="refusing image path"):
        import_release(root, tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


def test_cli_import_errors_are_one_line(tmp_path):
    root = _release(tmp_path / "rel")
    (root / "Stranger").mkdir()
    result = subprocess.run([sys.executable, "-m", "pebench", "data", "import", str(root), "--out", str(tmp_path / "ds")],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert result.stderr.strip() == "error: image folder 'Stranger' has no row in the CSV"
    ok = subprocess.run([sys.executable, "-m", "pebench", "data", "import", str(_release(tmp_path / "rel2")),
                         "--out", str(tmp_path / "ds2")], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
