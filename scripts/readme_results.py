"""Generate the results blocks of the README and the docs from a run's files; `--check` fails on any difference.

    python scripts/readme_results.py --run RUN_DIR [--stability FILE]   # store the run, rewrite the pages
    python scripts/readme_results.py --check                            # what CI runs (tests/test_readme.py)

The reference files live in docs/results/ (results.json of the default run, and the stability
benchmark's JSON); every number between a page's GENERATED markers is computed from them here
(README.md: `front`; docs/results.md: `results`; docs/probes.md: `robustness`, from readme_robustness.py;
docs/base.md: `base`, from readme_base.py; the stability paragraph from readme_stability.py), so a
hand edit of a results table fails CI.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from statistics import median
from pathlib import Path

from pebench.core.generated import replace_block, sync
from pebench.eval.metrics import column_metric, table_metrics
from pebench.report import in_config_order
from pebench.report.tables import TABLE1_COLUMNS, privacy_tables, table1, table2, to_markdown
from readme_goal import goal_section
from readme_base import ROOT, base_section, made_by_other_code, made_on_the_shipped_base
from readme_robustness import full_run_mismatch, robustness_section
from readme_stability import stability_lines

RESULTS = ROOT / "docs" / "results" / "results.json"
STABILITY = ROOT / "docs" / "results" / "stability.json"
README = ROOT / "README.md"
DOCS = ROOT / "docs"
# Which generated blocks each page holds.
PAGES = {README: ("front",), DOCS / "results.md": ("results", "goal"), DOCS / "probes.md": ("robustness",), DOCS / "base.md": ("base",)}
FULL = ROOT / "docs" / "results" / "full.json"


def markers(block: str) -> tuple[str, str]:
    return f"<!-- BEGIN GENERATED: {block} (scripts/readme_results.py) -->", f"<!-- END GENERATED: {block} -->"


BEGIN, END = markers("results")

# (what, path into results["scenarios"], comparison, threshold) of the targets.
TARGETS = [
    ("Finetuned World (POPE accuracy)", ("person", "finetuned", "world"), ">=", 80),
    ("Finetuned Real (public figures named)", ("person", "finetuned", "real"), ">=", 80),
    ("Finetuned person Efficacy", ("person", "finetuned", "efficacy"), "<=", 5),
    ("Finetuned person Retain", ("person", "finetuned", "retain"), ">=", 95),
    ("Goal person Efficacy", ("person", "goal", "efficacy"), ">=", 95),
    ("Finetuned event Efficacy", ("event", "finetuned", "efficacy"), "<=", 0.1),
    ("Goal membership AUC (loss attack, person)", ("person", "goal", "mia_loss_auc"), "in", (0.4, 0.6)),
    ("Finetuned person Generality, held-out phrasings", ("person", "robustness", "finetuned", "paraphrase", "generality"),
     "<=", 20),
]


def _get(results: dict, path: tuple[str, ...]) -> float:
    node = results["scenarios"]
    for key in path:
        node = node[key]
    return node


def _ok(value: float, op: str, bound) -> bool:
    if math.isnan(value):
        return False
    return {">=": lambda: value >= bound, "<=": lambda: value <= bound, "in": lambda: bound[0] <= value <= bound[1]}[op]()


def _num(value: float) -> str:
    return f"{value:.3f}" if abs(value) < 1.5 else f"{value:.1f}"


def targets_table(results: dict) -> str:
    lines = ["| target | measured | required | met |", "|---|---|---|---|"]
    for what, path, op, bound in TARGETS:
        value = _get(results, path)
        required = f"{bound[0]}–{bound[1]}" if op == "in" else f"{op.replace('>=', '≥').replace('<=', '≤')} {bound}"
        lines.append(f"| {what} | {_num(value)} | {required} | {'yes' if _ok(value, op, bound) else '**no**'} |")
    return "\n".join(lines) + "\n"


def power_lines(results: dict) -> str:
    """How many targets and questions the cells rest on, and which columns are constant."""
    out = []
    for scenario in (s for s in ("person", "event", "both") if s in results["scenarios"]):
        sc = results["scenarios"][scenario]
        forget = sc.get("forget", {})
        counts = sc.get("n", {}).get("finetuned", {})
        cells = ", ".join(f"{k} {v['questions']} questions / {v['targets']} targets" for k, v in sorted(counts.items()))
        out.append(f"* `{scenario}`: forgets {len(forget.get('persons', []))} persons and "
                   f"{len(forget.get('events', []))} events; {cells}.")
        constant = constant_columns(sc, scenario)
        if constant:
            out.append(f"  The same for every method (so it cannot rank them): "
                       f"{', '.join(f'{k} {v:.3g}' for k, v in constant.items())}.")
    return "\n".join(out) + "\n"


def constant_columns(sc: dict, scenario: str) -> dict[str, float]:
    """The Table 1/2 and privacy columns of a scenario whose value is the same for every method
    row, with that value."""
    concepts = ("person_", "event_") if scenario == "both" else ("",)
    keys = [f"{c}{col}" for c in concepts for col in TABLE1_COLUMNS]
    keys += [m.name for m in table_metrics("privacy") if m.compute is not None]
    out = {}
    for key in keys:
        values = [row[key] for row in sc["methods"].values() if isinstance(row.get(key), float)]
        if len(values) > 1 and len({round(v, 6) for v in values}) == 1:
            out[key] = values[0]
    return out


def time_line(results: dict) -> str:
    """Where the wall time went, from the run's per-stage timings."""
    t = results.get("timings_s", {})
    total = lambda prefix: sum(v for k, v in t.items() if k.startswith(prefix))  # noqa: E731
    return (f"Stage seconds: data {total('data'):.0f}, Finetuned {total('finetuned'):.0f}, Goal models "
            f"{total('goal-'):.0f} ({sum(k.startswith('goal-') for k in t)}), unlearning {total('unlearn '):.0f} "
            f"({sum(k.startswith('unlearn ') for k in t)} runs), evaluation {total('eval '):.0f} "
            f"({sum(k.startswith('eval ') for k in t)} rows), probes {total('probes '):.0f}, report {total('report'):.0f}."
            + _workers_note(results))


