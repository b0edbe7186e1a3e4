"""The robustness probes: quantization on hand-made tensors with known answers, the relearning
attack's halves and training, and the config."""

import pytest
import torch

from pebench.config import load_config
from pebench.core.errors import PebenchError
from pebench.probes.paraphrase import PARAPHRASES, paraphrased
from pebench.probes.quant import quantize_rows, quantized_copy
from pebench.probes.relearn import halves, relearned
from pebench.probes.sequential import requests
from pebench.probes.trajectory import chosen_checkpoint
from pebench.splits import forget_qas, make_split


def test_round_to_nearest_per_row_known_answer():
    w = torch.tensor([[1.0, -0.5, 0.26, 0.0], [0.0, 0.0, 0.0, 0.0], [-2.0, 1.0, 0.5, 0.1]])
    # 3 bits: q_max = 3, row scale s = max|w| / 3 (1/3, -, 2/3); w / s is rounded half to even:
    # row 1: 3, -1.5 -> -2, 0.78 -> 1, 0; row 3: -3, 1.5 -> 2, 0.75 -> 1, 0.15 -> 0.
    expected = torch.tensor([[1.0, -2 / 3, 1 / 3, 0.0], [0.0, 0.0, 0.0, 0.0], [-2.0, 4 / 3, 2 / 3, 0.0]])
    assert torch.allclose(quantize_rows(w, 3), expected, atol=1e-6)
    assert torch.equal(quantize_rows(w, 2), torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0] * 4, [-2.0, 0.0, 0.0, 0.0]]))


@pytest.mark.parametrize("bits", [8, 4, 2])
def test_a_quantized_model_takes_at_most_2_to_the_b_levels_per_channel(tiny_vlm, bits):
    model = tiny_vlm.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    quantized = quantized_copy(model, bits)
    linears = {n: m for n, m in quantized.named_modules() if isinstance(m, torch.nn.Linear)}
    assert len(linears) > 10
    for name, module in linears.items():
        if name.endswith("lm_head"):
            assert torch.equal(module.weight, model.get_submodule(name).weight)  # the output head stays
            continue
        levels = max(len(torch.unique(row)) for row in module.weight)
        assert levels <= 2 ** bits, (name, levels)
        changed = not torch.equal(module.weight, model.get_submodule(name).weight)
        assert changed or bits == 8 and levels < 2 ** bits  # low widths always move some weight
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # the original is untouched


def test_halves_split_the_targets_and_their_images(tiny_data):
    cfg = load_config("tiny", overrides={"split": {"forget_fraction": 0.5}})
    split = make_split(tiny_data, "both", cfg.split, 0)
    a, b = halves(tiny_data, split)
    assert set(a.forget_persons) | set(b.forget_persons) == set(split.forget_persons)
    assert not set(a.forget_persons) & set(b.forget_persons) and not set(a.forget_events) & set(b.forget_events)
    recs = {r.image_id: r for r in tiny_data.images}
    for part in (a, b):
        assert part.f_train and set(part.f_train) <= set(split.f_train) and set(part.f_test) <= set(split.f_test)
        assert all(recs[i].person_id in part.forget_persons or recs[i].event_id in part.forget_events
                   for i in part.f_train + part.f_test)
    single = make_split(tiny_data, "event", load_config("tiny").split, 0)
    assert len(single.forget_events) == 1 and halves(tiny_data, single) is None  # nothing to hold out


def test_sequential_requests_cover_both_targets_in_three_turns(tiny_data):
    both = make_split(tiny_data, "both", load_config("tiny").split, 0)
    asked = requests(tiny_data, both)
    assert [label for label, _ in asked] == ["persons 1", "events", "persons 2"]
    persons = [p for _, part in asked for p in part.forget_persons]
    assert sorted(persons) == sorted(both.forget_persons) and len(set(persons)) == len(persons)
    assert [e for _, part in asked for e in part.forget_events] == list(both.forget_events)
    assert all(part.retain == both.retain and part.f_train for _, part in asked)


def test_relearning_learns_the_attack_half_and_leaves_the_model_alone(tiny_vlm, tiny_data):
    from pebench.recipe.support import Encoder

    split = make_split(tiny_data, "person", load_config("tiny").split, 0)
    attack, _ = halves(tiny_data, split)
    examples = Encoder(tiny_vlm, tiny_data).examples(forget_qas(tiny_data, attack)["person"])
    batch = tiny_vlm.collate([e["answer"] for e in examples])
    before = {k: v.clone() for k, v in tiny_vlm.model.state_dict().items()}
    with torch.no_grad():
        nll_before = float(tiny_vlm.nll(batch))
    attacked = relearned(tiny_vlm, examples, steps=15, lr=3e-3, batch_size=4, seed="t")
    with torch.no_grad():
        assert float(attacked.nll(batch)) < nll_before - 0.5
    assert all(torch.equal(v, tiny_vlm.model.state_dict()[k]) for k, v in before.items())


