"""Bootstrap intervals over targets, on hand-made samples with known answers."""

import math

import pytest

from pebench.eval.cells import bootstrap_ci, cell_stats
from pebench.eval.metrics import METRICS


def test_identical_targets_give_a_zero_width_interval():
    assert bootstrap_ci([[3.0, 3.0], [3.0], [3.0, 3.0, 3.0]]) == (3.0, 3.0)


def test_two_targets_hand_computed():
    # Targets A = [0] and B = [100]: a replicate draws two targets, so its mean is 0 (AA, p = 1/4),
    # 50 (AB or BA, p = 1/2) or 100 (BB, p = 1/4). The 2.5% and 97.5% quantiles are 0 and 100.
    assert bootstrap_ci([[0.0], [100.0]], samples=4000) == (0.0, 100.0)


def test_a_target_is_resampled_whole():
    # A has ten questions all 1, B one question 0. Whole-target replicates: AA -> 1, BB -> 0,
    # AB -> 10/11; so the interval is [0, 1]. Had the eleven questions been resampled one by one,
    # the pooled mean would stay near 10/11 and the interval would be far narrower.
    lo, hi = bootstrap_ci([[1.0] * 10, [0.0]], samples=4000)
    assert (lo, hi) == (0.0, 1.0)


def test_quantiles_of_three_targets():
    # Targets 0, 1, 2 (one question each): a replicate is the mean of three uniform draws from {0, 1, 2}.
    # P(mean = 0) = P(mean = 2) = 1/27 = 3.7% > 2.5%, so the 95% interval is [0, 2]; at 90% the
    # quantiles move inside: P(mean <= 1/3) = 4/27 = 14.8% > 5% and P(mean = 0) = 3.7% < 5%, so 1/3.
    assert bootstrap_ci([[0.0], [1.0], [2.0]], samples=20000) == (0.0, 2.0)
    lo, hi = bootstrap_ci([[0.0], [1.0], [2.0]], samples=20000, level=0.9)
    assert lo == pytest.approx(1 / 3) and hi == pytest.approx(5 / 3)


def test_bootstrap_is_deterministic_and_empty_is_nan():
    groups = [[0.1, 0.5], [0.9], [0.3, 0.2, 0.8]]
    assert bootstrap_ci(groups, seed=1) == bootstrap_ci(groups, seed=1)
    assert all(math.isnan(v) for v in bootstrap_ci([]))


def test_cell_stats_value_interval_and_counts():
    rows = [{"person_id": p, "name_match": m} for p, m in ((1, True), (1, True), (2, False), (3, True))]
    value, ci, n = cell_stats(rows, METRICS.get("person_efficacy").cell)
    assert value == pytest.approx(25.0)  # 100 × (1 − 3/4)
    assert n == {"questions": 4, "targets": 3}
    assert ci[0] <= value <= ci[1] and ci[0] >= 0.0 and ci[1] <= 100.0
