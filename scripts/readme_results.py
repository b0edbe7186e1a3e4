"""Generate the results blocks of the README and the docs from a run's files; `--check` fails on any difference.

    python scripts/readme_results.py --run RUN_DIR [--stability FILE]   # store the run, rewrite the pages
    python scripts/readme_results.py --check                            # what CI runs (tests/test_readme.py)

The reference files live in docs/results/ (results.json of the default run, and the stability
benchmark's JSON); every number between a page's GENERATED markers is computed from them here
(README.md: `front`; docs/results.md: `results`; docs/probes.md: `robustness`; docs/base.md:
`base`), so a hand edit of a results table fails CI.
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
from pebench.report import in_config_order
from readme_robustness import full_run_mismatch, robustness_section
from pebench.eval.metrics import column_metric, table_metrics
from pebench.report.tables import TABLE1_COLUMNS, privacy_tables, table1, table2, to_markdown

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results" / "results.json"
STABILITY = ROOT / "docs" / "results" / "stability.json"
README = ROOT / "README.md"
DOCS = ROOT / "docs"
# Which generated blocks each page holds.
PAGES = {README: ("front",), DOCS / "results.md": ("results",), DOCS / "probes.md": ("robustness",), DOCS / "base.md": ("base",)}
BASE = ROOT / "src" / "pebench" / "assets" / "tiny-base"
BASE_PROBE = ROOT / "docs" / "results" / "base_probe.json"
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


def shipped_base_id() -> str:
    from pebench.models.shipped import verify_base

    return verify_base(BASE)


def made_on_the_shipped_base(record: dict) -> bool:
    """Whether a stored run (or stability benchmark) records the shipped base it was made with."""
    return (record.get("base") or {}).get("fingerprint") == shipped_base_id()


# What a stability record must share with the reference run for its figures to describe the
# run's tables (it differs in seeds and probes by design).
SHARED_SETTINGS = ("data", "split", "model", "foundation", "finetune", "unlearn", "eval", "methods", "scenarios")


def settings_unlike_the_run(record: dict, results: dict) -> list[str]:
    """The SHARED_SETTINGS sections in which a stability record's config differs from the run's
    (all of them when the record stores no config)."""
    mine = record.get("config")
    if mine is None:
        return list(SHARED_SETTINGS)
    return [k for k in SHARED_SETTINGS if mine.get(k) != results.get("config", {}).get(k)]


def _provenance_caveat(stability: dict, results: dict | None) -> str:
    if not made_on_the_shipped_base(stability):
        return "Measured on an earlier shipped base than the one the tables above come from (not yet re-measured): "
    unlike = settings_unlike_the_run(stability, results) if results else []
    if not unlike:
        return ""
    what = "stores no settings" if "config" not in stability else f"differs in `{'`, `'.join(unlike)}`"
    return (f"Measured with other settings than the tables above (the record {what}; not yet re-measured, "
            "so these figures describe the earlier defaults): ")


def stability_lines(stability: dict | None, results: dict | None = None) -> str:
    """The README's stability paragraph; `results`: the reference run, whose settings the
    record is checked against."""
    if not stability:
        return "The stability benchmark has not been stored yet (`benchmarks/stability.py`).\n"
    s = stability["summary"]
    earlier = _provenance_caveat(stability, results)
    return (f"{earlier}`benchmarks/stability.py` ({len(stability['seeds'])} seeds of split + Goal + unlearning, Finetuned shared): "
            f"median std over methods of person Efficacy {s['median_std_person_efficacy']:.2f} and person Retain "
            f"{s['median_std_person_retain']:.2f} points (target ≤ 5: {_std_verdict(s)}); Kendall τ of the method ranking by "
            f"(Efficacy + Retain) / 2 between seeds: {', '.join(f'{t:.2f}' for t in s['kendall_tau'])} "
            f"(mean {s['mean_kendall_tau']:.2f}, target ≥ 0.6: {'met' if s['mean_kendall_tau'] >= 0.6 else '**not met**'}). "
            f"{_event_stability(stability)}{_retain_spread(stability)}\n")


def _std_verdict(summary: dict) -> str:
    """Which of the two median stds is above the 5-point target ('met' when neither is)."""
    above = [name for name in ("Efficacy", "Retain") if summary[f"median_std_person_{name.lower()}"] > 5]
    return f"**{' and '.join(above)} above it**" if above else "met"


def _event_stability(stability: dict) -> str:
    """The event scenario's std and rank agreement beside the person one's (0-1 judge scores)."""
    event = stability.get("per_scenario", {}).get("event", {}).get("all")
    if not event:
        return ""
    taus = event["kendall_tau"]
    return (f"Event scenario: median std over methods of event Efficacy {event['median_std']['efficacy']:.3f} and event "
            f"Retain {event['median_std']['retain']:.3f} (0-1 scale); Kendall τ between seeds: "
            f"{', '.join(f'{t:.2f}' for t in taus)} (mean {sum(taus) / len(taus):.2f}). ")


def _retain_spread(stability: dict) -> str:
    """The methods whose person Retain std over seeds is above 5 points, largest first."""
    retain = stability["per_scenario"]["person"]["all"]["std"]["retain"]
    spread = sorted(retain.items(), key=lambda kv: -kv[1])
    above = [f"{m} {v:.1f}" for m, v in spread if v > 5]
    return f"Person Retain std above 5 points: {', '.join(above)}." if above else ""


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


def _base_probe_sentence() -> str:
    """The re-probe of the shipped weights (scripts/probe_base.py), refused if the base changed since."""
    if not BASE_PROBE.is_file():
        raise SystemExit(f"error: {BASE_PROBE} is missing (run scripts/probe_base.py)")
    probe = json.loads(BASE_PROBE.read_text(encoding="utf-8"))
    if probe["base_sha256sums"] != shipped_base_id():
        raise SystemExit(f"error: {BASE_PROBE} probed another base (run scripts/probe_base.py)")
    return (f"The shipped base re-probed by `scripts/probe_base.py` ({probe['n']} fresh renders per probe, "
            f"answers up to {probe['name_tokens']} tokens as in the evaluation): **Real {probe['real']:.1f}** asked "
            f"\"Who is this person?\", **{probe['real_held_out']:.1f} asked in the paraphrase probe's held-out "
            f"phrasings** (which no pretraining or fine-tuning step uses; asked in each alone: {_by_phrasing(probe)}); "
            f"World {probe['world_listing']:.1f} from "
            f"listing, {probe['world_yesno']:.1f} asked yes / no; on the same public figures, the extraction forms: "
            f"multiple choice {probe['choice']:.1f} (chance 25), confirmation {probe['confirm']:.1f} (chance 50), the "
            f"initial as a hint {probe['hint_initial']:.1f}. The Real probes of stage 1 above cut answers off at 12 "
            "tokens, which drops the end of the longer reserved names (\"This is Wilhelmina Montg\"), so they "
            "under-count: they are kept as measured.")


def _by_phrasing(probe: dict) -> str:
    """The base's Real asked in each held-out phrasing alone, as '"Who is shown in this image?" 100.0, ...'."""
    return ", ".join(f"\"{q}\" {v:.1f}" for q, v in probe["real_held_out_by_phrasing"].items())