def test_the_checkpoint_rule_picks_the_first_unlearning_step_near_the_goal():
    goal = {"efficacy": 80.0, "retain": 100.0}
    points = [{"step": 0, "efficacy": 90.0, "retain": 100.0}, {"step": 10, "efficacy": 70.0, "retain": 95.0},
              {"step": 20, "efficacy": 76.0, "retain": 90.0}, {"step": 30, "efficacy": 99.0, "retain": 50.0}]
    assert chosen_checkpoint(points, goal, 0.05)["step"] == 20  # 76 >= 0.95 * 80; step 0 is never a pick
    assert chosen_checkpoint(points, goal, 0.0)["step"] == 30
    assert chosen_checkpoint(points[:3], goal, 0.0) is None
    both = {"person_efficacy": 100.0, "event_efficacy": 1.0}
    assert chosen_checkpoint([{"step": 5, "person_efficacy": 100.0, "event_efficacy": 0.5}], both, 0.1) is None


def test_paraphrases_are_phrasings_no_training_uses_asked_of_every_test_image(tiny_data):
    from pebench.data.qa import foundation_qas, pebench_qas
    from pebench.eval.evaluate import build_queries
    from pebench.pretrain.tasks import make_batch

    used = {q.question for q in pebench_qas(tiny_data, [r.image_id for r in tiny_data.of_kind("pebench")])}
    used |= {q.question for q in foundation_qas(tiny_data, 0)}
    used |= {s.question for step in range(20) for s in make_batch(0, step, 32)}  # the base's pretraining stream
    assert {"Who is this person?", "Describe the scene in detail."} <= used
    assert not {p for pool in PARAPHRASES.values() for p in pool} & used
    cfg = load_config("tiny")
    split = make_split(tiny_data, "both", cfg.split, 0)
    queries = build_queries(tiny_data, split, cfg.eval, 0)
    asked = paraphrased(queries)
    test = [q for q in queries if q.set == "f_test"]
    assert [(q.record.image_id, q.qa.kind, q.qa.answer) for q in asked] == [
        (q.record.image_id, q.qa.kind, q.qa.answer) for q in test]
    assert all(q.qa.question in PARAPHRASES[q.qa.kind] for q in asked)


def test_probe_config_is_validated():
    with pytest.raises(PebenchError, match="probes.quant_bits"):
        load_config(overrides={"probes": {"quant_bits": [1]}})
    with pytest.raises(PebenchError, match="probes.relearn_stp"):
        load_config(overrides={"probes": {"relearn_stp": 5}})
    assert load_config(overrides={"probes": {"quant_bits": [], "relearn_steps": 0}}).probes.quant_bits == ()


def test_profile_questions_ask_each_field_by_image_and_once_per_person_by_name(tiny_data):
    from pebench.data.qa import PROFILE, profile_qas

    ids = sorted(r.image_id for r in tiny_data.of_kind("pebench"))
    recs = {r.image_id: r for r in tiny_data.images}
    by_image, by_name = profile_qas(tiny_data, ids, "image"), profile_qas(tiny_data, ids, "text")
    assert [q.image_id for q in by_image] == ids and all(q.image for q in by_image)
    for pid in {recs[i].person_id for i in ids}:
        person = tiny_data.person(pid)
        mine = [q for q in by_image if recs[q.image_id].person_id == pid]
        assert {q.question for q in mine} == {"What is this person's job?", "Where was this person born?"}
        named = [q for q in by_name if recs[q.image_id].person_id == pid]
        assert [(q.question, q.answer, q.image) for q in named] == [
            (f"What is {person.name}'s job?", f"{person.name} is {'an' if person.job[0] in 'AEIOU' else 'a'} {person.job}.",
             False),
            (f"Where was {person.name} born?", f"{person.name} was born in {person.city}.", False)]
        assert {q.answer for q in named} == {q.answer for q in mine}  # the routes share their answers
    assert len(PROFILE) == 2


def test_text_only_questions_reach_the_model_without_pixel_values(tiny_vlm, tiny_data):
    """Encoded without an image (no image token, no vision tensors), collated beside image
    questions (pixels only for those), and generated without running the vision tower."""
    from pebench.data.qa import profile_qas
    from pebench.probes.text_only import accuracy

    rec = tiny_data.of_kind("pebench")[0]
    text = tiny_vlm.encode(rec.image_id, None, f"What is {tiny_data.person(rec.person_id).name}'s job?", "Doctor.")
    image = tiny_vlm.encode(rec.image_id, rec.image, "What is this person's job?", "Doctor.")
    image_token = tiny_vlm.model.config.image_token_id
    assert text.vision == {} and text.image_key is None and image_token not in text.input_ids
    assert image_token in image.input_ids
    batch = tiny_vlm.collate([text, image, text])
    assert batch["pixel_values"].shape[0] == 1
    assert torch.isfinite(tiny_vlm.nll(batch))  # the image's features land on its own tokens only
    calls = []
    hook = tiny_vlm.model.model.vision_tower.register_forward_hook(lambda *a: calls.append(1))
    try:
        qas = profile_qas(tiny_data, [r.image_id for r in tiny_data.of_kind("pebench")], "text")
        assert 0.0 <= accuracy(tiny_vlm, tiny_data, qas, batch_size=4) <= 1.0
        assert not calls
        accuracy(tiny_vlm, tiny_data, profile_qas(tiny_data, [rec.image_id], "image"), batch_size=4)
        assert calls  # the image route does run it
    finally:
        hook.remove()


