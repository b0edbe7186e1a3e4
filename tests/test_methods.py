"""Each method: a finite loss, and a few steps move the model the way the method intends."""

import copy
import math

import pytest
import torch
from cli_here import user_methods_forgotten

from pebench.core.errors import PebenchError
from pebench.data.qa import REFUSALS, pebench_qas
from pebench.methods import METHODS, make_method
from pebench.methods.finetune import Finetune
from pebench.methods.modality import in_modality
from pebench.models import VLM
from pebench.recipe.pipeline import Encoder
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
    forget = enc.examples(pebench_qas(tiny_data, forget_ids, ("identity",)), refusal=True,
                          extra=make_method("SIU").extra_views)
    retain = enc.examples(pebench_qas(tiny_data, retain_ids, ("identity",)))
    return vlm, forget, retain


def _unlearn(setup, name, steps=5, lr=1e-3, **params):
    """Unlearn `name` from the setup's model as the recipe does: `prepare` on streams of its own,
    then the steps (with `on_gradients` after each backward pass) unless it takes none."""
    base, forget, retain = setup
    vlm = VLM(copy.deepcopy(base.model), base.processor)
    method = make_method(name, params)
    forget_stream = "forget_person" if method.balance_concepts else "forget"

    def streams(prefix):
        return {forget_stream: Stream([(forget, 8)], vlm.collate, prefix + "f"), "retain": Stream([(retain, 8)], vlm.collate, prefix + "r")}

    own = streams("prepare:")
    method.prepare(vlm, lambda: {n: next(s) for n, s in own.items()}, base)
    losses = []
    if method.trains:
        hook = (lambda b: method.on_gradients(vlm, b, base)) if method.edits_gradients() else None
        train(vlm.model, lambda b: method.loss(vlm, b, base), streams(""), steps=steps, lr=lr,
              on_step=lambda s, logs: losses.append(logs["loss"]), after_backward=hook)
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


class _FixedNLL:
    """Hand-made per-concept NLLs: `nll(batch)` returns the batch's own tensor."""

    def nll(self, batch):
        return batch["value"]


def test_dual_masked_kl_masks_each_row_by_its_own_concept():
    from pebench.methods.siu import masked_kl

    # Vocabulary of 4 tokens. Row 0's true answer uses tokens {1, 3}, its new answer targets [2, 3];
    # so row 0 forgets token 1 (vocabulary mask) and position 0 (target 2, new-only) is left out.
    # Row 1's true answer uses {2}; its new answer targets [2, 0]: it forgets nothing and leaves out
    # position 1 (target 0, new-only). A batch-wide union would also have masked token 1 in row 1.
    ref = torch.log(torch.tensor([[[0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25]],
                                  [[0.4, 0.3, 0.2, 0.1], [0.7, 0.1, 0.1, 0.1]]]))
    model = torch.zeros(2, 2, 4)  # uniform
    mask = torch.ones(2, 2, dtype=torch.bool)
    targets = torch.tensor([[2, 3], [2, 0]])
    true_labels = torch.tensor([[-100, 1, 3], [-100, 2, -100]])
    got = masked_kl(ref, model, mask, targets, true_labels)
    # kept: row 0 position 1 (token 1 removed: ref (0.25, 0.25, 0.25)/0.75, model uniform over 3) -> KL 0;
    # row 1 position 0 (nothing removed): KL((.4,.3,.2,.1) ‖ uniform).
    p = torch.tensor([0.4, 0.3, 0.2, 0.1])
    expected = float((p * (p / 0.25).log()).sum()) / 2
    assert float(got) == pytest.approx(expected, rel=1e-5)


def test_bgd_moves_each_concept_by_the_same_relative_amount():
    from pebench.methods.bgd import balanced_forget_nll

    a, b = torch.tensor(1.0, requires_grad=True), torch.tensor(1.0, requires_grad=True)

    def batches():
        return {"forget_person": {"answer": {"value": 4 * a}}, "forget_event": {"answer": {"value": 0.5 * b}}}

    loss, logs = balanced_forget_nll(_FixedNLL(), batches(), {"person": 1.0, "event": 1.0})
    loss.backward()
    # value m = (4 + 0.5) / 2 = 2.25; d/da = m · ½ · (4 / 4) = 1.125 = d/db = m · ½ · (0.5 / 0.5). Averaging
    # the raw NLLs would give 2 and 0.25: the long-answer (or faster-rising) concept would own the update.
    assert float(loss.detach()) == pytest.approx(2.25)
    assert float(a.grad) == pytest.approx(1.125) and float(b.grad) == pytest.approx(1.125)
    assert logs == {"forget_nll_person": 4.0, "forget_nll_event": 0.5}
    a.grad = b.grad = None
    weighted, _ = balanced_forget_nll(_FixedNLL(), batches(), {"person": 3.0, "event": 1.0})
    weighted.backward()
    assert float(weighted.detach()) == pytest.approx(2.25)
    assert float(a.grad) == pytest.approx(2.25 * 3 / 4) and float(b.grad) == pytest.approx(2.25 / 4)
    assert make_method("GD+BGD").balance_concepts and make_method("KL+BGD").needs_reference


