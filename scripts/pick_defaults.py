"""Pick each method's default learning rate from `method_sweep.py` output.

Rule: drop degenerate settings (fewer than 10% distinct answers, or more than half empty);
among the rest, take the lr (or, for a method swept over another knob, e.g. MANU's `fraction`,
that knob's value) whose worst swept scenario scores best, a scenario's score being the
harmonic mean of Efficacy and Retain, both scaled to 0-1: 2·E·R / (E + R). A method
degenerate at every setting is reported so. Each pick records whether it sits on the edge of
its swept values (`edge`): such a pick is not bracketed, and the grid must be extended past it.

Why the worst scenario: the mean over scenarios let one scenario's collapse be paid for by
another's trade-off (MANU's mean picked 5% of neurons at person Efficacy 92 / Retain 7.5).

Why the harmonic mean: with (E + R) / 2 a setting that forgets everything, the retained
persons included, scores as well as an honest trade-off: MANU pruning 20% of its neurons
(person E 100, R 4; event E 0.60, R 0.72) scored 0.59 on the shipped base, above 10% (person
E 55, R 53; event E 0.30, R 0.89) at 0.57. The harmonic mean is near 0 for either collapse
(0.37 against 0.49 there), the way TOFU's model utility (Maini et al. 2024) is a harmonic mean
so that one failed part cannot be averaged away.

    python scripts/pick_defaults.py sweep.json [more.json ...]
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def harmonic(efficacy: float, retain: float) -> float:
    """2·E·R / (E + R) of two 0-1 scores; 0 when either is 0."""
    return 2 * efficacy * retain / (efficacy + retain) if efficacy + retain > 0 else 0.0


def score(row: dict) -> float:
    """The rule's score of one sweep row: the harmonic mean of its Efficacy and Retain on 0-1
    (`both`: each the mean of the person and event columns)."""
    if row["scenario"] == "both":
        return harmonic((row["person_efficacy"] / 100 + row["event_efficacy"]) / 2,
                        (row["person_retain"] / 100 + row["event_retain"]) / 2)
    scale = 100.0 if row["scenario"] == "person" else 1.0
    return harmonic(row["efficacy"] / scale, row["retain"] / scale)


def degenerate(row: dict) -> bool:
    return row["answers_distinct"] < 0.10 or row["answers_empty"] > 0.5


def setting(row: dict) -> tuple[str, float]:
    """(knob, value) a sweep row was run at; rows written before `--knob` existed swept the lr."""
    return (row["knob"], row["value"]) if "knob" in row else ("lr", row["lr"])


def pick(rows: list[dict]) -> dict[str, dict]:
    """Each method's setting by the rule above (a later row of the same setting and scenario
    replaces an earlier one: a re-sweep after a change of the method)."""
    by_setting: dict[tuple[str, str, float, int], dict[str, dict]] = defaultdict(dict)
    for r in rows:
        by_setting[(r["method"], *setting(r), r["steps"])][r["scenario"]] = r
    best: dict[str, dict] = {}
    for (method, knob, value, steps), by_scenario in sorted(by_setting.items()):
        rs = list(by_scenario.values())
        ok = not any(degenerate(r) for r in rs)
        s = min(score(r) for r in rs)
        cand = {knob: value, "steps": steps, "score": round(s, 4), "degenerate": not ok}
        cur = best.get(method)
        if cur is None or (cur["degenerate"] and ok) or (cur["degenerate"] == (not ok) and s > cur["score"]):
            best[method] = cand
    for method, chosen in best.items():
        knob = "lr" if "lr" in chosen else next(k for k in chosen if k not in ("steps", "score", "degenerate"))
        values = sorted({v for (m, k, v, _) in by_setting if m == method and k == knob})
        chosen["edge"] = len(values) > 1 and chosen[knob] in (values[0], values[-1])
    return best


if __name__ == "__main__":
    rows = [r for path in sys.argv[1:] for r in json.load(open(path))]
    print(json.dumps(pick(rows), indent=1))
