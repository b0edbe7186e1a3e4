"""Everything a reader looks at, rebuilt from a finished run's files alone (results.json,
training_logs.json and samples/): tables (Markdown, CSV, LaTeX), plots (PNG, SVG), worked
examples and a self-contained `report.html`; and a comparison of several runs.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from pebench.core.errors import PebenchError
from pebench.core.io import read_json, write_text
from pebench.core.progress import log
from pebench.eval.metrics import column_metric
from pebench.report import plots
from pebench.report.examples import image_data_uris, pick_examples
from pebench.report.html import comparison_page, report_page
from pebench.report.robustness import robustness_csv, robustness_tables, sequential_table, trajectory_tables
from pebench.report.schema import checked_results
from pebench.report.tables import (
    TABLE1_COLUMNS,
    Table,
    column_head,
    metric_cell,
    privacy_tables,
    table1,
    table2,
    to_csv,
    to_latex,
    to_markdown,
)
from pebench.report.trajectory_plot import sequential_plot, trajectory_plot


def load_run(run_dir: str | Path) -> dict:
    """results.json of a finished run, or a PebenchError saying what is missing."""
    run_dir = Path(run_dir)
    if not (run_dir / "results.json").is_file():
        raise PebenchError(f"{run_dir} has no results.json (is it a finished pebench run directory?)")
    results = checked_results(read_json(run_dir / "results.json"), str(run_dir / "results.json"))
    return in_config_order(results)


def in_config_order(results: dict) -> dict:
    """`results` with each scenario's methods (and their stds) in the config's method order
    (results.json stores keys sorted)."""
    order = list(results.get("config", {}).get("methods", []))

    def ordered(methods: dict) -> dict:
        return {m: methods[m] for m in sorted(methods, key=lambda m: (order.index(m) if m in order else len(order), m))}

    for sc in results["scenarios"].values():
        sc["methods"] = ordered(sc["methods"])
        if "std" in sc:
            sc["std"]["methods"] = ordered(sc["std"]["methods"])
    return results


def write_tables(run_dir: Path, results: dict) -> list[Table]:
    """Write table.{md,csv,tex}, table2.{md,csv,tex} (scenario both), privacy.{md,tex} and
    robustness.{md,csv,tex} (probed scenarios);
    returns the tables written."""
    main = {"table": table1(results), "table2": table2(results)}
    privacy = privacy_tables(results)
    robustness = robustness_tables(results) + trajectory_tables(results) + [t for t in [sequential_table(results)] if t]
    warnings = [f"Warning: {w}." for w in results.get("warnings", [])]
    for table in [t for t in main.values() if t] + privacy + robustness:  # every table carries the run's warnings
        table.note = " ".join([table.note, *warnings]).strip()
    tex_head = "".join(f"% {w}\n" for w in warnings)
    for stem, table in main.items():
        if table is None:
            continue
        for suffix, render in (("md", to_markdown), ("csv", to_csv), ("tex", lambda t: tex_head + to_latex(t))):
            write_text(run_dir / f"{stem}.{suffix}", render(table))
    if privacy:
        write_text(run_dir / "privacy.md", "\n".join(to_markdown(t, title=True) for t in privacy))
        write_text(run_dir / "privacy.tex", tex_head + "\n".join(to_latex(t) for t in privacy))
    if robustness:
        write_text(run_dir / "robustness.md", "\n".join(to_markdown(t, title=True) for t in robustness))
        write_text(run_dir / "robustness.csv", robustness_csv(robustness))
        write_text(run_dir / "robustness.tex", tex_head + "\n".join(to_latex(t) for t in robustness))
    return [t for t in main.values() if t] + privacy + robustness


def write_plots(run_dir: Path, results: dict) -> dict[str, list[Path]]:
    """plots/{tradeoff,interference,columns,loss_curves,trajectory,sequential}.{png,svg}, whichever apply."""
    out = run_dir / "plots"
    training = read_json(run_dir / "training_logs.json") if (run_dir / "training_logs.json").is_file() else {}
    made = {"tradeoff": plots.tradeoff(results, out / "tradeoff"),
            "interference": plots.interference(results, out / "interference"),
            "columns": plots.columns_panel(results, out / "columns"),
            "loss_curves": plots.loss_curves(training, list(results["scenarios"]), out / "loss_curves"),
            "trajectory": trajectory_plot(results, out / "trajectory"),
            "sequential": sequential_plot(results, out / "sequential")}
    return {k: v for k, v in made.items() if v}


def write_report(run_dir: str | Path) -> Path:
    """(Re)build every table, plot and report.html of a finished run from its files; returns report.html."""
    run_dir = Path(run_dir)
    results = load_run(run_dir)
    try:
        examples = pick_examples(run_dir, results)
        dataset = results.get("dataset", {}).get("path")
        images = image_data_uris(dataset, {e.image_id for e in examples})
        if examples and not images:
            missing = (f"the dataset {dataset} is gone (pruned from the stage store, or moved), so the report shows "
                       "no example images; rerun the same command to rebuild it")
            log.warning(missing)
            results["warnings"] = [*results.get("warnings", []), missing]
        tables = write_tables(run_dir, results)
        figures = write_plots(run_dir, results)
        page = report_page(results, tables, {k: v[0] for k, v in figures.items()}, examples, images)
    except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:  # a shape the schema lets through
        raise PebenchError(f"{run_dir / 'results.json'} is not a pebench results file this version can report "
                           f"({type(exc).__name__}: {exc})") from None
    write_text(run_dir / "report.html", page)
    return run_dir / "report.html"


def _labels(run_dirs: list[Path]) -> list[str]:
    names = [d.resolve().name for d in run_dirs]
    return names if len(set(names)) == len(names) else [f"{i + 1}:{n}" for i, n in enumerate(names)]


def comparison_tables(runs: list[tuple[str, dict]]) -> list[Table]:
    """Per scenario run by every run: methods as rows, each column of Table 1 per run."""
    tables = []
    for scenario in ("person", "event"):
        if not all(scenario in r["scenarios"] for _, r in runs):
            continue
        names: list[str] = []
        for _, r in runs:
            sc = r["scenarios"][scenario]
            names += [n for n in ["Finetuned", *sc["methods"], "Goal"] if n not in names]
        header = ["Method"] + [f"{column_head(scenario, col)} [{label}]" for col in TABLE1_COLUMNS for label, _ in runs]
        rows = []
        for name in names:
            cells = []
            for col in TABLE1_COLUMNS:
                for _, r in runs:
                    sc = r["scenarios"][scenario]
                    row = {"Finetuned": sc["finetuned"], "Goal": sc["goal"]}.get(name, sc["methods"].get(name, {}))
                    cells.append(metric_cell(column_metric(scenario, col), row.get(col)))
            rows.append((name, cells))
        tables.append(Table(f"{scenario}: runs side by side", header, rows, bold_best=False, label=f"tab:compare-{scenario}"))
    return tables


def long_csv(runs: list[tuple[str, dict]]) -> str:
    """Every metric of every row of every run: run, scenario, row, metric, value."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["run", "scenario", "row", "metric", "value"])
    for label, r in runs:
        for scenario, sc in r["scenarios"].items():
            for name, row in [("Finetuned", sc["finetuned"]), *sc["methods"].items(), ("Goal", sc["goal"])]:
                for metric, value in sorted(row.items()):
                    writer.writerow([label, scenario, name, metric, repr(float(value))])
    return buf.getvalue()


def write_comparison(run_dirs: list[str | Path], out: str | Path) -> Path:
    """comparison.{md,csv,html} and a joint trade-off plot of several finished runs in `out`."""
    dirs = [Path(d) for d in run_dirs]
    runs = list(zip(_labels(dirs), [load_run(d) for d in dirs]))
    out = Path(out)
    tables = comparison_tables(runs)
    if not tables:
        raise PebenchError("the runs share no single-target scenario (person or event) to compare")
    write_text(out / "comparison.md", "\n".join(to_markdown(t, title=True) for t in tables))
    write_text(out / "comparison.csv", long_csv(runs))
    figure = plots.comparison_tradeoff(runs, out / "comparison_tradeoff")[0]
    configs = {label: r.get("config", {}) for label, r in runs}
    write_text(out / "comparison.html", comparison_page(runs, tables, figure, json.dumps(configs, indent=2)))
    return out / "comparison.html"


__all__ = ["load_run", "write_report", "write_comparison", "write_tables", "write_plots"]
