"""Write `scripts/sweep/picked.json` and the sweep table of docs/methods.md from the stored sweep
files (`scripts/sweep/sweep_*.json`, written by `scripts/method_sweep.py`): per method, the
setting `scripts/pick_defaults.py` picks, its Efficacy and Retain per scenario, and the rule's
score at every setting tried. `--check` fails when either differs from what the sweeps give
(tests run it), so no sweep figure in the docs is typed by hand.

    python scripts/sweep_table.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from pick_defaults import degenerate, pick, score, setting

SWEEPS = Path(__file__).resolve().parent / "sweep"
PICKED = SWEEPS / "picked.json"
PAGE = Path(__file__).resolve().parent.parent / "docs" / "methods.md"
BEGIN = "<!-- BEGIN GENERATED: sweep (scripts/sweep_table.py) -->"
END = "<!-- END GENERATED: sweep -->"


def load_sweeps(folder: Path = SWEEPS) -> dict[str, list[dict]]:
    """Each stored sweep file's rows, by file name."""
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("sweep_*.json"))}


def _num(value: float) -> str:
    """A swept value as the config writes it: 3e-5, 1e-3, 0.1."""
    return f"{value:g}" if value >= 0.01 else f"{value:.0e}".replace("e-0", "e-")


def _scores(rows: list[dict]) -> str:
    """The rule's score (its worst scenario's) at each setting tried, in order; the degenerate
    ones marked."""
    by_value: dict[float, list[dict]] = defaultdict(list)
    for r in rows:
        by_value[setting(r)[1]].append(r)
    return " · ".join(f"{_num(v)}: {min(score(r) for r in rs):.2f}{' (degenerate)' if any(map(degenerate, rs)) else ''}"
                      for v, rs in sorted(by_value.items()))


def _at_pick(rows: list[dict]) -> tuple[str, str]:
    """(person E / R, event E / R) of the rows at the picked setting (`both` rows carry both)."""
    person = event = "–"
    for r in rows:
        if r["scenario"] == "both":
            person = f"{r['person_efficacy']:.0f} / {r['person_retain']:.0f}"
            event = f"{r['event_efficacy']:.2f} / {r['event_retain']:.2f}"
        elif r["scenario"] == "person":
            person = f"{r['efficacy']:.0f} / {r['retain']:.0f}"
        else:
            event = f"{r['efficacy']:.2f} / {r['retain']:.2f}"
    return person, event


def table(sweeps: dict[str, list[dict]], picks: dict[str, dict] | None = None) -> str:
    """The generated block: one row per method, in the order of the picks (alphabetical);
    `picks`: the rule's picks over all the rows, when already made."""
    rows = [r for file_rows in sweeps.values() for r in file_rows]
    picks = picks or pick(rows)
    lines = ["| method | picked | person E / R | event E / R | score at each setting tried | sweep file |",
             "|---|---|---|---|---|---|"]
    for method, chosen in picks.items():
        mine = [r for r in rows if r["method"] == method]
        knob, value = next((k, v) for k, v in chosen.items() if k not in ("steps", "score", "degenerate", "edge"))
        person, event = _at_pick([r for r in mine if setting(r) == (knob, value) and r["steps"] == chosen["steps"]])
        files = ", ".join(f"`{name}`" for name, file_rows in sweeps.items() if any(r["method"] == method for r in file_rows))
        edge = " (grid edge)" if chosen.get("edge") else ""
        lines.append(f"| {method} | {knob} {_num(value)}{edge} | {person} | {event} | {_scores(mine)} | {files} |")
    return "\n".join([BEGIN, "", *lines, "", END])


def main() -> int:
    from pebench.core.generated import replace_block, sync

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if picked.json or the page differs from the sweeps")
    args = parser.parse_args()
    sweeps = load_sweeps()
    picks = pick([r for rows in sweeps.values() for r in rows])
    page = replace_block(PAGE.read_text(encoding="utf-8"), BEGIN, END, table(sweeps, picks), PAGE)
    return sync({PICKED: json.dumps(picks, indent=1) + "\n", PAGE: page}, args.check, "run scripts/sweep_table.py")


if __name__ == "__main__":
    sys.exit(main())
