"""How a Table 1 column is computed from samples, with a bootstrap interval and counts (the
columns themselves are registered metrics: `pebench.eval.metrics.columns`).

Each column is the mean of one per-question value over one set of samples (e.g. person
Efficacy: 100 × (1 − name match) over identity questions on D_f_train images of forgotten
persons). Its 95% interval is a percentile bootstrap over the *targets* the questions are about
(persons, events, or images for World): questions about one person are not independent, so the
person, not the question, is resampled (Efron & Tibshirani 1993, ch. 13; the cluster bootstrap
of Field & Welsh 2007).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

BOOTSTRAP_SAMPLES = 1000


@dataclass(frozen=True)
class Cell:
    """One column: which samples (set, question kind, forget targets only?), the per-question
    value whose mean is the column, and the unit resampled by the bootstrap.

    `other_kept` (Scope): only images whose *other* concept is kept. When persons and events are
    forgotten at once, a forget person at a forget event is forgotten on both counts, and
    forgetting that event there is what the request asks, not cross-concept interference."""

    set: str
    kind: str
    forget_only: bool
    value: Callable[[dict], float]
    unit: str  # person_id | event_id | image_id
    other_kept: bool = False


def bootstrap_ci(groups: Sequence[Sequence[float]], samples: int = BOOTSTRAP_SAMPLES, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the pooled mean when whole groups are resampled with replacement.

    Each replicate draws len(groups) groups (uniformly, with replacement) and takes the mean of
    all their values; the interval is the (1−level)/2 and (1+level)/2 quantiles of the replicate
    means (numpy's default linear interpolation). NaN when there is no value."""
    groups = [list(g) for g in groups if len(g)]
    if not groups:
        return float("nan"), float("nan")
    sums = np.array([sum(g) for g in groups], dtype=float)
    counts = np.array([len(g) for g in groups], dtype=float)
    draws = np.random.default_rng(seed).integers(0, len(groups), size=(samples, len(groups)))
    means = sums[draws].sum(1) / counts[draws].sum(1)
    tail = (1 - level) / 2
    lo, hi = np.quantile(means, [tail, 1 - tail])
    return float(lo), float(hi)


def cell_stats(rows: list[dict], cell: Cell, seed: int = 0) -> tuple[float, list[float], dict[str, int]]:
    """(value, [lo, hi], {"questions", "targets"}) of `cell` over its sample rows."""
    groups: dict[int | str, list[float]] = defaultdict(list)
    for s in rows:
        groups[s[cell.unit]].append(cell.value(s))
    values = [v for g in groups.values() for v in g]
    mean = float(np.mean(values)) if values else float("nan")
    ordered = [groups[k] for k in sorted(groups, key=str)]
    return mean, list(bootstrap_ci(ordered, seed=seed)), {"questions": len(values), "targets": len(groups)}
