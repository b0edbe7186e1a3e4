"""Markdown tables in the paper's layouts, built from results.json alone.

Table 1: single-target scenarios, person and event column groups. Table 2: scenario
`both`, no Scope column, the change against the base method in parentheses for `X+BGD`
rows. Higher is better in every column. The privacy table: forget quality, membership-
inference AUCs and POPE F1 per sampling setting, per scenario. With several seeds every
cell is mean ± std.
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


def _std_rows(scenario: dict) -> dict[str, dict]:
    std = scenario.get("std")
    if not std:
        return {}
    return {"Finetuned": std["finetuned"], "Goal": std["goal"], **std["methods"]}


def cell(value: float | None, std: float | None, unit: bool) -> str:
    """`fmt(value)`, followed by ` ± std` when a std is known."""
    text = fmt(value, unit)
    return text if std is None or text == "–" else f"{text} ± {fmt(std, unit)}"


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
            std = _std_rows(results["scenarios"][g]).get(name, {})
            cells += [cell(row.get(c), std.get(c), (g, c) in UNIT_COLUMNS) for c in TABLE1_COLUMNS]
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
    stds = _std_rows(sc)
    header = ["Method"] + [f"{g[0].upper()}-{HEAD[c]}" for g in ("person", "event") for c in TABLE2_COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, row in rows:
        base = by_name.get(name.split("+")[0]) if "+" in name else None
        cells = [name]
        for g in ("person", "event"):
            for c in TABLE2_COLUMNS:
                unit = (g, c) in UNIT_COLUMNS
                value = row.get(f"{g}_{c}")
                text = cell(value, stds.get(name, {}).get(f"{g}_{c}"), unit)
                if base is not None and value is not None and base.get(f"{g}_{c}") is not None:
                    text += f" ({value - base[f'{g}_{c}']:+.{3 if unit else 1}f})"
                cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


PRIVACY_COLUMNS = (("forget_quality", "FQ (KS p)"), ("mia_loss_auc", "AUC loss"), ("mia_zlib_auc", "AUC zlib"),
                   ("mia_mink_auc", "AUC Min-K"), ("mia_minkpp_auc", "AUC Min-K++"))


def privacy_markdown(results: dict) -> str:
    """Forget quality, MIA AUCs and POPE F1 per setting, one block per scenario."""
    blocks = []
    for scenario, sc in results["scenarios"].items():
        rows, stds = _rows(sc), _std_rows(sc)
        prefix = "person_" if scenario == "both" else ""
        settings = [s for s in ("random", "popular", "adversarial") if f"{prefix}world_{s}_f1" in rows[0][1]]
        columns = [(k, h) for k, h in PRIVACY_COLUMNS if any(k in r for _, r in rows)]
        columns += [(f"{prefix}world_{s}_f1", f"POPE-{s} F1") for s in settings]
        if not columns:
            continue
        header = ["Method", *(h for _, h in columns)]
        lines = [f"**{scenario}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for name, row in rows:
            std = stds.get(name, {})
            lines.append("| " + " | ".join([name, *(cell(row.get(k), std.get(k), not k.startswith(prefix + "world"))
                                                     for k, _ in columns)]) + " |")
        blocks.append("\n".join(lines) + "\n")
    note = ("\nFQ: p-value of a KS test of forget-set losses against the Goal model's (1 = indistinguishable). "
            "AUC: membership inference of forget-set members against never-seen data (0.5 = cannot tell). "
            "POPE F1 in 0-100.\n")
    return "\n".join(blocks) + note if blocks else ""
