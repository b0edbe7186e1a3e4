"""Self-contained HTML pages: every plot and image is embedded as a data URI, so a page
opens from disk with no server and no network."""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path

from pebench.report.examples import Example
from pebench.report.tables import SCENARIO_ORDER, Table, to_html

STYLE = """
body{font-family:system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}
table.results{border-collapse:collapse;font-size:.85rem;margin:.6rem 0}
table.results caption{text-align:left;font-weight:600;padding:.3rem 0}
table.results th,table.results td{border-bottom:1px solid #e4e4e4;padding:.25rem .55rem;text-align:right}
table.results th[scope=row]{text-align:left}
table.results tr.reference{background:#f6f6f6;font-style:italic}
p.note{font-size:.78rem;color:#555}
p.warning{background:#fff3cd;border:1px solid #e0c36a;padding:.4rem .6rem}
figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #eee}
.examples td,.examples th{vertical-align:top;border-bottom:1px solid #eee;padding:.3rem .5rem;font-size:.82rem;text-align:left}
.examples img{width:128px;image-rendering:pixelated}
pre{background:#f7f7f7;padding:.8rem;overflow:auto;font-size:.75rem;max-height:30rem}
nav a{margin-right:1rem}
"""

# Marks the page as loaded and records script errors on the root element, so a headless
# browser test can read both from the DOM.
SCRIPT = """
window.addEventListener('error', function (e) {
  document.documentElement.dataset.errors = (document.documentElement.dataset.errors || '') + e.message + ';';
});
document.addEventListener('DOMContentLoaded', function () {
  var n = document.querySelectorAll('table.results').length + document.querySelectorAll('figure img').length;
  document.documentElement.dataset.ready = String(n);
});
"""


def _data_uri(path: Path) -> str:
    mime = {"png": "image/png", "svg": "image/svg+xml"}[path.suffix.lstrip(".")]
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style>'
            f"<script>{SCRIPT}</script></head><body>{body}</body></html>\n")


def _figure(path: Path, caption: str) -> str:
    return (f'<figure id="fig-{escape(path.stem)}"><img alt="{escape(caption)}" src="{_data_uri(path)}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


FIGURE_CAPTIONS = {
    "tradeoff": "Forgetting (Efficacy) against retention (Retain): one marker per method; Finetuned and Goal are references.",
    "interference": "Cross-concept interference: how much of the other concept's Scope each method destroys.",
    "columns": "Every column of Table 1 per method.",
    "loss_curves": "Training loss of each unlearning run.",
    "trajectory": "Evaluation during unlearning: each method's path from the Finetuned model to its final model on a "
                  "fixed subset; ringed: the checkpoint the stated rule picks; the star is the Goal.",
    "sequential": "Sequential requests: Efficacy on the first request and person Retain after each request; dashed: Goal.",
}


def _examples_html(examples: list[Example], images: dict[str, str]) -> str:
    if not examples:
        return "<p>No per-sample files were found.</p>"
    rows = examples[0].answers.keys()
    head = "<tr><th>image</th><th>set</th><th>question / reference</th>" + "".join(
        f"<th>{escape(r)}</th>" for r in rows) + "</tr>"
    body = []
    for ex in examples:
        img = f'<img alt="{escape(ex.image_id)}" src="{images[ex.image_id]}">' if ex.image_id in images else ""
        where = "forget" if ex.set == "f_train" else "retain"
        answers = "".join(f"<td>{escape(ex.answers.get(r, '–'))}</td>" for r in rows)
        body.append(f"<tr><td>{img}<br><code>{escape(ex.image_id)}</code></td><td>{ex.scenario} {where}</td>"
                    f"<td><em>{escape(ex.question)}</em><br>{escape(ex.reference)}</td>{answers}</tr>")
    return f'<table class="examples"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'


def report_page(results: dict, tables: list[Table], figures: dict[str, Path], examples: list[Example],
                images: dict[str, str]) -> str:
    """The run's report.html."""
    cfg = results.get("config", {})
    versions = ", ".join(f"{k} {v}" for k, v in sorted(results.get("versions", {}).items()))
    seeds = results.get("seeds", [results.get("seed")])
    parts = [
        "<h1>PEBench report</h1>",
        f"<p>Model <code>{escape(str(cfg.get('model', {}).get('path') or cfg.get('model', {}).get('name')))}</code>, "
        f"judge <code>{escape(str(cfg.get('eval', {}).get('judge')))}</code>, seeds {escape(str(seeds))}, "
        f"scenarios {escape(', '.join(s for s in SCENARIO_ORDER if s in results['scenarios']))}. {escape(versions)}</p>",
        *(f'<p class="warning"><strong>Warning:</strong> {escape(w)}.</p>' for w in results.get("warnings", [])),
        '<nav><a href="#tables">Tables</a><a href="#plots">Plots</a><a href="#examples">Examples</a>'
        '<a href="#config">Config</a></nav>',
        '<h2 id="tables">Tables</h2>', *(to_html(t) for t in tables),
        '<h2 id="plots">Plots</h2>', *(_figure(p, FIGURE_CAPTIONS.get(k, k)) for k, p in figures.items()),
        '<h2 id="examples">Examples</h2>',
        "<p>Forget and retain questions with every model's answer: a method that forgot answers the forget rows like "
        "the Goal model and the retain rows like the Finetuned model.</p>",
        _examples_html(examples, images),
        '<h2 id="config">Resolved config</h2>', f"<pre>{escape(json.dumps(cfg, indent=2, sort_keys=True))}</pre>",
        f"<h2>Timings (s)</h2><pre>{escape(json.dumps(results.get('timings_s', {}), indent=2, sort_keys=True))}</pre>",
    ]
    return _page("PEBench report", "\n".join(parts))


def comparison_page(runs: list[tuple[str, dict]], tables: list[Table], figure: Path, configs_json: str) -> str:
    """comparison.html for several runs."""
    parts = ["<h1>PEBench comparison</h1>", f"<p>Runs: {escape(', '.join(label for label, _ in runs))}</p>",
             *(to_html(t) for t in tables), _figure(figure, "Efficacy against Retain: colour per run, marker per method."),
             f"<h2>Configs</h2><pre>{escape(configs_json)}</pre>"]
    return _page("PEBench comparison", "\n".join(parts))