def test_bgd_raises_both_concepts_losses_in_the_both_scenario(setup, tiny_data):
    """Both the person and the event forget losses must rise (event Efficacy once stayed at 0)."""
    from pebench.config import SplitConfig
    from pebench.splits import forget_qas, make_split

    base, _, retain = setup
    enc = Encoder(base, tiny_data)
    split = make_split(tiny_data, "both", SplitConfig(forget_fraction=0.25), 0)
    groups = {c: enc.examples(q) for c, q in forget_qas(tiny_data, split).items()}
    before = {c: _mean_nll(base, ex) for c, ex in groups.items()}
    vlm = VLM(copy.deepcopy(base.model), base.processor)
    method = make_method("GD+BGD")
    streams = {f"forget_{c}": Stream([(ex, 4)], vlm.collate, f"f{c}") for c, ex in groups.items()}
    streams["retain"] = Stream([(retain, 8)], vlm.collate, "r")
    train(vlm.model, lambda b: method.loss(vlm, b, base), streams, steps=6, lr=1e-3)
    after = {c: _mean_nll(vlm, ex) for c, ex in groups.items()}
    assert set(groups) == {"person", "event"}
    assert all(after[c] > before[c] * 1.2 for c in groups), (before, after)


def test_readme_user_method_example_registers_and_trains(setup, tmp_path):
    """The worked example of the methods page, loaded the way `--method-file` loads it."""
    import re
    from pathlib import Path

    from pebench.methods import load_method_file

    readme = (Path(__file__).parents[1] / "docs" / "methods.md").read_text()
    code = re.search(r"```python\n(# my_method.py\n.*?)```", readme, re.S).group(1)
    (tmp_path / "my_method.py").write_text(code)
    with user_methods_forgotten():  # GA+RT is not left registered for the tests after this one
        load_method_file(tmp_path / "my_method.py")
        assert "GA+RT" in METHODS
        base, forget, _ = setup
        vlm, losses = _unlearn(setup, "GA+RT", steps=3)
        assert all(torch.isfinite(torch.tensor(losses)))
        assert _mean_nll(vlm, forget) > _mean_nll(base, forget)
        with pytest.raises(PebenchError, match="failed to import"):
            (tmp_path / "broken.py").write_text("import no_such_module_xyz\n")
            load_method_file(tmp_path / "broken.py")


def test_rmu_direction_follows_the_split_seed():
    from pebench.recipe.training import seeded_params

    assert seeded_params("RMU", {}, 3) == {"seed": 3} and seeded_params("RMU", {"seed": 9}, 3) == {"seed": 9}
    assert seeded_params("GA", {"lr": 1}, 3) == {"lr": 1}
    directions = [make_method("RMU", seeded_params("RMU", {}, s)).direction(16) for s in (0, 1)]
    assert not torch.allclose(*directions)


def test_siu_keeps_the_forget_persons_facts_asked_by_name(setup, tiny_data):
    """Target (3): the profile by name (no image) is trained to stay while the image's concept is
    replaced; the facts' NLL falls where SIU without them leaves it."""
    from pebench.data.qa import profile_qas

    base, forget, retain = setup
    facts_qas = profile_qas(tiny_data, [r.image_id for r in tiny_data.of_kind("pebench") if r.person_id == 0], "text")
    facts = Encoder(base, tiny_data).examples(facts_qas)
    assert make_method("SIU").keeps_facts and all(not e["answer"].vision for e in facts)
    runs = {}
    for with_facts in (True, False):
        vlm = VLM(copy.deepcopy(base.model), base.processor)
        method = make_method("SIU")
        streams = {"forget": Stream([(forget, 8)], vlm.collate, "f"), "retain": Stream([(retain, 8)], vlm.collate, "r")}
        if with_facts:
            streams["facts"] = Stream([(facts, 4)], vlm.collate, "k")
        logs = []
        train(vlm.model, lambda b: method.loss(vlm, b, base), streams, steps=8, lr=1e-3,
              on_step=lambda s, log: logs.append(log))
        runs[with_facts] = (_mean_nll(vlm, facts), logs)
    assert runs[True][0] < runs[False][0] - 0.5
    assert runs[True][1][0]["facts_nll"] > 0 and runs[False][1][0]["facts_nll"] == 0


