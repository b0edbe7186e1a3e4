"""Forget quality (TOFU, Maini et al., 2024): the p-value of a two-sample Kolmogorov-Smirnov
test between a row's per-identity forget-set losses and the Goal model's (never trained on the
forget set); near 1 = indistinguishable from the Goal. Needs the Goal's losses: the Goal row is
evaluated first and hands them on (`goal_member_nll`). `forget_ks` is the KS statistic itself."""

from __future__ import annotations

from pebench.eval.metrics import Metric, RowInputs, register
from pebench.eval.privacy import forget_quality, ks_statistic, member_losses

NEEDS = ("membership", "goal_member_nll")
PER_IDENTITY = "per forget identity: mean NLL of its questions' reference answers"


def _quality(inputs: RowInputs) -> float:
    return forget_quality(member_losses(inputs.samples), inputs.goal_member_nll)


def _ks(inputs: RowInputs) -> float:
    losses = member_losses(inputs.samples)
    return ks_statistic(losses, inputs.goal_member_nll) if losses and inputs.goal_member_nll else float("nan")


register(Metric("forget_quality", "FQ (KS p)", "p_value", "higher", "KS-test p-value of forget-set losses against "
                "the Goal's (1 = indistinguishable)", PER_IDENTITY, table="privacy", needs=NEEDS, compute=_quality))
register(Metric("forget_ks", "FQ KS statistic", "unit", "lower", "KS statistic of forget-set losses against the Goal's",
                PER_IDENTITY, needs=NEEDS, compute=_ks))
