"""Tables in the paper's layouts, built from results.json alone, rendered as Markdown, CSV,
LaTeX (booktabs) and HTML.

Table 1: single-target scenarios, person and event column groups. Table 2: scenario
`both`, no Scope column, the change against the base method in parentheses for `X+BGD`
rows. The privacy table: forget quality, membership-inference AUCs and POPE F1 per
sampling setting, per scenario. Every column's header, scale, direction and note come from
its registered metric (`pebench.eval.metrics`); the best method value of each column by its
direction is bold (Finetuned and Goal are references, not candidates).
With several seeds every cell is mean ± std; with one seed, Table 1/2 cells carry their 95%
bootstrap interval over forget targets in brackets.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from html import escape

from pebench.report.resolution import resolution_note
from pebench.eval.metrics import DIRECTIONS, METRICS, SCALE_RANGES, Metric, column_metric, rank, table_metrics

TABLE1_COLUMNS = ("efficacy", "generality", "retain", "scope", "real", "world")  # the paper's layouts
TABLE2_COLUMNS = ("efficacy", "generality", "retain", "real", "world")
REFERENCE_ROWS = ("Finetuned", "Goal")
SCENARIO_ORDER = ("person", "event", "both")
DIRECTION_WORDS = {"higher": "higher is better", "lower": "lower is better", "chance": "0.5 is best"}


def column_head(concept: str, column: str) -> str:
    """`P-Eff`, `E-Scope`, `P-World`: a Table 1 column's header (World is measured in each scenario)."""
    return f"{concept[0].upper()}-{column_metric(concept, column).head}"


def metrics_note(metrics: list[tuple[str, Metric]]) -> str:
    """A table note from its columns' specs, (header, metric) pairs: the direction, then each
    measure with its scale ("P-Eff/P-Ret: name precision (0-100); …")."""
    directions = {m.direction for _, m in metrics}
    lead = (f"{DIRECTION_WORDS[directions.pop()].capitalize()} everywhere. " if len(directions) == 1 else
            "; ".join(f"{'/'.join(h for h, m in metrics if m.direction == d)}: {DIRECTION_WORDS[d]}"
                      for d in DIRECTIONS if d in directions) + ". ")
    groups: dict[tuple[str, str], list[str]] = {}
    for head, m in metrics:
        groups.setdefault((m.measure, m.scale), []).append(head)
    return lead + "; ".join(f"{'/'.join(heads)}: {measure}" + (f" ({SCALE_RANGES[scale]})" if scale != "p_value" else "")
                            for (measure, scale), heads in groups.items()) + "."


