"""Evaluation during unlearning: every `every` steps, Efficacy and Retain on a fixed subset of
the evaluation's questions, so each method has a trade-off curve, and a stated checkpoint rule
beside the final model (users of unlearning benchmarks ask for both: open-unlearning #187).

The rule: the first evaluated step at which every Efficacy column reaches (1 − ε) × the Goal
model's on the same subset (the Goal never learnt the targets, so its Efficacy is what
"forgotten" looks like); None when no step reaches it. Step 0 is the Finetuned model (the curve
starts there; the rule never picks it).
"""

from __future__ import annotations

import random

from pebench.eval.evaluate import Query

SUBSET_SETS = ("f_train", "retain")


def subset_queries(queries: list[Query], per_set: int, seed: int) -> list[Query]:
    """A seeded sample of at most `per_set` D_f_train and `per_set` D_r questions (identity and
    scene alike), fixed for a split so every step and every row answers the same questions."""
    out = []
    for name in SUBSET_SETS:
        pool = [q for q in queries if q.set == name]
        out += random.Random(f"trajectory:{name}:{seed}").sample(pool, min(per_set, len(pool)))
    return out


def efficacy_keys(point: dict) -> list[str]:
    return [k for k in point if k.endswith("efficacy")]


def chosen_checkpoint(points: list[dict], goal: dict, epsilon: float) -> dict | None:
    """The first point after step 0 (the Finetuned model, not a checkpoint of unlearning) whose
    every Efficacy ≥ (1 − ε) × the Goal's (see the module docstring)."""
    for point in points:
        if point["step"] == 0:
            continue
        if all(point[k] >= (1 - epsilon) * goal[k] for k in efficacy_keys(goal)):
            return point
    return None
