"""World (POPE) negative sampling and the loaders for POPE files and real-identity folders."""

import json
from collections import Counter

import pytest
from PIL import Image

from pebench.core.errors import PebenchError
from pebench.data.qa import object_statistics, world_eval_qas
from pebench.data.world import OBJECTS
from pebench.eval.external import load_pope, load_real


def _by_image(qas):
    out = {}
    for q in qas:
        out.setdefault(q.image_id, []).append(q)
    return out


@pytest.mark.parametrize("setting", ["random", "popular", "adversarial"])
def test_each_image_gets_as_many_no_as_yes_questions(tiny_data, setting):
    recs = {r.image_id: r for r in tiny_data.of_kind("world", "eval")}
    for image_id, qas in _by_image(world_eval_qas(tiny_data, 0, setting)).items():
        yes = [q.target for q in qas if q.answer == "Yes."]
        no = [q.target for q in qas if q.answer == "No."]
        assert sorted(yes) == sorted(recs[image_id].objects)
        assert len(no) == len(yes) and not set(no) & set(yes)


def test_popular_negatives_are_the_most_frequent_absent_objects(tiny_data):
    freq, _ = object_statistics(tiny_data)
    ranking = sorted(OBJECTS, key=lambda o: (-freq[o], o))
    recs = {r.image_id: r for r in tiny_data.of_kind("world", "eval")}
    for image_id, qas in _by_image(world_eval_qas(tiny_data, 0, "popular")).items():
        absent = [o for o in ranking if o not in recs[image_id].objects]
        assert [q.target for q in qas if q.answer == "No."] == absent[: len(recs[image_id].objects)]


def test_adversarial_negatives_co_occur_most(tiny_data):
    freq, together = object_statistics(tiny_data)
    recs = {r.image_id: r for r in tiny_data.of_kind("world", "eval")}
    for image_id, qas in _by_image(world_eval_qas(tiny_data, 0, "adversarial")).items():
        objects = recs[image_id].objects
        co = Counter()
        for o in objects:
            co.update(together[o])
        negatives = [q.target for q in qas if q.answer == "No."]
        best = max(co[o] for o in OBJECTS if o not in objects)
        assert co[negatives[0]] == best


def test_random_sampling_is_seeded(tiny_data):
    assert world_eval_qas(tiny_data, 3, "random") == world_eval_qas(tiny_data, 3, "random")
    assert world_eval_qas(tiny_data, 3, "random") != world_eval_qas(tiny_data, 4, "random")


def _pope_dir(tmp_path, rows, setting="random"):
    (tmp_path / "images").mkdir()
    for name in ("a.jpg", "b.png"):
        Image.new("RGB", (20, 20), "red").save(tmp_path / "images" / name)
    (tmp_path / f"coco_pope_{setting}.json").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return tmp_path


def test_pope_loader_reads_the_authors_format(tmp_path):
    rows = [{"question_id": 1, "image": "a.jpg", "text": "Is there a dog in the image?", "label": "yes"},
            {"question_id": 2, "image": "a.jpg", "text": "Is there a cat in the image?", "label": "no"},
            {"question_id": 3, "image": "b.png", "text": "Is there a car in the image?", "label": "no"}]
    pairs = load_pope(str(_pope_dir(tmp_path, rows)), "random")
    assert [qa.answer for _, qa in pairs] == ["Yes.", "No.", "No."]
    assert pairs[0][0] is pairs[1][0] and pairs[0][0].image.size == (20, 20)
    assert pairs[2][1].question == "Is there a car in the image?"


@pytest.mark.parametrize("row, message", [
    ({"question_id": 1, "image": "../secret.png", "text": "q", "label": "yes"}, "escapes"),
    ({"question_id": 1, "image": "/etc/passwd", "text": "q", "label": "yes"}, "escapes"),
    ({"question_id": 1, "image": "a.jpg", "text": "q", "label": "maybe"}, "expected yes or no"),
    ({"question_id": 1, "text": "q", "label": "yes"}, "is not a POPE question"),
    ({"question_id": 1, "image": "missing.jpg", "text": "q", "label": "no"}, "does not exist"),
])
def test_pope_loader_rejects_bad_rows(tmp_path, row, message):
    with pytest.raises(PebenchError, match=message):
        load_pope(str(_pope_dir(tmp_path, [row])), "random")


def test_pope_loader_needs_the_setting_file(tmp_path):
    with pytest.raises(PebenchError, match="no \\*_adversarial.json"):
        load_pope(str(_pope_dir(tmp_path, [{"image": "a.jpg", "text": "q", "label": "yes"}])), "adversarial")


def test_real_loader_names_come_from_folders(tmp_path):
    for name in ("Ada_Lovelace", "Alan Turing"):
        (tmp_path / name).mkdir()
        Image.new("RGB", (8, 8)).save(tmp_path / name / "1.jpg")
    (tmp_path / "descriptions.json").write_text(json.dumps({"Ada_Lovelace/1.jpg": "A portrait in a study."}))
    pairs = load_real(str(tmp_path))
    identity = [qa for _, qa in pairs if qa.kind == "identity"]
    assert [qa.target for qa in identity] == ["Ada Lovelace", "Alan Turing"]
    assert [qa.answer for _, qa in pairs if qa.kind == "scene"] == ["A portrait in a study."]


def test_real_loader_reports_corrupt_images(tmp_path):
    (tmp_path / "Someone").mkdir()
    (tmp_path / "Someone" / "x.jpg").write_bytes(b"not an image")
    with pytest.raises(PebenchError, match="x.jpg is corrupt"):
        load_real(str(tmp_path))