def _workers_note(results: dict) -> str:
    """How to read the row stages' seconds when worker processes computed them side by side."""
    provenance = results.get("provenance", {})
    if "models" not in provenance:
        return ""
    models, rows = provenance["models"].get("threads"), provenance["run"].get("threads")
    return (f" The models were trained in one process of {models} thread(s); the rows (unlearning, evaluation, probes) "
            f"by worker processes of {rows} thread(s) side by side, so their seconds add up the processes' time, "
            "not the wall time.")


def _cell(sc: dict, row: str, key: str) -> str:
    """'value [lo–hi]' of a row ("finetuned", "goal" or a method) in scenario `sc`, with the
    column's own precision (0-1 columns: 3 decimals; 0-100 columns: 1)."""
    metrics = sc[row] if row in ("finetuned", "goal") else sc["methods"][row]
    ci = (sc.get("ci95", {}).get(row) if row in ("finetuned", "goal") else sc.get("ci95", {}).get("methods", {}).get(row)) or {}
    value, interval = metrics[key], ci.get(key)
    concept, column = key.split("_", 1) if "_" in key else (sc["split"]["scenario"], key)
    digits = 3 if column_metric(concept, column).scale == "unit" else 1
    text = f"{value:.{digits}f}"
    return text + (f" [{interval[0]:.{digits}f}–{interval[1]:.{digits}f}]" if interval else "")


def _who(sc: dict, key: str, test) -> str:
    names = [m for m, row in sc["methods"].items() if test(row[key])]
    return ", ".join(f"{m} {_cell(sc, m, key)}" for m in names) or "none"


