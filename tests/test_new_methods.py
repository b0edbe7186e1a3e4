"""The 2025 baselines (issue 29): each loss or rule on hand-made tensors with a known answer (their
behaviour in a few steps on the tiny model is in test_methods.py)."""

import math

import pytest
import torch

from pebench.methods import METHODS
from pebench.methods.base import Method, whole_batch_mean
from pebench.methods.gru import rectify
from pebench.methods.manu import neuron_statistics, specificity, top_fraction
from pebench.methods.mmunlearner import saliency_mask
from pebench.methods.modality import in_modality
from pebench.methods.pdu import dual_step, flatness
from pebench.methods.token_weighted import (after_first_answer_tokens, ceu_targets, satimp_weight, soft_cross_entropy,
                                            undial_targets, wga_weight, weighted_ascent)

EVEN = torch.zeros(1, 2)  # two tokens, p = 0.5 each
TARGET = torch.tensor([0])


def test_whole_batch_mean_is_the_masked_mean_in_one_process():
    assert float(whole_batch_mean(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1, 0, 1]))) == 2.0
    assert float(whole_batch_mean(torch.tensor([1.0, 2.0, 3.0]))) == 2.0


def test_wga_weights_each_token_by_its_probability_to_the_beta():
    assert float(wga_weight(EVEN, TARGET, beta=2.0)) == pytest.approx(0.25)
    assert float(weighted_ascent(EVEN, TARGET, torch.tensor([0.25]))) == pytest.approx(-0.25 * math.log(2))


def test_satimp_weight_is_saturation_times_importance():
    assert float(satimp_weight(EVEN, TARGET, beta1=5.0, beta2=1.0)) == pytest.approx(0.5 ** 6)
    certain = torch.tensor([[30.0, 0.0]])
    assert float(satimp_weight(certain, TARGET, 1.0, 1.0)) == pytest.approx(0.0, abs=1e-9)  # nothing left to learn


def test_undial_lowers_the_true_tokens_logit_by_beta():
    targets = undial_targets(torch.zeros(1, 3), TARGET, beta=math.log(4))
    assert targets[0].tolist() == pytest.approx([1 / 9, 4 / 9, 4 / 9])


def test_ceu_targets_are_the_models_distribution_without_the_true_token():
    targets = ceu_targets(torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([2]))
    assert targets[0].tolist() == pytest.approx([1 / (1 + math.e), math.e / (1 + math.e), 0.0])


def test_soft_cross_entropy_against_its_own_distribution_is_the_entropy():
    q = torch.tensor([[0.5, 0.25, 0.25]])
    assert float(soft_cross_entropy(q.log(), q)) == pytest.approx(1.5 * math.log(2))


def test_ceu_skips_the_first_answer_tokens_of_each_row():
    rows = torch.tensor([0, 0, 0, 1, 1])
    assert after_first_answer_tokens(rows, 1).tolist() == [False, True, True, False, True]


def test_pdu_flatness_and_projected_dual_ascent():
    assert float(flatness(torch.tensor([[1.0, 3.0]]))) == pytest.approx(1.0)
    assert float(flatness(torch.ones(2, 5))) == 0.0
    assert dual_step(1.0, retain_loss=0.3, epsilon=0.1, step_size=2.0) == pytest.approx(1.4)
    assert dual_step(0.1, retain_loss=0.0, epsilon=0.5, step_size=1.0) == 0.0  # projected onto λ ≥ 0


def test_gru_removes_only_the_conflicting_component():
    retain = torch.tensor([0.0, 1.0])
    assert rectify(torch.tensor([1.0, -1.0]), retain).tolist() == [1.0, 0.0]
    assert rectify(torch.tensor([1.0, 2.0]), retain).tolist() == [1.0, 2.0]  # no conflict: unchanged
    assert float(torch.dot(rectify(torch.tensor([3.0, -2.0]), torch.tensor([1.0, 1.0])), torch.tensor([1.0, 1.0]))) >= -1e-6