# ---- the 2025 baselines (issue 29) ------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", ["WGA", "SatImp", "CE-U", "GRU", "MMUnlearner"])
def test_ascent_like_methods_raise_the_forget_nll(setup, name):
    base, forget, _ = setup
    vlm, losses = _unlearn(setup, name, steps=8, lr=3e-3)
    assert all(math.isfinite(v) for v in losses)
    assert _mean_nll(vlm, forget) > _mean_nll(base, forget) + 0.1


@pytest.mark.slow
def test_undial_moves_away_from_the_true_answer_with_a_bounded_loss(setup):
    base, forget, _ = setup
    vlm, losses = _unlearn(setup, "UNDIAL", steps=8, lr=3e-3)
    assert max(losses) < 50 and _mean_nll(vlm, forget) > _mean_nll(base, forget)


@pytest.mark.slow
def test_pdu_multiplier_rises_while_the_retain_constraint_is_violated(setup):
    from pebench.methods import make_method

    method = make_method("PDU", {"epsilon": 0.0, "dual_step_size": 1.0, "multiplier": 1.0, "warmup_steps": 0})
    base, forget, retain = setup
    batches = {"forget": {"answer": base.collate([e["answer"] for e in forget[:4]])},
               "retain": {"answer": base.collate([e["answer"] for e in retain[:4]])}}
    method.loss(base, batches, None)
    assert method.multiplier > 1.0  # any retain NLL > 0 = ε violates the constraint


@pytest.mark.slow
def test_mmunlearner_moves_only_the_chosen_modality(setup):
    base, _, _ = setup
    vlm, _ = _unlearn(setup, "MMUnlearner", steps=3, lr=3e-3, modality="vision", retain_weight=0.0)
    moved = {n for (n, p), q in zip(vlm.model.named_parameters(), base.model.parameters()) if not torch.equal(p, q)}
    assert moved and all(in_modality(n, "vision") for n in moved)  # forget-only: the mask decides
    vlm, _ = _unlearn(setup, "MMUnlearner", steps=3, lr=3e-3, modality="vision")
    moved = {n for (n, p), q in zip(vlm.model.named_parameters(), base.model.parameters()) if not torch.equal(p, q)}
    assert any(not in_modality(n, "vision") for n in moved)  # the retain step is not masked
    frozen = VLM(copy.deepcopy(base.model), base.processor)
    for name, p in frozen.model.named_parameters():
        p.requires_grad_(not in_modality(name, "vision"))
    from pebench.core.errors import PebenchError

    with pytest.raises(PebenchError, match="no trainable parameter belongs to modality 'vision'"):
        make_method("MMUnlearner", {"modality": "vision"}).prepare(frozen, lambda: {}, base)


@pytest.mark.slow
def test_manu_prunes_the_chosen_share_of_each_modalitys_neurons_and_trains_nothing(setup):
    base, _, _ = setup
    vlm, losses = _unlearn(setup, "MANU", fraction=0.1, layers=0)  # every block
    assert losses == [] and not METHODS.get("MANU").trains
    changed = [(n, p, q) for (n, p), q in zip(vlm.model.named_parameters(), base.model.parameters()) if not torch.equal(p, q)]
    assert changed and all(n.endswith(("down_proj.weight", "fc2.weight")) for n, _, _ in changed)
    zero_columns = sum(int(((p == 0).all(0) & ~(q == 0).all(0)).sum()) for _, p, q in changed)
    neurons = {m: sum(p.shape[1] for n, p in base.model.named_parameters()
                      if n.endswith(("down_proj.weight", "fc2.weight")) and in_modality(n, m)) for m in ("vision", "language")}
    assert zero_columns == sum(max(1, round(0.1 * n)) for n in neurons.values() if n)
    from pebench.methods.manu import layer_index

    last, _ = _unlearn(setup, "MANU", fraction=0.1, layers=1)  # the last block of each modality only
    moved = [n for (n, p), q in zip(last.model.named_parameters(), base.model.parameters()) if not torch.equal(p, q)]
    for modality in ("vision", "language"):
        blocks = [layer_index(n) for n, _ in base.model.named_parameters() if n.endswith(("down_proj.weight", "fc2.weight"))
                  and in_modality(n, modality)]
        assert {layer_index(n) for n in moved if in_modality(n, modality)} <= {max(blocks)}