def _stage_line(record: dict, what: str) -> str:
    hardware = record.get("hardware", {})
    return (f"{what}: {record['steps']} steps of batch {record['config']['batch_size']} "
            f"({record['steps'] * record['config']['batch_size']:,} freshly rendered examples, none repeated) at lr "
            f"{record['config']['lr']:g}, {record['wall_s'] / 60:.0f} min on {hardware.get('threads', '?')} CPU threads "
            f"({hardware.get('machine', '?')}, torch {hardware.get('torch', '?')})")


def _probe_rows(record: dict, stage: str) -> list[str]:
    return [f"| {stage} | {p['step']} | {p['real']:.1f} | {p.get('real_held_out', float('nan')):.1f} | "
            f"{p['world_listing']:.1f} | {p['world_yesno']:.1f} |" for p in record["probes"]]


def base_section() -> str:
    """What the shipped base is: its pretraining stages, time, size and held-out probes."""
    record = json.loads((BASE / "pretrain.json").read_text(encoding="utf-8"))
    stages = [record.get("earlier"), record] if record.get("earlier") else [record]
    size = sum(f.stat().st_size for f in BASE.iterdir() if f.is_file())
    begin, end = markers("base")
    lines = [_stage_line(stages[0], "one phrasing per task, from a random initialisation")]
    if len(stages) > 1:
        lines.append(_stage_line(record, "then every task in its pool of phrasings (`pebench.data.phrasings`) and the "
                                         "extraction forms, continued from those weights (`pebench pretrain --init`)"))
    rows = [row for i, stage in enumerate(stages) for row in _probe_rows(stage, str(i + 1))]
    return "\n".join([
        begin, "",
        f"The shipped base ({size / 2**20:.1f} MB on disk in float16) was pretrained in {len(stages)} stage(s): "
        + "; ".join(lines) + ". Held-out probes during pretraining (80 fresh renders each; Real: public figures named, "
        "asked \"Who is this person?\" and, from stage 2 on, in the held-out phrasings; World: POPE answered from the "
        "listed objects, and POPE asked yes / no):", "",
        "| stage | step | Real | Real, held-out phrasings | World (listing) | World (yes / no) |", "|---|---|---|---|---|---|",
        *rows, "", _base_probe_sentence(), "", end])


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
    begin, end = markers("robustness")
    return {"front": front_section(results), "results": section(results, stability),
            "robustness": "\n".join([begin, "", robustness_section(results, full), end]), "base": base_section()}


def render(page: str, names: tuple[str, ...], generated: dict[str, str]) -> str:
    """`page` with each named block replaced by its generated text."""
    for name in names:
        page = replace_block(page, *markers(name), generated[name], "a page")
    return page


def load_reference() -> dict[str, str]:
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    if not made_on_the_shipped_base(results):
        raise SystemExit(f"error: {RESULTS} was made with another base than the shipped one (store a new default run)")
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
