"""The answer-token losses that reweight or retarget gradient ascent token by token: WGA and
SatImp weight each token's NLL by its (detached) probability, UNDIAL and CE-U distil toward a
target distribution with the true token's mass taken away. Each is a pure function of answer
logits [N, V] and targets [N] (tested on hand-made tensors), used by one method file each."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pebench.methods.base import whole_batch_mean


def token_nll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """−log p(y_t) per answer token [N]."""
    return F.cross_entropy(logits, targets, reduction="none")


def weighted_ascent(logits: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """−mean_t w_t · (−log p(y_t)): gradient ascent on each token's NLL, weighted by w_t (detached)."""
    return -whole_batch_mean(weight.detach() * token_nll(logits, targets))


def wga_weight(logits: torch.Tensor, targets: torch.Tensor, beta: float) -> torch.Tensor:
    """WGA's weight p(y_t)^β: tokens the model still predicts are pushed hardest."""
    return token_nll(logits, targets).detach().neg().exp() ** beta


def satimp_weight(logits: torch.Tensor, targets: torch.Tensor, beta1: float, beta2: float) -> torch.Tensor:
    """SatImp's weight p(y_t)^β1 · (1 − p(y_t))^β2: saturation (likely tokens) times importance."""
    p = token_nll(logits, targets).detach().neg().exp()
    return p ** beta1 * (1 - p) ** beta2


def soft_cross_entropy(logits: torch.Tensor, target_probs: torch.Tensor) -> torch.Tensor:
    """mean_t −Σ_v q_t(v) log p_t(v) over the whole batch's answer tokens."""
    return whole_batch_mean(-(target_probs * torch.log_softmax(logits, -1)).sum(-1))


def undial_targets(ref_logits: torch.Tensor, targets: torch.Tensor, beta: float) -> torch.Tensor:
    """UNDIAL's soft targets: softmax(z_ref − β · onehot(y_t)), the frozen model's distribution
    with the true token's logit lowered by β."""
    lowered = ref_logits.float().scatter_add(-1, targets.unsqueeze(-1), ref_logits.new_full((len(targets), 1), -float(beta)))
    return torch.softmax(lowered, -1)


def ceu_targets(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """CE-U's targets: softmax of the model's own (detached) logits with the true token's logit
    at −∞, i.e. its distribution over every other token."""
    return torch.softmax(logits.detach().scatter(-1, targets.unsqueeze(-1), float("-inf")), -1)


def after_first_answer_tokens(per_row: torch.Tensor, n: int) -> torch.Tensor:
    """[N] mask that leaves out the first `n` answer tokens of each row (`per_row`: each answer
    token's row index, ascending as the tokens come), as CE-U does for the tokens that start every answer."""
    position = torch.arange(len(per_row), device=per_row.device) - torch.searchsorted(per_row, per_row)
    return position >= n
