"""The column definitions of SPEC §3, checked on hand-made per-sample records."""

import pytest

from pebench.config import EvalConfig, SplitConfig
from pebench.eval.evaluate import build_queries, scenario_cells, scenario_metrics
from pebench.splits import make_split


def _samples(data, split, identity_ok, scene_score, pope_ok=True):
    """Records as score_samples would write them, with chosen outcomes per set."""
    out = []
    for q in build_queries(data, split, EvalConfig(max_retain_images=10), seed=0):
        s = {"set": q.set, "image_id": q.record.image_id, "person_id": q.record.person_id,
             "event_id": q.record.event_id, "kind": q.qa.kind}
        if q.qa.kind == "identity":
            s["name_match"] = identity_ok[q.set]
        elif q.qa.kind == "scene":
            s["rouge_l"] = scene_score[q.set]
            if q.record.event_id >= 0:
                s["rouge_l_event"] = scene_score[q.set]
            s["judge"] = scene_score[q.set]
        else:
            s["label"] = q.qa.answer == "Yes."
            s["said_yes"] = s["label"] if pope_ok else not s["label"]
        out.append(s)
    return out


def test_person_columns(tiny_data):
    split = make_split(tiny_data, "person", SplitConfig(forget_fraction=0.25), 0)
    samples = _samples(tiny_data, split, {"f_train": False, "f_test": True, "retain": True, "real": True},
                       {"f_train": 0.8, "f_test": 0.1, "retain": 0.1, "real": 0.1})
    m = scenario_metrics(tiny_data, split, samples)
    assert m["efficacy"] == 100 and m["generality"] == 0 and m["retain"] == 100 and m["real"] == 100
    assert m["scope"] == pytest.approx(0.8) and m["world"] == 100


def test_person_scope_scores_the_event_sentence_not_the_look(tiny_data):
    """An answer with the event sentence right and another look reads 1 on the event part
    (P-Scope's measure) and below 1 on the whole caption; a wrong event reads below 1 on both."""
    from pebench.data.captions import place_part
    from pebench.eval.evaluate import score_samples
    from pebench.eval.judges.keywords import KeywordJudge

    split = make_split(tiny_data, "person", SplitConfig(forget_fraction=0.25), 0)
    right_event = next(q for q in build_queries(tiny_data, split, EvalConfig(max_retain_images=10), seed=0)
                       if q.qa.kind == "scene" and q.set == "f_train")
    other = tiny_data.event((right_event.record.event_id + 1) % len(tiny_data.events))
    answers = [place_part(right_event.qa.answer) + " The person has a bald head and a purple shirt.",
               other.description + right_event.qa.answer.removeprefix(place_part(right_event.qa.answer))]
    first, second = score_samples(tiny_data, [right_event, right_event], answers, KeywordJudge())
    assert first["rouge_l_event"] == 1.0 and first["rouge_l"] < 0.95
    assert second["rouge_l_event"] < 0.5 and second["rouge_l"] < 1.0


def test_event_columns(tiny_data):
    split = make_split(tiny_data, "event", SplitConfig(forget_fraction=0.25), 0)
    samples = _samples(tiny_data, split, {"f_train": True, "f_test": False, "retain": False, "real": False},
                       {"f_train": 0.25, "f_test": 0.5, "retain": 0.9, "real": 0.4}, pope_ok=False)
    m = scenario_metrics(tiny_data, split, samples)
    assert m["efficacy"] == pytest.approx(0.75) and m["generality"] == pytest.approx(0.5)
    assert m["scope"] == 100 and m["retain"] == pytest.approx(0.9) and m["real"] == pytest.approx(0.4)
    assert m["world"] == 0


def test_both_scenario_prefixes_and_separates_concepts(tiny_data):
    split = make_split(tiny_data, "both", SplitConfig(forget_fraction=0.25), 0)
    samples = _samples(tiny_data, split, {"f_train": False, "f_test": False, "retain": True, "real": True},
                       {"f_train": 0.0, "f_test": 0.0, "retain": 1.0, "real": 1.0})
    m = scenario_metrics(tiny_data, split, samples)
    assert m["person_efficacy"] == 100 and m["event_efficacy"] == 1.0
    assert m["person_retain"] == 100 and m["event_retain"] == 1.0
    assert {k.split("_", 1)[0] for k in m} == {"person", "event"}