def test_mmunlearner_saliency_and_modalities():
    mask = saliency_mask(torch.tensor([2.0, 1.0, 0.0, 0.0]), torch.tensor([1.0, 2.0, 0.0, 1.0]), threshold=1.0)
    assert mask.tolist() == [1.0, 0.0, 0.0, 0.0]  # 0/0 (no gradient on either set) is not salient
    assert in_modality("model.vision_tower.encoder.layers.0.mlp.fc2.weight", "vision")
    assert not in_modality("model.language_model.layers.0.mlp.down_proj.weight", "vision")
    assert in_modality("model.language_model.layers.0.mlp.down_proj.weight", "language")
    assert in_modality("model.multi_modal_projector.linear_1.weight", "both")


def test_mmunlearner_masks_the_forget_gradient_only():
    """Huo et al.'s loop: g = m ⊙ g_forget + g_retain (the retain step is not masked)."""
    from types import SimpleNamespace

    from pebench.methods import make_method

    layer = torch.nn.Linear(2, 1, bias=False)
    method = make_method("MMUnlearner")
    layer.weight.grad = torch.tensor([[3.0, 5.0]])  # the forget term's gradient, as backward left it
    method.masks = {"weight": torch.tensor([[1.0, 0.0]])}
    method._retain_grads = {"weight": torch.tensor([[0.5, 0.25]])}
    method.on_gradients(SimpleNamespace(model=layer), {}, None)
    assert layer.weight.grad.tolist() == [[3.5, 0.25]]
    assert method._retain_grads == {}  # used once


def test_mmunlearners_language_side_preserves_the_forget_persons_facts():
    """Huo et al.'s mask generation (data_process/MLLMU_gen_mask.py): the vision side's preserve
    set is D_r, the language side's D_r plus the text-only knowledge. A toy with one vision and
    one language weight: loss = v·w_vision + l·w_language, so each F is the squared coefficient.
    Forget (1, 1) gives F_f = (1, 1); D_r (2, 0) gives F_r = (4, 0): the vision weight is not
    salient (1/4 < 1), the language weight is (1/1e-15). Facts (0, 4) make the language side's
    preserve loss (D_r + facts)/2 = (1, 2): F = 4 > 1, so the language weight is no longer salient;
    the vision side's mask does not change. Without facts (an event split) it is D_r alone."""
    from types import SimpleNamespace

    from pebench.methods import make_method

    class Toy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.vision_tower, self.language_model = torch.nn.Linear(1, 1, bias=False), torch.nn.Linear(1, 1, bias=False)

    toy = Toy()
    model = SimpleNamespace(model=toy, nll=lambda b: b["v"] * toy.vision_tower.weight.sum() + b["l"] * toy.language_model.weight.sum())
    batches = {"forget": {"answer": {"v": 1.0, "l": 1.0}}, "retain": {"answer": {"v": 2.0, "l": 0.0}}}
    with_facts = {**batches, "facts": {"answer": {"v": 0.0, "l": 4.0}}}
    masks = {}
    for name, drawn in (("without", batches), ("with", with_facts)):
        method = make_method("MMUnlearner")
        method.prepare(model, lambda: drawn, None)
        masks[name] = {n: float(m) for n, m in method.masks.items()}
    assert masks["without"] == {"vision_tower.weight": 0.0, "language_model.weight": 1.0}
    assert masks["with"] == {"vision_tower.weight": 0.0, "language_model.weight": 0.0}
    assert make_method("MMUnlearner").keeps_facts and not METHODS.get("MMUnlearner").supports_lora


def test_undial_and_ceu_draw_no_retain_batch_at_retain_weight_zero():
    from pebench.methods import make_method

    for name in ("UNDIAL", "CE-U"):
        assert not make_method(name).uses_retain  # the authors' forget-only default: no D_r batch, no retain_nll logged
        assert make_method(name, {"retain_weight": 0.5}).uses_retain


