"""Issue 25: the extraction probes (multiple choice, confirmation, hints, logit lens), the
over-refusal metric and the relearning attack on unrelated data."""

import torch

from pebench.config import load_config
from pebench.data import phrasings as say
from pebench.data.qa import IDENTITY_Q
from pebench.eval.evaluate import build_queries
from pebench.eval.metrics import METRICS, RowInputs, row_metrics
from pebench.eval.metrics.over_refusal import over_refusal
from pebench.probes.extraction import extraction_columns, lens_scores, options, targets
from pebench.splits import make_split


def _retain(answer: str, set_name: str = "retain") -> dict:
    return {"set": set_name, "kind": "identity", "answer": answer}


def test_over_refusal_is_the_share_of_retain_answers_that_refuse():
    samples = [_retain("I don't know who this person is."), _retain("This is Anna Berg."),
               _retain("Sorry, I can't tell."), _retain("This is Carl Dahl."),
               _retain("I cannot identify this person.", "f_train")]  # a forget answer does not count
    assert over_refusal(RowInputs(samples)) == 50.0
    assert METRICS.get("over_refusal").direction == "lower"
    assert row_metrics(RowInputs(samples))["over_refusal"] == 50.0  # no privacy needed: on every row
    assert "over_refusal" not in row_metrics(RowInputs([_retain("x", "f_train")]))  # no retain answers


def _split(tiny_data):
    return make_split(tiny_data, "person", load_config("tiny").split, 0)


def test_choice_options_hold_the_true_name_and_three_other_persons(tiny_data):
    split = _split(tiny_data)
    person = tiny_data.person(split.forget_persons[0])
    names = options(tiny_data, person, "img-1")
    assert len(set(names)) == 4 and person.name in names
    assert set(names) <= {p.name for p in tiny_data.persons}
    assert options(tiny_data, person, "img-1") == names  # seeded
    orders = {options(tiny_data, person, f"img-{i}").index(person.name) for i in range(20)}
    assert len(orders) >= 3  # the true name is not always in one place


def test_the_probes_ask_about_forget_persons_on_held_out_images_only(tiny_data):
    cfg = load_config("tiny")
    split = _split(tiny_data)
    asked = targets(build_queries(tiny_data, split, cfg.eval, 0), split.forget_persons)
    assert asked and {q.record.image_id for q in asked} == set(split.f_test)
    assert all(q.record.person_id in split.forget_persons for q in asked)


def test_the_lens_last_layer_is_the_models_own_likelihood(tiny_vlm, tiny_data):
    recs = tiny_data.of_kind("pebench")[:3]
    items = [tiny_vlm.encode(r.image_id, r.image, IDENTITY_Q, say.ANSWERS["identity"][0].format(name))
             for r in recs for name in ("Anna Berg", "Carl Dahl")]
    scores = lens_scores(tiny_vlm, items, 4)
    layers = tiny_vlm.model.config.text_config.num_hidden_layers
    assert scores.shape == (6, layers)
    own = torch.cat([tiny_vlm.sequence_logprob(tiny_vlm.collate(items[i : i + 4])) for i in range(0, 6, 4)])
    assert torch.allclose(scores[:, -1], own, atol=1e-4)
    assert not torch.allclose(scores[:, 0], own, atol=1e-2)  # an earlier layer reads otherwise


def test_extraction_columns_are_percentages_of_every_probe(tiny_vlm, tiny_data):
    cfg = load_config("tiny")
    split = _split(tiny_data)
    queries = build_queries(tiny_data, split, cfg.eval, 0)
    out = extraction_columns(tiny_vlm, tiny_data, queries, split.forget_persons, 16, 8)
    layers = tiny_vlm.model.config.text_config.num_hidden_layers
    assert set(out) == {"choice", "hint_initial", "hint_job", "confirm", *(f"lens_{i}" for i in range(1, layers + 1))}
    assert all(0 <= v <= 100 for v in out.values())
    assert extraction_columns(tiny_vlm, tiny_data, queries, (), 16, 8) == {}  # no forget persons: nothing asked
