"""Each method: a finite loss, and a few steps move the model the way the method intends."""

import copy

import pytest
import torch

from pebench.data.qa import REFUSALS, pebench_qas
from pebench.errors import PebenchError
from pebench.methods import METHODS, make_method
from pebench.methods.finetune import Finetune
from pebench.models import VLM
from pebench.pipeline import Encoder
from pebench.train import Stream, train


@pytest.fixture(scope="module")
def setup(tiny_cfg, tiny_data, corpus):
    """A tiny model fine-tuned briefly on all identity QA, plus forget/retain examples."""
    from pebench.models import build_model

    vlm = build_model(tiny_cfg.model, corpus, seed=0)
    enc = Encoder(vlm, tiny_data)
    ids = sorted(r.image_id for r in tiny_data.of_kind("pebench"))
    forget_ids = [i for i in ids if i.startswith("p0000-")]
    retain_ids = [i for i in ids if not i.startswith("p0000-")]
    all_ex = enc.examples(pebench_qas(tiny_data, ids, ("identity",)))
    train(vlm.model, lambda b: Finetune().loss(vlm, b, None), {"train": Stream([(all_ex, 16)], vlm.collate, "ft")},
          steps=40, lr=3e-3, warmup=5)
    from pebench.methods.siu import unseen_answer

    forget = enc.examples(pebench_qas(tiny_data, forget_ids, ("identity",)), refusal=True,
                          extra=lambda qa: {"alias": unseen_answer(qa)})
    retain = enc.examples(pebench_qas(tiny_data, retain_ids, ("identity",)))
    return vlm, forget, retain


def _unlearn(setup, name, steps=5, lr=1e-3, **params):
    base, forget, retain = setup
    vlm = VLM(copy.deepcopy(base.model), base.processor)
    method = make_method(name, params)
    forget_stream = "forget_person" if method.balance_concepts else "forget"
    streams = {forget_stream: Stream([(forget, 8)], vlm.collate, "f"), "retain": Stream([(retain, 8)], vlm.collate, "r")}
    losses = []
    train(vlm.model, lambda b: method.loss(vlm, b, base), streams, steps=steps, lr=lr,
          on_step=lambda s, logs: losses.append(logs["loss"]))
    return vlm, losses


def _mean_nll(vlm, examples, view="answer"):
    with torch.no_grad():
        return float(vlm.nll(vlm.collate([e[view] for e in examples])))


@pytest.mark.parametrize("name", sorted(METHODS.names()))
def test_every_method_gives_a_finite_loss(setup, name):
    _, losses = _unlearn(setup, name, steps=2)
    assert all(torch.isfinite(torch.tensor(losses)))


def test_ga_raises_forget_nll(setup):
    base, forget, _ = setup
    vlm, _ = _unlearn(setup, "GA")
    assert _mean_nll(vlm, forget) > _mean_nll(base, forget) + 0.5


def test_gd_raises_forget_nll_more_than_retain_nll(setup):
    base, forget, retain = setup
    vlm, _ = _unlearn(setup, "GD")
    d_forget = _mean_nll(vlm, forget) - _mean_nll(base, forget)
    d_retain = _mean_nll(vlm, retain) - _mean_nll(base, retain)
    assert d_forget > 0.5 and d_forget > d_retain


def test_kl_term_is_zero_at_the_start_and_positive_after(setup):
    from pebench.methods.base import kl_to_reference

    base, _, retain = setup
    batch = base.collate([e["answer"] for e in retain[:8]])
    with torch.no_grad():
        assert float(kl_to_reference(base, base, batch)) == pytest.approx(0.0, abs=1e-6)
    vlm, _ = _unlearn(setup, "KL")
    with torch.no_grad():
        assert float(kl_to_reference(vlm, base, batch)) > 0


def test_po_raises_refusal_probability(setup):
    base, forget, _ = setup
    vlm, _ = _unlearn(setup, "PO")
    assert _mean_nll(vlm, forget, "refusal") < _mean_nll(base, forget, "refusal") - 0.5


def test_dpo_prefers_refusal_over_answer(setup):
    base, forget, _ = setup
    vlm, _ = _unlearn(setup, "DPO", steps=8)

    def margin(m):
        with torch.no_grad():
            return float((m.sequence_logprob(m.collate([e["refusal"] for e in forget]))
                          - m.sequence_logprob(m.collate([e["answer"] for e in forget]))).mean())

    assert margin(vlm) > margin(base)


def test_npo_lowers_answer_likelihood_relative_to_reference(setup):
    base, forget, _ = setup
    vlm, _ = _unlearn(setup, "NPO", steps=8)
    assert _mean_nll(vlm, forget) > _mean_nll(base, forget)


def test_unknown_hyperparameter_is_rejected():
    with pytest.raises(PebenchError, match="unknown hyperparameter"):
        make_method("GD", {"retain_wieght": 2})
    with pytest.raises(PebenchError, match="unknown method"):
        make_method("XYZ")


def test_refusals_exist_for_each_question_kind():
    assert set(REFUSALS) == {"identity", "scene"}


