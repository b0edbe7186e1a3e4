import pytest

from pebench.core.errors import PebenchError
from pebench.data.events import all_events
from pebench.eval.judges import make_judge
from pebench.eval.text import names_person, normalise, pope_scores, rouge_l


def test_normalise_and_name_match():
    assert normalise("  Élodie  O'Hara!! ") == "elodie o hara"
    assert names_person("This is Aldric Ashgrove.", "Aldric Ashgrove")
    assert names_person("aldric   ashgrove, a pilot", "Aldric Ashgrove")
    assert not names_person("This is Aldric.", "Aldric Ashgrove")
    assert not names_person("This is Aldric Ashgroves.", "Aldric Ashgrove")


def test_rouge_l_known_values():
    assert rouge_l("the cat sat on the mat", "the cat sat on the mat") == 1.0
    assert rouge_l("", "anything") == 0.0
    assert rouge_l("dog", "cat") == 0.0
    # LCS("a b c d", "a c d e") = 3 -> P = R = 3/4
    assert rouge_l("a b c d", "a c d e") == pytest.approx(0.75)
    # LCS("police killed the gunman", "police kill the gunman") = 3; P=3/4, R=3/4
    assert rouge_l("police killed the gunman", "police kill the gunman") == pytest.approx(0.75)


def test_pope_scores():
    s = pope_scores(["Yes.", "No.", "yes", "no"], [True, True, False, False])
    assert s["accuracy"] == 50 and s["precision"] == 50 and s["recall"] == 50 and s["yes_ratio"] == 50
    assert pope_scores(["Yes"] * 4, [True] * 4)["f1"] == 100


def test_keyword_judge_separates_events():
    judge, events = make_judge("keywords"), all_events()
    for e in events:
        assert judge.score_one(e.description, e) == pytest.approx(1.0)
    others = [judge.score_one(a.description, b) for a in events for b in events if a is not b]
    assert sum(others) / len(others) < 0.1
    assert judge.score_one("I cannot describe this scene.", events[0]) == 0.0
    half = " ".join(events[5].description.split()[:10])
    assert 0.1 < judge.score_one(half, events[5]) < 1.0


def test_unknown_judge():
    with pytest.raises(PebenchError, match="unknown judge"):
        make_judge("gpt-9")
