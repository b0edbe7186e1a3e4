"""Privacy metrics beyond the paper: membership inference and forget quality.

Membership inference (MIA): each attack gives a per-sample score, higher meaning "more
likely trained on"; its AUC separates the forget set (members: D_f_train questions the
Finetuned model learnt) from held-out data no model ever saw (non-members). 0.5 means the
attack cannot tell them apart, which is what the Goal model shows and what a method that
truly forgot should show. Attacks, on the answer tokens:

* loss:   −mean NLL (Yeom et al., 2018);
* zlib:   −mean NLL / zlib-compressed length of the answer in bytes (Carlini et al., 2021: the
          ratio of log-perplexity to zlib entropy, as in the Min-K%++ code);
* mink:   mean log-prob of the k% least likely tokens (Min-K%, Shi et al., 2024);
* minkpp: the same over token log-probs standardised by the mean and std of the model's
          log-prob under its own next-token distribution (Min-K%++, Zhang et al., 2025).

Forget quality (TOFU, Maini et al., 2024): the p-value of a two-sample Kolmogorov-Smirnov
test between the per-sample forget-set losses of a model and those of the Goal model (never
trained on the forget set). High (near 1) means indistinguishable from the Goal.

The AUCs and forget quality themselves are registered metrics (`pebench.eval.metrics`).
Both are computed over *identities*, not questions: each forgotten person (or event) and each
held-out one contributes the mean of its questions' scores, so ten near-identical questions
about one person count once (questions about one identity are not independent samples).
"""

from __future__ import annotations

import math
import zlib
from typing import Sequence

import torch

from pebench.models.adapter import VLM, Encoded

MIA_ATTACKS = ("loss", "zlib", "mink", "minkpp")


def _min_k_mean(values: torch.Tensor, k: float) -> float:
    n = max(1, math.ceil(k * values.numel()))
    return float(values.sort().values[:n].mean())


@torch.inference_mode()
def membership_scores(vlm: VLM, items: Sequence[Encoded], answers: Sequence[str], k: float = 0.2,
                      batch_size: int = 16) -> list[dict[str, float]]:
    """Per-sample NLL and the score of every MIA attack for answer-labelled `items`."""
    was_training = vlm.model.training
    vlm.model.eval()
    out: list[dict[str, float]] = []
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        logits, targets, mask = vlm.answer_logits(vlm.collate(chunk))  # answer positions only, row-major
        logp_all = torch.log_softmax(logits, dim=-1)
        probs = logp_all.exp()
        mu = (probs * logp_all).sum(-1)
        sigma = ((probs * logp_all.square()).sum(-1) - mu.square()).clamp(min=1e-12).sqrt()
        logps = logp_all.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        standardised = (logps - mu) / sigma
        counts = mask.sum(-1).tolist()
        for token_lp, std, answer in zip(logps.split(counts), standardised.split(counts), answers[start : start + batch_size]):
            nll_sum = float(-token_lp.sum())
            out.append({"nll": nll_sum / max(1, token_lp.numel()),
                        "loss": -nll_sum / max(1, token_lp.numel()),
                        "zlib": -(nll_sum / max(1, token_lp.numel())) / len(zlib.compress(answer.encode("utf-8"))),
                        "mink": _min_k_mean(token_lp, k),
                        "minkpp": _min_k_mean(std, k)})
    vlm.model.train(was_training)
    return out


def auc(members: Sequence[float], nonmembers: Sequence[float]) -> float:
    """ROC AUC of scores where members are the positives: P(member > non-member) + ½ P(tie).

    Computed from ranks (Mann-Whitney U) with average ranks for ties; NaN if a side is empty.
    """
    if not members or not nonmembers:
        return float("nan")
    pooled = sorted((v, i < len(members)) for i, v in enumerate([*members, *nonmembers]))
    rank_sum, i = 0.0, 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        average_rank = (i + j) / 2 + 1
        rank_sum += average_rank * sum(is_member for _, is_member in pooled[i : j + 1])
        i = j + 1
    n_pos, n_neg = len(members), len(nonmembers)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def ks_statistic(a: Sequence[float], b: Sequence[float]) -> float:
    """The two-sample Kolmogorov-Smirnov statistic sup |F_a − F_b|."""
    xs, ys = sorted(a), sorted(b)
    i = j = 0
    d = 0.0
    for v in sorted(set(xs) | set(ys)):
        while i < len(xs) and xs[i] <= v:
            i += 1
        while j < len(ys) and ys[j] <= v:
            j += 1
        d = max(d, abs(i / len(xs) - j / len(ys)))
    return d


def forget_quality(losses: Sequence[float], goal_losses: Sequence[float]) -> float:
    """TOFU's forget quality: the KS-test p-value of `losses` against the Goal's (NaN if empty)."""
    if not losses or not goal_losses:
        return float("nan")
    from scipy.stats import ks_2samp

    return float(ks_2samp(list(losses), list(goal_losses)).pvalue)


def identity_means(samples: Sequence[dict], score: str) -> dict[str, float]:
    """Mean `score` per identity: the person asked about (identity questions) or the event
    (scene questions)."""
    groups: dict[str, list[float]] = {}
    for s in samples:
        key = f"person:{s['person_id']}" if s["kind"] == "identity" else f"event:{s['event_id']}"
        groups.setdefault(key, []).append(s[score])
    return {k: math.fsum(v) / len(v) for k, v in sorted(groups.items())}


def member_losses(samples: Sequence[dict]) -> list[float]:
    """Per-identity mean forget-set NLL (what forget quality compares with the Goal's)."""
    return list(identity_means([s for s in samples if s["set"] == "mia_member"], "nll").values())