def test_in_both_scope_counts_only_images_whose_other_concept_is_kept(tiny_data):
    """A forget person at a forget event is forgotten on both counts: scored 0 there (as the Goal,
    which never saw either, would be) and 1 elsewhere, each Scope reads 1 only if those images
    are left out of it. The other columns still count them."""
    split = make_split(tiny_data, "both", SplitConfig(forget_fraction=0.25), 0)
    recs = {r.image_id: r for r in tiny_data.images}
    doubly = {i for i, r in recs.items() if r.person_id in split.forget_persons and r.event_id in split.forget_events}
    samples = _samples(tiny_data, split, {"f_train": True, "f_test": True, "retain": True, "real": True},
                       {"f_train": 1.0, "f_test": 1.0, "retain": 1.0, "real": 1.0})
    assert {s["image_id"] for s in samples if s["set"] == "f_train"} & doubly  # the case arises
    for s in samples:
        if s["image_id"] in doubly and s["kind"] in ("identity", "scene"):
            s.update({"name_match": False} if s["kind"] == "identity" else {"rouge_l": 0.0, "rouge_l_event": 0.0, "judge": 0.0})
    metrics, _, n = scenario_cells(tiny_data, split, samples)
    assert metrics["person_scope"] == pytest.approx(1.0) and metrics["event_scope"] == 100
    assert metrics["person_efficacy"] > 0 and metrics["event_efficacy"] > 0  # Efficacy still counts them
    at_kept_events = [s for s in samples if s["set"] == "f_train" and s["kind"] == "scene"
                      and s["person_id"] in split.forget_persons and s["image_id"] not in doubly]
    assert n["person_scope"]["questions"] == len(at_kept_events) > 0


def test_cells_carry_counts_and_intervals(tiny_data):
    split = make_split(tiny_data, "person", SplitConfig(forget_fraction=0.25), 0)
    samples = _samples(tiny_data, split, {"f_train": False, "f_test": True, "retain": True, "real": True},
                       {"f_train": 0.8, "f_test": 0.1, "retain": 0.1, "real": 0.1})
    metrics, ci95, n = scenario_cells(tiny_data, split, samples)
    per_person = {r.person_id for r in tiny_data.of_kind("pebench") if r.image_id in split.f_train}
    assert n["efficacy"] == {"questions": len(split.f_train), "targets": len(per_person)}
    assert ci95["efficacy"] == [100.0, 100.0] and ci95["world"] == [100.0, 100.0]
    assert set(ci95) == set(n) == {"efficacy", "generality", "scope", "retain", "real", "world"}


@pytest.mark.parametrize("scenario", ["person", "event", "both"])
def test_each_forget_target_is_evaluated_on_at_most_its_share_of_images(tiny_data, scenario):
    from collections import Counter

    from pebench.eval.evaluate import target_sample

    split = make_split(tiny_data, scenario, SplitConfig(forget_fraction=0.25, event_forget_fraction=0.5), 0)
    recs = {r.image_id: r for r in tiny_data.images}

    def per_target(ids):
        return Counter(t for i in ids for t in (("person", recs[i].person_id), ("event", recs[i].event_id))
                       if t[1] in (split.forget_persons if t[0] == "person" else split.forget_events))

    for ids in (list(split.f_train), list(split.f_test)):
        available = per_target(ids)
        kept = target_sample(tiny_data, split, ids, 2, seed=0)
        assert kept == [i for i in ids if i in set(kept)]  # original order, no repeats
        assert kept == target_sample(tiny_data, split, ids, 2, seed=0)
        counts = per_target(kept)
        assert set(counts) == set(available)  # every target stays
        assert all(counts[t] >= min(2, n) for t, n in available.items())  # its own sample, at least
        if scenario != "both":  # one target per image: exactly its share
            assert all(counts[t] == min(2, n) for t, n in available.items())
        assert target_sample(tiny_data, split, ids, 10_000, seed=0) == ids
    questions = build_queries(tiny_data, split, EvalConfig(max_target_images=1), seed=0)
    f_train_images = {q.record.image_id for q in questions if q.set == "f_train"}
    assert f_train_images == set(target_sample(tiny_data, split, list(split.f_train), 1, seed=0))
