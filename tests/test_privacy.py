"""Membership-inference AUC, KS and forget quality against scikit-learn / scipy; attack scores on a real model."""

import math
import random

import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import roc_auc_score

from pebench.data.qa import identity_qa
from pebench.eval.metrics import RowInputs, row_metrics
from pebench.eval.privacy import auc, forget_quality, ks_statistic, member_losses, membership_scores


@pytest.mark.parametrize("seed", range(6))
def test_auc_matches_sklearn_with_ties(seed):
    rng = random.Random(seed)
    members = [rng.choice([0.0, 0.5, 1.0, 1.5]) + rng.random() * (seed % 2) for _ in range(rng.randint(1, 30))]
    nonmembers = [rng.choice([0.0, 0.5, 1.0]) for _ in range(rng.randint(1, 30))]
    expected = roc_auc_score([1] * len(members) + [0] * len(nonmembers), members + nonmembers)
    assert auc(members, nonmembers) == pytest.approx(expected)


def test_auc_extremes_and_empty():
    assert auc([2, 3], [0, 1]) == 1.0 and auc([0, 1], [2, 3]) == 0.0 and auc([1, 1], [1]) == 0.5
    assert math.isnan(auc([], [1.0]))


@pytest.mark.parametrize("seed", range(5))
def test_ks_statistic_and_forget_quality_match_scipy(seed):
    rng = random.Random(seed)
    a = [rng.gauss(0, 1) for _ in range(rng.randint(5, 40))]
    b = [rng.gauss(seed * 0.3, 1) for _ in range(rng.randint(5, 40))]
    reference = ks_2samp(a, b)
    assert ks_statistic(a, b) == pytest.approx(reference.statistic)
    assert forget_quality(a, b) == pytest.approx(reference.pvalue)


def test_forget_quality_is_one_for_the_same_losses_and_small_for_shifted():
    losses = [0.1 * i for i in range(30)]
    assert forget_quality(losses, losses) == pytest.approx(1.0)
    assert forget_quality([x + 5 for x in losses], losses) < 1e-6


def test_attack_scores_on_a_real_model(tiny_vlm, tiny_data):
    recs = tiny_data.of_kind("pebench")[:6]
    qas = [identity_qa(tiny_data, r) for r in recs]
    items = [tiny_vlm.encode(r.image_id, r.image, q.question, q.answer) for r, q in zip(recs, qas)]
    scores = membership_scores(tiny_vlm, items, [q.answer for q in qas], k=1.0, batch_size=4)
    nll_full = [-tiny_vlm.sequence_logprob(tiny_vlm.collate([it])).item() for it in items]
    for s, item, full, q in zip(scores, items, nll_full, qas):
        n_tokens = sum(t != -100 for t in item.labels)
        assert s["nll"] == pytest.approx(full / n_tokens, rel=1e-4)
        assert s["loss"] == pytest.approx(-s["nll"])
        assert s["mink"] == pytest.approx(s["loss"], rel=1e-4)  # k = 100%: the mean of all token log-probs
        import zlib
        # Carlini et al.: log-perplexity (the *mean* NLL) over zlib entropy, not the total NLL
        assert s["zlib"] == pytest.approx(-(full / n_tokens) / len(zlib.compress(q.answer.encode())), rel=1e-4)
        assert math.isfinite(s["minkpp"])
    low_k = membership_scores(tiny_vlm, items, [q.answer for q in qas], k=0.2, batch_size=4)
    assert all(a["mink"] <= b["mink"] + 1e-6 for a, b in zip(low_k, scores))  # the least likely tokens


def test_min_k_plus_plus_standardises_each_token_by_the_models_own_distribution(tiny_vlm, tiny_data):
    """Min-K%++ (Zhang et al., 2024): (log p(x_t) - mu_t) / sigma_t, mu_t and sigma_t the mean and
    std of log p under the model's next-token distribution; k = 100% averages every answer token.
    Computed here from the whole-sequence log-probs, one item at a time, against batched scoring."""
    import torch

    recs = tiny_data.of_kind("pebench")[:5]
    qas = [identity_qa(tiny_data, r) for r in recs]
    items = [tiny_vlm.encode(r.image_id, r.image, q.question, q.answer) for r, q in zip(recs, qas)]
    batched = membership_scores(tiny_vlm, items, [q.answer for q in qas], k=1.0, batch_size=3)
    for item, got in zip(items, batched):
        with torch.no_grad():
            logps, mask, logits = tiny_vlm.token_logprobs(tiny_vlm.collate([item]))
        logp_all = torch.log_softmax(logits[mask], -1)
        mu = (logp_all.exp() * logp_all).sum(-1)
        sigma = ((logp_all.exp() * logp_all.square()).sum(-1) - mu.square()).sqrt()
        # a mean of standardised terms of both signs: float32 rounding of the padded batch shows in the
        # fourth decimal, where a wrong mu_t or sigma_t moves it by tenths
        assert got["minkpp"] == pytest.approx(float(((logps[mask] - mu) / sigma).mean()), abs=1e-4)


def _mia(set_name: str, person: int, nll: float) -> dict:
    return {"set": set_name, "kind": "identity", "person_id": person, "event_id": 0, "nll": nll, "loss": -nll,
            "zlib": -nll, "mink": -nll, "minkpp": -nll}


def test_privacy_row_metrics_from_records():
    samples = ([_mia("mia_member", p, 0.1) for p in range(3)] + [_mia("mia_nonmember", 10 + p, 2.0) for p in range(3)])
    out = row_metrics(RowInputs(samples, goal_member_nll=[2.0, 2.1, 1.9]))
    assert out["mia_loss_auc"] == 1.0 and out["mia_zlib_auc"] == 1.0
    assert out["forget_ks"] == 1.0 and out["forget_quality"] < 0.2
    assert out["mia_members"] == 3 and out["mia_nonmembers"] == 3
    assert "forget_quality" not in row_metrics(RowInputs(samples))


def test_membership_is_scored_over_identities_not_questions():
    # Member person 0 has ten near-duplicate questions, all very likely; member person 1 one unlikely
    # question; the non-members sit in between. Per question the attack looks strong (10 of 11 member
    # questions beat every non-member: AUC 10/11); per identity it is a coin flip (AUC 0.5).
    samples = ([_mia("mia_member", 0, 0.1)] * 10 + [_mia("mia_member", 1, 3.0)]
               + [_mia("mia_nonmember", 5, 1.0), _mia("mia_nonmember", 6, 1.0)])
    assert row_metrics(RowInputs(samples))["mia_loss_auc"] == 0.5
    assert auc([-0.1] * 10 + [-3.0], [-1.0, -1.0]) == pytest.approx(10 / 11)
    assert member_losses(samples) == pytest.approx([0.1, 3.0])