def findings(results: dict) -> str:
    """Each of the paper's findings (arXiv 2503.12545, Tables 1-2, quoted) beside this run's numbers."""
    sc = results["scenarios"]
    out = []
    if "person" in sc:
        p = sc["person"]
        out.append(f"* *Forgetting a person is easy* (paper: person Efficacy 99–100 for every method). Here, person "
                   f"Efficacy ≥ 90: {_who(p, 'efficacy', lambda v: v >= 90)}; below 50: {_who(p, 'efficacy', lambda v: v < 50)}.")
        out.append(f"* *Retain collapses* (paper: 4–21 against the Goal's 96). Here, person Retain below 90: "
                   f"{_who(p, 'retain', lambda v: v < 90)} (Finetuned {_cell(p, 'finetuned', 'retain')}).")
        out.append(f"* *Person unlearning disturbs scene descriptions* (paper: P-Scope 0.98 → 0.81–0.92). Here "
                   f"Finetuned {_cell(p, 'finetuned', 'scope')}, Goal {_cell(p, 'goal', 'scope')}; methods "
                   f"{min(r['scope'] for r in p['methods'].values()):.3f}–{max(r['scope'] for r in p['methods'].values()):.3f}.")
        out.append(f"* *Real drops* (paper: 100 → 72–87). Here Finetuned {_cell(p, 'finetuned', 'real')}; below 70: "
                   f"{_who(p, 'real', lambda v: v < 70)}.")
    if "event" in sc:
        e = sc["event"]
        out.append(f"* *Forgetting an event is hard* (paper: event Efficacy ≤ 0.58, Goal 0.97). Here the Goal reaches "
                   f"{_cell(e, 'goal', 'efficacy')}; event Efficacy ≥ 0.9: {_who(e, 'efficacy', lambda v: v >= 0.9)}; "
                   f"below 0.5: {_who(e, 'efficacy', lambda v: v < 0.5)}."
                   + (" Not reproduced: the tiny model's scene answer is one memorised sentence per event, and once it "
                      "is disturbed the judge scores it low." if median(r["efficacy"] for r in e["methods"].values()) > 0.58 else ""))
        out.append(f"* *Event unlearning lowers person recognition in those scenes* (paper: E-Scope 100 → 78.5–84.5). "
                   f"Here E-Scope below 100: {_who(e, 'scope', lambda v: v < 100)}.")
    if "both" in sc and "person" in sc:
        b, p = sc["both"], sc["person"]
        pairs = [m for m in ("GA", "GD", "KL", "NPO") if m in b["methods"] and m in p["methods"]]
        changes = ", ".join(f"{m} {p['methods'][m]['efficacy']:.0f} → {b['methods'][m]['person_efficacy']:.0f}" for m in pairs)
        out.append(f"* *Forgetting both at once lowers person Efficacy* (paper: to 36–55). Here, person alone → both: {changes} "
                   "(the same forgotten persons in both scenarios).")
        bgd = [(m, m.split("+")[0]) for m in ("GD+BGD", "KL+BGD") if m in b["methods"] and m.split("+")[0] in b["methods"]]
        deltas = "; ".join(
            f"{m}: person Efficacy {b['methods'][m]['person_efficacy'] - b['methods'][base]['person_efficacy']:+.1f}, event Efficacy "
            f"{b['methods'][m]['event_efficacy'] - b['methods'][base]['event_efficacy']:+.3f}, person Retain "
            f"{b['methods'][m]['person_retain'] - b['methods'][base]['person_retain']:+.1f}" for m, base in bgd)
        out.append(f"* *BGD recovers person Efficacy* (paper: +8.5 GD, +11.7 KL, at 11.4 / 3.7 points of Retain). Here, against "
                   f"the base method in `both`: {deltas}.")
    return "\n".join(out) + "\n"


