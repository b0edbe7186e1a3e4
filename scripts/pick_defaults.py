"""Pick each method's default learning rate from `method_sweep.py` output.

Rule: drop degenerate settings (fewer than 10% distinct answers, or more than half empty);
among the rest, take the lr with the best mean over the swept scenarios of
(Efficacy + Retain) / 2, both scaled to 0-1. A method degenerate at every lr is reported so.

    python scripts/pick_defaults.py sweep.json [more.json ...]
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from statistics import fmean


def score(row: dict) -> float:
    scale = 100.0 if row["scenario"] == "person" else 1.0
    if row["scenario"] == "both":
        return (row["person_efficacy"] / 100 + row["event_efficacy"] + row["person_retain"] / 100 + row["event_retain"]) / 4
    return (row["efficacy"] / scale + row["retain"] / scale) / 2


def degenerate(row: dict) -> bool:
    return row["answers_distinct"] < 0.10 or row["answers_empty"] > 0.5


def pick(rows: list[dict]) -> dict[str, dict]:
    by_setting: dict[tuple[str, float, int], list[dict]] = defaultdict(list)
    for r in rows:
        by_setting[(r["method"], r["lr"], r["steps"])].append(r)
    best: dict[str, dict] = {}
    for (method, lr, steps), rs in sorted(by_setting.items()):
        ok = not any(degenerate(r) for r in rs)
        s = fmean(score(r) for r in rs)
        cand = {"lr": lr, "steps": steps, "score": round(s, 4), "degenerate": not ok}
        cur = best.get(method)
        if cur is None or (cur["degenerate"] and ok) or (cur["degenerate"] == (not ok) and s > cur["score"]):
            best[method] = cand
    return best


if __name__ == "__main__":
    rows = [r for path in sys.argv[1:] for r in json.load(open(path))]
    print(json.dumps(pick(rows), indent=1))