def test_simnpo_lowers_answer_likelihood_without_a_reference(setup):
    base, forget, _ = setup
    assert not make_method("SimNPO").needs_reference
    vlm, _ = _unlearn(setup, "SimNPO", steps=8)
    assert _mean_nll(vlm, forget) > _mean_nll(base, forget) + 0.2


def test_rmu_steers_forget_activations_and_keeps_retain(setup, tiny_data):
    """Forget one event (its backdrop makes its images separable even for a barely trained
    model): RMU turns that layer's activations toward u on them, much less on other events."""
    from pebench.methods.rmu import content_mask, layer_activations

    base, _, _ = setup
    enc = Encoder(base, tiny_data)
    recs = tiny_data.of_kind("pebench")
    forget = enc.examples(pebench_qas(tiny_data, [r.image_id for r in recs if r.event_id == 0], ("scene",)))
    retain = enc.examples(pebench_qas(tiny_data, [r.image_id for r in recs if r.event_id != 0], ("scene",)))
    vlm = VLM(copy.deepcopy(base.model), base.processor)
    method = make_method("RMU")
    streams = {"forget": Stream([(forget, 8)], vlm.collate, "f"), "retain": Stream([(retain, 8)], vlm.collate, "r")}
    train(vlm.model, lambda b: method.loss(vlm, b, base), streams, steps=25, lr=1e-3)
    fb = base.collate([e["answer"] for e in forget[:8]])
    rb = base.collate([e["answer"] for e in retain[:8]])
    u = method.direction(base.model.config.text_config.hidden_size)
    fm, rm = content_mask(base, fb).squeeze(-1).bool(), content_mask(base, rb).squeeze(-1).bool()
    with torch.no_grad():
        before_f, before_r = layer_activations(base, fb, 1), layer_activations(base, rb, 1)
        after_f, after_r = layer_activations(vlm, fb, 1), layer_activations(vlm, rb, 1)
    cos = lambda h, m: torch.nn.functional.cosine_similarity(h, u.expand_as(h), dim=-1)[m].mean()  # noqa: E731
    toward_forget = cos(after_f, fm) - cos(before_f, fm)
    toward_retain = cos(after_r, rm) - cos(before_r, rm)
    print("RMU", float(toward_forget), float(toward_retain))
    assert toward_forget > 0.2
    assert toward_forget > 2 * toward_retain


def test_siu_dual_masked_kl_is_zero_at_start_and_aliases_are_learned(setup):
    from pebench.methods.siu import dual_masked_kl

    base, forget, _ = setup
    alias = base.collate([e["alias"] for e in forget[:4]])
    answer = base.collate([e["answer"] for e in forget[:4]])
    with torch.no_grad():
        assert float(dual_masked_kl(base, base, alias, answer)) == pytest.approx(0.0, abs=1e-6)
    assert make_method("SIU").single_image
    vlm, _ = _unlearn(setup, "SIU", steps=8)
    assert _mean_nll(vlm, forget, "alias") < _mean_nll(base, forget, "alias") - 0.5


def test_bgd_weights_concepts_equally_whatever_their_lengths(setup):
    from pebench.methods.bgd import balanced_forget_nll

    base, forget, retain = setup
    person = base.collate([e["answer"] for e in forget[:4]])
    event = base.collate([e["answer"] for e in retain[:4]])
    batches = {"forget_person": {"answer": person}, "forget_event": {"answer": event}}
    with torch.no_grad():
        loss, logs = balanced_forget_nll(base, batches, {"person": 1.0, "event": 1.0})
        assert float(loss) == pytest.approx((float(base.nll(person)) + float(base.nll(event))) / 2, rel=1e-5)
        weighted, _ = balanced_forget_nll(base, batches, {"person": 3.0, "event": 1.0})
        assert float(weighted) == pytest.approx((3 * float(base.nll(person)) + float(base.nll(event))) / 4, rel=1e-5)
    assert set(logs) == {"forget_nll_person", "forget_nll_event"}
    assert make_method("GD+BGD").balance_concepts and make_method("KL+BGD").needs_reference


def test_readme_user_method_example_registers_and_trains(setup, tmp_path):
    """The worked example in the README, loaded the way `--method-file` loads it."""
    import re
    from pathlib import Path

    from pebench.methods import load_method_file

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    code = re.search(r"```python\n(# my_method.py\n.*?)```", readme, re.S).group(1)
    (tmp_path / "my_method.py").write_text(code)
    load_method_file(tmp_path / "my_method.py")
    assert "GA+RT" in METHODS
    base, forget, _ = setup
    vlm, losses = _unlearn(setup, "GA+RT", steps=3)
    assert all(torch.isfinite(torch.tensor(losses)))
    assert _mean_nll(vlm, forget) > _mean_nll(base, forget)
    with pytest.raises(PebenchError, match="failed to import"):
        (tmp_path / "broken.py").write_text("import no_such_module_xyz\n")
        load_method_file(tmp_path / "broken.py")
