"""Markdown tables in the paper's layouts, built from results.json alone.

Table 1: single-target scenarios, person and event column groups. Table 2: scenario
`both`, no Scope column, the change against the base method in parentheses for `X+BGD`
rows. Higher is better in every column.
"""

from __future__ import annotations

import math

UNIT_COLUMNS = {("person", "scope"), ("event", "efficacy"), ("event", "generality"), ("event", "retain"), ("event", "real")}
HEAD = {"efficacy": "Eff", "generality": "Gen", "retain": "Ret", "scope": "Scope", "real": "Real", "world": "World"}
TABLE1_COLUMNS = ("efficacy", "generality", "retain", "scope", "real", "world")
TABLE2_COLUMNS = ("efficacy", "generality", "retain", "real", "world")


def fmt(value: float | None, unit: bool) -> str:
    """0-1 values with 3 decimals, 0-100 values with 2; missing as a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.3f}" if unit else f"{value:.2f}"


def _rows(scenario: dict) -> list[tuple[str, dict]]:
    return [("Finetuned", scenario["finetuned"]), *scenario["methods"].items(), ("Goal", scenario["goal"])]


def table1_markdown(results: dict) -> str:
    """Table 1 (person and/or event groups, whichever scenarios ran)."""
    groups = [g for g in ("person", "event") if g in results["scenarios"]]
    if not groups:
        return "No single-target scenario (person/event) was run.\n"
    names: list[str] = []
    for g in groups:
        for name, _ in _rows(results["scenarios"][g]):
            if name not in names:
                names.append(name)
    names = ["Finetuned"] + [n for n in names if n not in ("Finetuned", "Goal")] + ["Goal"]
    header = ["Method"] + [f"{g[0].upper()}-{HEAD[c]}" for g in groups for c in TABLE1_COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in names:
        cells = [name]
        for g in groups:
            row = dict(_rows(results["scenarios"][g])).get(name, {})
            cells += [fmt(row.get(c), (g, c) in UNIT_COLUMNS) for c in TABLE1_COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    note = ("\nHigher is better everywhere. Eff/Gen/Ret/Real of persons: 0-100 (name precision); "
            "P-Scope: ROUGE-L (0-1); E-Eff/E-Gen/E-Ret: event judge (0-1); E-Scope: 0-100; E-Real: ROUGE-L; "
            "World: POPE accuracy (0-100).\n")
    return "\n".join(lines) + "\n" + note


def table2_markdown(results: dict) -> str:
    """Table 2: persons and events forgotten at once (scenario `both`)."""
    sc = results["scenarios"]["both"]
    rows = _rows(sc)
    by_name = dict(rows)
    header = ["Method"] + [f"{g[0].upper()}-{HEAD[c]}" for g in ("person", "event") for c in TABLE2_COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, row in rows:
        base = by_name.get(name.split("+")[0]) if "+" in name else None
        cells = [name]
        for g in ("person", "event"):
            for c in TABLE2_COLUMNS:
                unit = (g, c) in UNIT_COLUMNS
                value = row.get(f"{g}_{c}")
                cell = fmt(value, unit)
                if base is not None and value is not None and base.get(f"{g}_{c}") is not None:
                    cell += f" ({value - base[f'{g}_{c}']:+.{3 if unit else 1}f})"
                cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