def fmt(value: float | None, scale: str = "percent") -> str:
    """0-1 values with 3 decimals, 0-100 values with 2, p-values with two significant digits,
    counts as whole numbers; missing as a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return {"unit": f"{value:.3f}", "p_value": f"{value:.2g}", "count": str(int(value))}.get(scale, f"{value:.2f}")


@dataclass
class Cell:
    value: float | None
    std: float | None = None
    scale: str = "percent"  # a metric scale (`pebench.eval.metrics.SCALES`): how the value is written
    delta: float | None = None  # Table 2: change against the base method
    best: bool = False
    ci: list[float] | None = None  # 95% bootstrap interval [lo, hi]
    direction: str = "higher"  # which value of the column is best

    def text(self) -> str:
        out = fmt(self.value, self.scale)
        if self.std is not None and out != "–":
            out += f" ± {fmt(self.std, self.scale)}"
        digits = 3 if self.scale == "unit" else 0
        if self.ci is not None and out != "–" and not any(math.isnan(v) for v in self.ci):
            out += " [{:.{d}f}–{:.{d}f}]".format(*self.ci, d=digits)
        if self.delta is not None:
            out += f" ({self.delta:+.{3 if self.scale == 'unit' else 1}f})"
        return out


def metric_cell(metric: Metric, value: float | None, **kw) -> Cell:
    """A cell written and ranked as `metric` declares."""
    return Cell(value, scale=metric.scale, direction=metric.direction, **kw)


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[tuple[str, list[Cell]]]
    note: str = ""
    bold_best: bool = True
    label: str = ""

    def mark_best(self) -> "Table":
        """Mark the best method value of each column by its direction (references excluded; none
        when every method ties, as nothing stands out)."""
        if not self.bold_best:
            return self
        for c in range(len(self.header) - 1):
            cells = [cells[c] for name, cells in self.rows if name not in REFERENCE_ROWS
                     and cells[c].value is not None and not math.isnan(cells[c].value)]
            ranks = [rank(cell.value, cell.direction) for cell in cells]
            if len(ranks) == 1 or len(set(ranks)) > 1:
                for cell, r in zip(cells, ranks):
                    cell.best = r == max(ranks)
        return self


def _rows(scenario: dict) -> list[tuple[str, dict]]:
    return [("Finetuned", scenario["finetuned"]), *scenario["methods"].items(), ("Goal", scenario["goal"])]


def _std_rows(scenario: dict) -> dict[str, dict]:
    std = scenario.get("std")
    if not std:
        return {}
    return {"Finetuned": std["finetuned"], "Goal": std["goal"], **std["methods"]}


def _ci_rows(scenario: dict) -> dict[str, dict]:
    ci = scenario.get("ci95")
    if not ci:
        return {}
    return {"Finetuned": ci.get("finetuned", {}), "Goal": ci.get("goal", {}), **ci.get("methods", {})}


def _columns_note(concepts, columns) -> str:
    return metrics_note([(column_head(g, c), column_metric(g, c)) for g in concepts for c in columns
                         if c != "world"] + [("World", column_metric(concepts[0], "world"))])


def table1(results: dict) -> Table | None:
    """Table 1 (person and/or event groups, whichever scenarios ran); None without either."""
    groups = [g for g in ("person", "event") if g in results["scenarios"]]
    if not groups:
        return None
    names: list[str] = []
    for g in groups:
        names += [n for n, _ in _rows(results["scenarios"][g]) if n not in names]
    names = ["Finetuned"] + [n for n in names if n not in REFERENCE_ROWS] + ["Goal"]
    header = ["Method"] + [column_head(g, c) for g in groups for c in TABLE1_COLUMNS]
    rows = []
    for name in names:
        cells = []
        for g in groups:
            sc = results["scenarios"][g]
            row, std, ci = dict(_rows(sc)).get(name, {}), _std_rows(sc).get(name, {}), _ci_rows(sc).get(name, {})
            cells += [metric_cell(column_metric(g, c), row.get(c), std=std.get(c), ci=ci.get(c)) for c in TABLE1_COLUMNS]
        rows.append((name, cells))
    return Table("Table 1: forgetting one person or one event", header, rows, _columns_note(groups, TABLE1_COLUMNS),
                 label="tab:pebench1").mark_best()


def table2(results: dict) -> Table | None:
    """Table 2: persons and events forgotten at once (scenario `both`); None if it did not run."""
    if "both" not in results["scenarios"]:
        return None
    sc = results["scenarios"]["both"]
    by_name, stds, cis = dict(_rows(sc)), _std_rows(sc), _ci_rows(sc)
    concepts = ("person", "event")
    header = ["Method"] + [column_head(g, c) for g in concepts for c in TABLE2_COLUMNS]
    rows = []
    for name, row in _rows(sc):
        base = by_name.get(name.split("+")[0]) if "+" in name else None
        cells = []
        for g in concepts:
            for c in TABLE2_COLUMNS:
                key, value = f"{g}_{c}", row.get(f"{g}_{c}")
                delta = value - base[key] if base is not None and value is not None and base.get(key) is not None else None
                cells.append(metric_cell(column_metric(g, c), value, std=stds.get(name, {}).get(key), delta=delta,
                                         ci=cis.get(name, {}).get(key)))
        rows.append((name, cells))
    return Table("Table 2: forgetting persons and events at once", header, rows, _columns_note(concepts, TABLE2_COLUMNS),
                 label="tab:pebench2").mark_best()


def _privacy_columns(rows: list[tuple[str, dict]], prefix: str) -> list[tuple[str, str, Metric]]:
    """(results key, header, metric) of the privacy table: the registered row metrics the rows
    carry, then POPE F1 of every setting evaluated."""
    columns = [(m.name, m.head, m) for m in table_metrics("privacy")
               if m.compute is not None and any(m.name in r for _, r in rows)]
    f1 = METRICS.get("world_f1")
    return columns + [(f"{prefix}world_{s}_f1", f"POPE-{s} F1", f1) for s in ("random", "popular", "adversarial")
                      if f"{prefix}world_{s}_f1" in rows[0][1]]


def privacy_tables(results: dict) -> list[Table]:
    """One table per scenario: the registered privacy metrics (forget quality, MIA AUCs) and
    POPE F1 per setting; the best method value of each column (by its direction) in bold."""
    tables = []
    for scenario in (s for s in SCENARIO_ORDER if s in results["scenarios"]):
        sc = results["scenarios"][scenario]
        rows, stds = _rows(sc), _std_rows(sc)
        columns = _privacy_columns(rows, "person_" if scenario == "both" else "")
        if not columns:
            continue
        body = [(name, [metric_cell(m, row.get(k), std=stds.get(name, {}).get(k)) for k, _, m in columns])
                for name, row in rows]
        note = " ".join(filter(None, [metrics_note([(h, m) for _, h, m in columns]), resolution_note(rows)]))
        tables.append(Table(f"Privacy and World: {scenario}", ["Method", *(h for _, h, _ in columns)], body, note,
                            label=f"tab:privacy-{scenario}").mark_best())
    return tables


# ---- renderers ------------------------------------------------------------------------
def to_markdown(table: Table, title: bool = False) -> str:
    """A GitHub Markdown table (best values in **bold**), the note below it."""
    lines = [f"**{table.title}**", ""] if title else []
    lines += ["| " + " | ".join(table.header) + " |", "|" + "---|" * len(table.header)]
    for name, cells in table.rows:
        lines.append("| " + " | ".join([name, *(f"**{c.text()}**" if c.best else c.text() for c in cells)]) + " |")
    return "\n".join(lines) + "\n" + (f"\n{table.note}\n" if table.note else "")


def to_csv(table: Table) -> str:
    """CSV with plain numbers: a value column per table column, plus `<col> std` columns when seeds > 1
    and `<col> ci95 lo` / `<col> ci95 hi` columns when the cells have bootstrap intervals."""
    has_std = any(c.std is not None for _, cells in table.rows for c in cells)
    has_ci = any(c.ci is not None for _, cells in table.rows for c in cells)
    header = ["Method"]
    for h in table.header[1:]:
        header += [h] + ([f"{h} std"] if has_std else []) + ([f"{h} ci95 lo", f"{h} ci95 hi"] if has_ci else [])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    number = lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else repr(float(v))  # noqa: E731
    for name, cells in table.rows:
        row = [name]
        for c in cells:
            row += [number(c.value)] + ([number(c.std)] if has_std else [])
            row += [number(c.ci[0]), number(c.ci[1])] if has_ci and c.ci else ["", ""] if has_ci else []
        writer.writerow(row)
    return buf.getvalue()


def _latex_escape(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"), ("±", r"$\pm$"),
                 ("–", "--")):
        text = text.replace(a, b)
    return text


def to_latex(table: Table) -> str:
    """A booktabs table (needs \\usepackage{booktabs}); best values in \\textbf."""
    spec = "l" + "r" * (len(table.header) - 1)
    lines = [r"\begin{table}[t]", r"\centering", r"\small", rf"\caption{{{_latex_escape(table.title)}}}",
             rf"\label{{{table.label}}}", rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
             " & ".join(_latex_escape(h) for h in table.header) + r" \\", r"\midrule"]
    for i, (name, cells) in enumerate(table.rows):
        if name == "Goal" or (i == 1 and table.rows[0][0] == "Finetuned"):
            lines.append(r"\midrule")
        texts = [rf"\textbf{{{_latex_escape(c.text())}}}" if c.best else _latex_escape(c.text()) for c in cells]
        lines.append(" & ".join([_latex_escape(name), *texts]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def to_html(table: Table) -> str:
    """An HTML <table> with a caption; best values in <strong>, reference rows marked."""
    head = "".join(f"<th>{escape(h)}</th>" for h in table.header)
    body = []
    for name, cells in table.rows:
        cls = ' class="reference"' if name in REFERENCE_ROWS else ""
        tds = "".join(f"<td><strong>{escape(c.text())}</strong></td>" if c.best else f"<td>{escape(c.text())}</td>"
                      for c in cells)
        body.append(f"<tr{cls}><th scope=\"row\">{escape(name)}</th>{tds}</tr>")
    note = f'<p class="note">{escape(table.note)}</p>' if table.note else ""
    return (f'<table class="results"><caption>{escape(table.title)}</caption><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>{note}")


def table1_markdown(results: dict) -> str:
    """Table 1 as Markdown (a sentence when no single-target scenario ran)."""
    table = table1(results)
    return to_markdown(table) if table else "No single-target scenario (person/event) was run.\n"


def table2_markdown(results: dict) -> str:
    """Table 2 as Markdown (requires scenario `both`)."""
    table = table2(results)
    return to_markdown(table) if table else "Scenario `both` was not run.\n"


def privacy_markdown(results: dict) -> str:
    """Every scenario's privacy table as Markdown, titled by scenario."""
    return "\n".join(to_markdown(t, title=True) for t in privacy_tables(results))
