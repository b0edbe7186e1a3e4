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
    forget = enc.examples(pebench_qas(tiny_data, forget_ids, ("identity",)), refusal=True)
    retain = enc.examples(pebench_qas(tiny_data, retain_ids, ("identity",)))
    return vlm, forget, retain


def _unlearn(setup, name, steps=5, lr=1e-3, **params):
    base, forget, retain = setup
    vlm = VLM(copy.deepcopy(base.model), base.processor)
    method = make_method(name, params)
    streams = {"forget": Stream([(forget, 8)], vlm.collate, "f"), "retain": Stream([(retain, 8)], vlm.collate, "r")}
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
