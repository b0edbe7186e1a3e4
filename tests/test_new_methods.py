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
    mask = saliency_mask(torch.tensor([2.0, 1.0, 0.0]), torch.tensor([1.0, 2.0, 0.0]), threshold=1.0)
    assert mask.tolist() == [1.0, 0.0, 1.0]
    assert in_modality("model.vision_tower.encoder.layers.0.mlp.fc2.weight", "vision")
    assert not in_modality("model.language_model.layers.0.mlp.down_proj.weight", "vision")
    assert in_modality("model.language_model.layers.0.mlp.down_proj.weight", "language")
    assert in_modality("model.multi_modal_projector.linear_1.weight", "both")


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