def section(results: dict, stability: dict | None) -> str:
    results = in_config_order(results)
    t1, t2 = table1(results), table2(results)
    privacy = [t for t in privacy_tables(results) if t.title.endswith(": person")]
    parts = [BEGIN, "",
             f"Run: `pebench run` (seed {results['seed']}, pebench {results['pebench_version']}, "
             f"{results['dataset']['persons']} persons × {results['dataset']['events']} events, "
             f"{results.get('hardware', {}).get('cpus', '?')} CPU cores), cold wall time "
             f"{results.get('wall_s', float('nan')) / 60:.1f} min. Brackets: 95% bootstrap intervals over forget targets.",
             "", time_line(results),
             *([""] + [f"> **Warning:** {w}." for w in results["warnings"]] if results.get("warnings") else []),
             "", "**Targets**", "", targets_table(results), "**Power**", "", power_lines(results),
             "**Stability**", "", stability_lines(stability, results), "**Findings against the paper**", "", findings(results)]
    if t1:
        parts += ["**Table 1** (forgetting persons or events)", "", to_markdown(t1)]
    if t2:
        parts += ["**Table 2** (persons and events at once; in parentheses the change against the base method)", "",
                  to_markdown(t2)]
    for t in privacy:
        parts += [f"**{t.title}** (over identities: each person counts once)", "", to_markdown(t)]
    return "\n".join(parts) + "\n" + END


def front_section(results: dict) -> str:
    """The README's one table: Table 1 of the reference run, with the run it comes from."""
    results = in_config_order(results)
    met = sum(_ok(_get(results, path), op, bound) for _, path, op, bound in TARGETS)
    begin, end = markers("front")
    return "\n".join([
        begin, "",
        f"`pebench run` (seed {results['seed']}, {results['dataset']['persons']} persons × {results['dataset']['events']} "
        f"events, {results.get('hardware', {}).get('cpus', '?')} CPU cores, cold wall time "
        f"{results.get('wall_s', float('nan')) / 60:.1f} min; the instrument's targets met: {met} of {len(TARGETS)}). "
        "Brackets: 95% bootstrap intervals over forget targets.", "",
        "**Table 1** (forgetting persons or events)", "", to_markdown(table1(results)), end])


def blocks(results: dict, stability: dict | None, full: dict | None) -> dict[str, str]:
    """Every generated block, markers included, by name."""
    return {"front": front_section(results), "results": section(results, stability),
            "robustness": _marked("robustness", robustness_section(results, full)), "base": _marked("base", base_section()),
            "goal": _marked("goal", goal_section(results))}


def _marked(block: str, text: str) -> str:
    begin, end = markers(block)
    return "\n".join([begin, "", text, end])


def render(page: str, names: tuple[str, ...], generated: dict[str, str]) -> str:
    """`page` with each named block replaced by its generated text."""
    for name in names:
        page = replace_block(page, *markers(name), generated[name], "a page")
    return page


def load_reference() -> dict[str, str]:
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    if not made_on_the_shipped_base(results):
        raise SystemExit(f"error: {RESULTS} was made with another base than the shipped one (store a new default run)")
    if other := made_by_other_code(results):
        raise SystemExit(f"error: {RESULTS} was made by other code ({other}): store a new default run")
    stability = json.loads(STABILITY.read_text(encoding="utf-8")) if STABILITY.is_file() else None
    full = json.loads(FULL.read_text(encoding="utf-8")) if FULL.is_file() else None
    if full and not made_on_the_shipped_base(full):
        raise SystemExit(f"error: {FULL} was made with another base than the shipped one (store a new full run)")
    if full and (stale := full_run_mismatch(results["config"], full)):
        raise SystemExit(f"error: {FULL} was made with another config than the default run ({stale}): store a new full run")
    return blocks(results, stability, full)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a finished run directory to store as the reference run")
    parser.add_argument("--stability", type=Path, help="benchmarks/stability.py output to store")
    parser.add_argument("--full", type=Path, help="a finished `--preset full` run directory to store (sequential requests)")
    parser.add_argument("--check", action="store_true", help="fail if a page differs from what the files give")
    args = parser.parse_args()
    if args.run:
        shutil.copyfile(args.run / "results.json", RESULTS)
    if args.stability:
        shutil.copyfile(args.stability, STABILITY)
    if args.full:
        shutil.copyfile(args.full / "results.json", FULL)
    generated = load_reference()
    expected = {page: render(page.read_text(encoding="utf-8"), names, generated) for page, names in PAGES.items()}
    return sync(expected, args.check, "the files in docs/results/: run scripts/readme_results.py")


if __name__ == "__main__":
    sys.exit(main())