def test_manu_statistics_specificity_and_selection():
    stats = neuron_statistics(torch.tensor([[1.0, -1.0], [3.0, 1.0]]))
    assert stats["absolute"].tolist() == [2.0, 1.0] and stats["frequency"].tolist() == [1.0, 0.5]
    assert stats["variance"].tolist() == [1.0, 1.0] and stats["rms"].tolist() == pytest.approx([math.sqrt(5), 1.0])
    retain = {k: torch.ones(2) for k in stats}
    forget = {k: torch.tensor([2.0, 1.0]) for k in stats}
    scores = specificity(forget, retain)
    assert scores[0] > scores[1]
    assert top_fraction(torch.tensor([0.1, 0.9, 0.5]), 0.34).tolist() == [1]
    assert top_fraction(torch.tensor([0.1, 0.9]), 0.0).numel() == 0


NEW = ("WGA", "SatImp", "UNDIAL", "CE-U", "PDU", "GRU", "MMUnlearner", "MANU")


def test_the_new_methods_are_registered_with_citations():
    for name in NEW:
        method = METHODS.get(name)
        doc = __import__(method.__module__, fromlist=["_"]).__doc__
        assert "arXiv" in doc and method.__doc__, name


def test_the_seams_default_to_nothing():
    assert not Method.edits_gradients() and Method.trains
    assert METHODS.get("GRU").edits_gradients() and METHODS.get("MMUnlearner").edits_gradients()


def test_pebench_list_names_every_method_with_its_source(capsys):
    from pebench.cli import list_parts

    list_parts()
    out = capsys.readouterr().out
    for name in (*NEW, "GA", "NPO", "GD+BGD"):
        assert f"  {name} " in out and METHODS.get(name).source in out, name
    assert all(METHODS.get(name).source for name in METHODS.names() if METHODS.get(name).__module__.startswith("pebench."))


def test_every_shared_method_module_is_in_the_training_key():
    """A method's row key holds its own file; any other module of `pebench.methods` (the helpers
    methods share) must be in the training component, or editing it would reuse stale rows."""
    from pathlib import Path

    import pebench.methods as package
    from pebench.core.fingerprint import COMPONENTS

    method_files = {Path(__import__(METHODS.get(n).__module__, fromlist=["_"]).__file__).name for n in METHODS.names()}
    shared = {f.stem for f in Path(package.__file__).parent.glob("*.py")} - {Path(f).stem for f in method_files} - {"__init__"}
    # overrides.py only merges settings, and the merged values are in the row key themselves
    assert {f"pebench.methods.{m}" for m in shared} - {"pebench.methods.overrides"} <= set(COMPONENTS["training"])


class _Scores:
    """A stand-in for a VLM's scoring calls that returns hand-set log-probabilities, so a loss's
    formula is checked on numbers with known answers (as torchtune's loss tests do)."""

    def __init__(self, sequence: dict[str, float], retain: float = 0.0, token_logps=None):
        self.sequence, self.retain, self.token_logps = sequence, retain, token_logps

    def sequence_logprob(self, batch):
        return torch.tensor([self.sequence[batch["which"]]])

    def nll(self, batch):
        return torch.tensor(self.retain)

    def token_logprobs(self, batch):
        logps = torch.tensor(self.token_logps)
        return logps, torch.ones_like(logps), None


def test_dpo_has_the_unlearning_2_over_beta_factor():
    """-(2/β)·log σ(β·m), m = (log π(refusal) − log π_ref(refusal)) − (log π(answer) − log π_ref(answer))."""
    from pebench.methods import make_method

    batches = {"forget": {"refusal": {"which": "refusal"}, "answer": {"which": "answer"}}, "retain": {"answer": {}}}
    model, ref = _Scores({"refusal": -1.0, "answer": -2.0}, retain=0.5), _Scores({"refusal": -2.0, "answer": -1.0})
    loss, logs = make_method("DPO", {"beta": 0.1}).loss(model, batches, ref)
    margin = (-1.0 + 2.0) - (-2.0 + 1.0)  # 2
    assert logs["dpo"] == pytest.approx(-(2 / 0.1) * math.log(1 / (1 + math.exp(-0.1 * margin))))
    assert float(loss) == pytest.approx(logs["dpo"] + 1.0 * 0.5)
    at_zero, _ = make_method("DPO", {"beta": 0.1, "retain_weight": 0.0}).loss(ref, batches, ref)
    assert float(at_zero) == pytest.approx(20 * math.log(2))  # (2/β)·log 2 at a zero margin


