"""Issue 25: many phrasings per task in pretraining and fine-tuning, the paraphrase probe's
phrasings held out of all of them, refusals recognised in any of their phrasings."""

import difflib
import random
from collections import Counter

import pytest

from pebench.data import phrasings as say
from pebench.data.qa import PROFILE, pebench_qas, phrase_qas, profile_qas
from pebench.eval.text import is_refusal, names_person, normalise
from pebench.pretrain.tasks import make_batch


def _word_distance(a: str, b: str) -> int:
    """Words inserted plus words deleted to turn `a` into `b` (a substitution counts 2)."""
    x, y = normalise(a).split(), normalise(b).split()
    common = sum(block.size for block in difflib.SequenceMatcher(a=x, b=y, autojunk=False).get_matching_blocks())
    return len(x) + len(y) - 2 * common


def test_every_pool_starts_with_the_canonical_phrasing_and_repeats_no_other():
    assert say.IDENTITY[0] == "Who is this person?" and say.SCENE[0] == "Describe the scene in detail."
    assert say.POPE[0] == "Is there a {} in the image?"
    assert PROFILE["job"].with_image == say.JOB[0] and PROFILE["birthplace"].by_name == say.BIRTHPLACE_BY_NAME[0]
    for name, pool in say.QUESTIONS.items():  # (a polite template may restate the canonical one)
        assert len(set(pool[1:])) == len(pool[1:]), name
    assert len(say.IDENTITY) >= 30 and len(say.SCENE) >= 30 and len(say.POPE) >= 15 and len(say.JOB) >= 15


def test_the_held_out_phrasings_are_in_no_pool_nor_one_word_away():
    held_out = [p for pool in say.HELD_OUT.values() for p in pool]
    for text in say.every_phrasing():
        for probe in held_out:
            assert _word_distance(text, probe) >= 3, (text, probe)


def test_the_word_distance_counts_insertions_and_substitutions():
    assert _word_distance("Who is this person?", "Who is this person?") == 0
    assert _word_distance("Who is this?", "Who is this person?") == 1
    assert _word_distance("Who is the person in the photo?", "Who is this person in the photo?") == 2


def test_a_pick_is_canonical_a_quarter_of_the_time_and_reaches_the_whole_pool():
    rng = random.Random(0)
    drawn = Counter(say.pick(say.IDENTITY, rng) for _ in range(4000))
    assert abs(drawn[say.IDENTITY[0]] / 4000 - say.CANONICAL_SHARE) < 0.03
    assert set(drawn) == set(say.IDENTITY)
    assert say.keyed(say.SCENE, "img-1", "scene") == say.keyed(say.SCENE, "img-1", "scene")


def test_the_pretraining_stream_asks_each_task_in_many_phrasings():
    samples = [s for step in range(40) for s in make_batch(0, step, 32)]
    by_task: dict[str, set] = {}
    for s in samples:
        by_task.setdefault(s.task, set()).add(s.question)
    assert len(by_task["public"] | by_task["pseudo"]) >= 25
    assert len(by_task["scene"]) >= 20 and len(by_task["objects"]) >= 10
    assert {s.answer.split(" ")[0] for s in samples if s.task == "pseudo"} >= {"This", "That", "The"}
    confirm = [s for s in samples if s.task == "confirm"]
    assert {s.answer for s in confirm} == {"Yes.", "No."}
    assert all("A)" in s.question and "D)" in s.question for s in samples if s.task == "choice")


def test_fine_tuning_questions_are_reworded_keeping_their_targets(tiny_data):
    ids = [r.image_id for r in tiny_data.of_kind("pebench")]
    canonical = pebench_qas(tiny_data, ids) + profile_qas(tiny_data, ids, "image") + profile_qas(tiny_data, ids, "text")
    reworded = phrase_qas(tiny_data, canonical)
    assert [(q.image_id, q.kind, q.target, q.image) for q in reworded] == [
        (q.image_id, q.kind, q.target, q.image) for q in canonical]
    assert len({q.question for q in reworded if q.kind == "identity"}) >= 10
    assert any(q.question != c.question for q, c in zip(reworded, canonical))
    for qa in reworded:
        if qa.kind in ("identity", "profile"):
            person = tiny_data.person(next(r for r in tiny_data.images if r.image_id == qa.image_id).person_id)
            assert names_person(qa.answer, person.name) and names_person(qa.answer, qa.target), qa
        if qa.kind == "profile" and not qa.image:
            assert person.name in qa.question  # asked by name, still naming the person
    assert phrase_qas(tiny_data, canonical) == reworded  # the same words in every epoch and run
    thrice = phrase_qas(tiny_data, canonical, draws=3)
    assert thrice[0::3] == reworded and len(thrice) == 3 * len(canonical)
    asked = [{q.question for q in thrice[i : i + 3]} for i in range(0, len(thrice), 3)]
    assert sum(len(a) > 1 for a in asked) > 0.5 * len(asked)  # a question is mostly asked in several ways


@pytest.mark.parametrize("answer, refuses", [
    ("I don't know who this person is.", True), ("Sorry, I can't describe this picture.", True),
    ("I am not able to describe this scene.", True), ("This is Anna Berg.", False), ("No.", False),
    ("The person has short black hair and a red shirt.", False), ("Anna Berg cannot be missed.", False),
])
def test_refusals_are_recognised_in_any_phrasing(answer, refuses):
    assert is_refusal(answer) is refuses


def test_every_taught_refusal_is_recognised():
    assert all(is_refusal(text) for pool in say.REFUSALS.values() for text in pool)
    assert not any(is_refusal(a.format("Anna Berg", "a Doctor")) for pool in say.ANSWERS.values() for a in pool)


def test_every_task_is_asked_in_the_same_indirect_frames_and_the_wh_word_tells_them_apart():
    """No indirect frame ("Can you tell me ...?") belongs to one task, so a model must read what
    follows it: identity asks "who", the scene and the objects "what", the birthplace "where"."""
    pools = {"identity": say.IDENTITY, "scene": say.SCENE, "job": say.JOB, "birthplace": say.BIRTHPLACE,
             "objects": say.OBJECTS_LIST, "person": say.PERSON}
    for frame in ("Can you tell me ", "Could you tell me ", "Do you know ", "I would like to know ", "I wonder "):
        assert all(any(p.startswith(frame) for p in pool) for pool in pools.values()), frame
    assert any(p.startswith("Can you tell me who ") for p in say.IDENTITY)
    assert not any(p.startswith("Can you tell me who ") for name, pool in pools.items() if name != "identity" for p in pool)
    assert any(p.startswith("Can you tell me where ") for p in say.BIRTHPLACE)