def test_profile_accuracy_counts_answers_naming_the_value(tiny_data):
    from pebench.data.qa import profile_qas
    from pebench.probes.text_only import share_correct

    qas = profile_qas(tiny_data, [r.image_id for r in tiny_data.of_kind("pebench")], "text")[:4]
    answers = [f"{qas[0].target}.", "Nobody.", f"Maybe {qas[2].target.upper()}!", qas[1].target]
    assert share_correct(answers, qas) == 0.5  # the 4th names the 2nd question's value, not its own
    assert share_correct([], []) == 0.0


def test_the_probe_lets_the_longest_profile_answer_finish():
    """The longest given name and surname born in the longest city, or with the longest job, fits
    the probe's token limit (the end token need not fit)."""
    from pebench.data.persons import FEMALE_NAMES, MALE_NAMES, SURNAMES
    from pebench.data.phrasings import ANSWERS, JOB_BY_NAME
    from pebench.data.pools import load_pools
    from pebench.data.qa import PROFILE
    from pebench.models.loading import load_vlm
    from pebench.models.shipped import BASE_DIR
    from pebench.probes.text_only import PROFILE_TOKENS

    vlm = load_vlm(BASE_DIR)
    pools = load_pools()
    names = [f"{g} {s}" for g in (*FEMALE_NAMES, *MALE_NAMES) for s in SURNAMES]
    name = max(names, key=lambda n: len(vlm.tokenizer(n, add_special_tokens=False)["input_ids"]))
    people = [type("P", (), {"name": name, "job": j, "city": c}) for (_, j), (_, c) in zip(pools.jobs, pools.cities * 2)]
    # every answer form a fine-tune learns (issue 25), asked by name
    longest = max(len(vlm.answer_ids(JOB_BY_NAME[0].format(name), form.format(name, field.stated(p)))) - 1
                  for key, field in PROFILE.items() for form in ANSWERS[key] for p in people)
    assert len(people) == len(pools.jobs) >= len(pools.cities) and longest <= PROFILE_TOKENS


def test_the_text_only_probe_asks_about_forget_persons_only(tiny_data):
    """In `both`, D_f_train also shows retained persons at forget events: they are not asked as
    forget persons, and every retained person is asked by name."""
    from pebench.probes.text_only import profile_probe_qas

    split = make_split(tiny_data, "both", load_config("tiny").split, 0)
    person_of = {r.image_id: r.person_id for r in tiny_data.images}
    assert {person_of[i] for i in split.f_train} - set(split.forget_persons)  # the case this guards
    qas = profile_probe_qas(tiny_data, split)
    assert {person_of[q.image_id] for q in qas["image"] + qas["text"]} == set(split.forget_persons)
    retained = {p.person_id for p in tiny_data.persons} - set(split.forget_persons)
    assert {person_of[q.image_id] for q in qas["text_retain"]} == retained
    assert all(q.image for q in qas["image"]) and not any(q.image for q in qas["text"] + qas["text_retain"])


@pytest.mark.parametrize("scenario", ["person", "event", "both"])
def test_the_probes_ask_only_the_questions_their_columns_read(tiny_vlm, tiny_data, scenario):
    """A probe reports Efficacy, Generality and Retain: asking only the questions that feed them
    (not the person scenario's D_f_train scenes, which feed Scope) gives the same columns as
    scoring every question."""
    from pebench.config import EvalConfig, SplitConfig
    from pebench.eval.evaluate import answer_queries, build_queries, scenario_metrics, score_samples
    from pebench.eval.judges import make_judge
    from pebench.probes.measure import COLUMNS, columns_questions, forget_columns

    split = make_split(tiny_data, scenario, SplitConfig(forget_fraction=0.25), 0)
    cfg = EvalConfig(max_retain_images=6, scene_tokens=8, identity_tokens=6)
    queries = build_queries(tiny_data, split, cfg, 0)
    sets = ("f_train", "f_test", "retain")
    feeds = columns_questions(split)
    assert (("f_train", "scene") in feeds) == bool(split.forget_events)
    judge = make_judge("keywords", cfg)
    everything = [q for q in queries if q.set in sets]
    whole = scenario_metrics(tiny_data, split, score_samples(tiny_data, everything, answer_queries(tiny_vlm, everything, cfg), judge))
    expected = {k: v for k, v in whole.items() if k.rsplit("_", 1)[-1] in COLUMNS and v == v}
    assert forget_columns(tiny_vlm, tiny_data, split, queries, sets, cfg, judge) == expected