def test_simnpo_weighs_its_forget_term_as_the_authors_tofu_setting():
    """forget_weight · (2/β) · −log σ(−β·mean_t log π − γ), forget_weight 0.1375 by default."""
    from pebench.methods import make_method

    method = make_method("SimNPO")
    assert method.params["forget_weight"] == 0.1375 and method.params["beta"] == 2.5
    model = _Scores({}, retain=0.0, token_logps=[[-1.0, -3.0]])  # mean log-prob −2
    _, logs = method.loss(model, {"forget": {"answer": {}}, "retain": {"answer": {}}}, None)
    assert logs["simnpo"] == pytest.approx(0.1375 * (2 / 2.5) * -math.log(1 / (1 + math.exp(-2.5 * 2.0))))


def test_satimp_and_undial_defaults_are_the_authors():
    from pebench.methods import make_method

    assert make_method("SatImp").params.items() >= {"gamma": 1.0, "retain_weight": 0.1, "beta1": 5.0, "beta2": 1.0}.items()
    assert make_method("UNDIAL").params["beta"] == 5.0


def test_manu_prunes_the_last_blocks_and_weighs_frequency_as_the_release():
    from pebench.methods.manu import last_layers, layer_index

    names = [f"model.language_model.layers.{i}.mlp.down_proj" for i in range(5)] + ["model.other.fc2"]
    assert layer_index(names[3]) == 3 and layer_index("model.other.fc2") is None
    assert last_layers(names, 3) == names[2:]  # blocks 2-4, and a projection outside any block
    assert last_layers(names, 0) == names
    forget = {"absolute": torch.tensor([1.0, 1.0]), "frequency": torch.tensor([4.0, 1.0]),
              "variance": torch.tensor([1.0, 1.0]), "rms": torch.tensor([1.0, 1.0])}
    retain = {k: torch.ones(2) for k in forget}
    assert specificity(forget, retain, {"frequency": 0.0}).tolist() == pytest.approx([3.0, 3.0])
    assert specificity(forget, retain)[0] > specificity(forget, retain)[1]


def test_pdu_sets_epsilon_above_the_finetuned_retain_nll_and_holds_lambda_through_the_warm_up():
    """ε = NLL_Finetuned(D_r) + epsilon, measured in prepare; λ stays at its start for
    `warmup_steps` steps, then λ ← max(0, λ + η (NLL(r) − ε)); each step logs whether NLL(r) ≤ ε."""
    from pebench.methods import make_method

    class Model:
        def __init__(self, retain):
            self.retain = retain

        def nll(self, batch):
            return torch.tensor(self.retain)

        def answer_logits(self, batch):
            return torch.tensor([[1.0, 3.0]]), torch.tensor([1]), torch.tensor([[True]])

    method = make_method("PDU", {"epsilon": 0.05, "multiplier": 50.0, "warmup_steps": 1, "dual_step_size": 2.0})
    prepared = method.prepare(Model(0.3), lambda: {"retain": {"answer": {}}}, None)
    assert prepared["epsilon"] == pytest.approx(0.35) and prepared["finetuned_retain_nll"] == pytest.approx(0.3)
    batches = {"forget": {"answer": {}}, "retain": {"answer": {}}}
    loss, logs = method.loss(Model(0.5), batches, None)
    assert float(loss) == pytest.approx((3.0 - 2.0) ** 2 + 50.0 * (0.5 - 0.35))
    assert logs["constraint_held"] == 0.0 and method.multiplier == 50.0  # held through the warm-up step
    _, logs = method.loss(Model(0.5), batches, None)
    assert method.multiplier == pytest.approx(50.0 + 2.0 * (0.5 - 0.35))
    _, logs = method.loss(Model(0.2), batches, None)
    assert logs["constraint_held"] == 1.0
