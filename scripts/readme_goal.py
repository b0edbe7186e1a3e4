"""The Goal row as a yardstick (issue 42), generated from the reference run for docs/results.md:
in each scenario, every column the Goal should keep (Retain, Scope, Real, World, per concept)
beside the Finetuned row's, and whether the Goal is within 5 points (0.05 on a 0-1 scale) of it
or above. The paper's Goal equals its Finetuned model there (Tables 1-2: P-Ret 96.4, P-Real 100,
E-Scope 100); a Goal below it would make the ideal unlearner read as interference."""

from __future__ import annotations

from pebench.eval.metrics import column_metric
from pebench.report.tables import SCENARIO_ORDER

KEPT_COLUMNS = ("retain", "scope", "real", "world")


def tolerance(concept: str, column: str) -> float:
    """How far below the Finetuned row the Goal may read: 5 points, or 0.05 on a 0-1 column."""
    return 0.05 if column_metric(concept, column).scale == "unit" else 5.0


def goal_cells(results: dict) -> list[dict]:
    """One record per (scenario, concept, kept column): Finetuned, Goal, and whether it is met."""
    cells = []
    for scenario in (s for s in SCENARIO_ORDER if s in results["scenarios"]):
        sc = results["scenarios"][scenario]
        concepts = ("person", "event") if scenario == "both" else (scenario,)
        for concept in concepts:
            for column in KEPT_COLUMNS:
                key = f"{concept}_{column}" if scenario == "both" else column
                finetuned, goal = sc["finetuned"][key], sc["goal"][key]
                cells.append({"scenario": scenario, "concept": concept, "column": column, "finetuned": finetuned,
                              "goal": goal, "met": goal >= finetuned - tolerance(concept, column)})
    return cells


def _num(value: float, concept: str, column: str) -> str:
    return f"{value:.3f}" if column_metric(concept, column).scale == "unit" else f"{value:.1f}"


def goal_section(results: dict) -> str:
    """The generated block's text: the table and how many cells meet the target."""
    cells = goal_cells(results)
    lines = ["| scenario | cell | Finetuned | Goal | within 5 points (0.05) or above |", "|---|---|---|---|---|"]
    for c in cells:
        head = f"{c['concept'][0].upper()}-{column_metric(c['concept'], c['column']).head}"
        lines.append(f"| {c['scenario']} | {head} | {_num(c['finetuned'], c['concept'], c['column'])} | "
                     f"{_num(c['goal'], c['concept'], c['column'])} | {'yes' if c['met'] else '**no**'} |")
    missed = [f"{c['scenario']} {c['concept'][0].upper()}-{column_metric(c['concept'], c['column']).head}"
              for c in cells if not c["met"]]
    summary = (f"The Goal keeps {len(cells) - len(missed)} of these {len(cells)} cells"
               + (f"; it misses {', '.join(missed)}." if missed else "."))
    return "\n".join(lines + ["", summary])
