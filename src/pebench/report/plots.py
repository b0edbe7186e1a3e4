"""Figures from results.json and training_logs.json (matplotlib, written as PNG and SVG).

* trade-off: Efficacy against Retain, one marker per method, Finetuned and Goal as references;
* interference: the Scope drop each method causes in the other concept (person→event
  when forgetting a person, event→person when forgetting an event);
* columns: a bar panel of the six columns per method;
* loss curves: the training loss of each unlearning run.

Every method's artist carries the SVG id `marker-<method>` (`bar-…`, `curve-…`), so the
figures can be checked from their SVG files.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from pebench.core.io import atomic_path  # noqa: E402
from pebench.eval.metrics import SCALE_RANGES, column_metric  # noqa: E402
from pebench.report.tables import TABLE1_COLUMNS, _ci_rows, _rows, column_head  # noqa: E402

plt.rcParams.update({"svg.hashsalt": "pebench", "font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
MARKERS = "osD^vP<>hXp*d"
REFERENCE_STYLE = {"Finetuned": dict(marker="X", color="black", s=70), "Goal": dict(marker="*", color="tab:green", s=140)}


def _save(fig, path_stem: Path) -> list[Path]:
    out = []
    for suffix in ("png", "svg"):
        target = path_stem.with_suffix(f".{suffix}")
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=suffix, dpi=120, bbox_inches="tight", metadata={"Date": None} if suffix == "svg" else {})
        out.append(target)
    plt.close(fig)
    return out


def _finite(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def _panels(results: dict) -> list[tuple[str, str, dict]]:
    """(title, key prefix, scenario) per concept: person, event, and both's two concepts."""
    out = []
    for scenario in (s for s in ("person", "event", "both") if s in results["scenarios"]):
        sc = results["scenarios"][scenario]
        if scenario == "both":
            out += [("both: persons", "person_", sc), ("both: events", "event_", sc)]
        else:
            out.append((scenario, "", sc))
    return out


def _interval(sc: dict, name: str, key: str) -> tuple[float, float] | None:
    """A row's 95% bootstrap interval of `key` (results.json `ci95`), if finite."""
    pair = _ci_rows(sc).get(name, {}).get(key)
    return tuple(pair) if pair and all(_finite(v) for v in pair) else None


def _err(value: float, interval: tuple[float, float] | None) -> list[list[float]] | None:
    """matplotlib's asymmetric error bar [[below], [above]] for `value` within `interval`."""
    return None if interval is None else [[max(0.0, value - interval[0])], [max(0.0, interval[1] - value)]]


def _concept(title: str) -> str:
    return "event" if "event" in title else "person"


def tradeoff(results: dict, path_stem: Path, label: str = "") -> list[Path]:
    """Efficacy (y) against Retain (x) per concept panel; one marker per method."""
    panels = _panels(results)
    methods: list[str] = []
    for _, _, sc in panels:
        methods += [n for n, _ in _rows(sc) if n not in REFERENCE_STYLE and n not in methods]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.8), squeeze=False)
    fig.subplots_adjust(wspace=0.32)
    handles: dict[str, object] = {}
    for ax, (title, prefix, sc) in zip(axes[0], panels):
        for name, row in _rows(sc):
            x, y = row.get(f"{prefix}retain"), row.get(f"{prefix}efficacy")
            if not (_finite(x) and _finite(y)):
                continue
            style = REFERENCE_STYLE.get(name) or dict(marker=MARKERS[methods.index(name) % len(MARKERS)], s=48,
                                                      color=plt.cm.tab10(methods.index(name) % 10))
            xerr, yerr = _err(x, _interval(sc, name, f"{prefix}retain")), _err(y, _interval(sc, name, f"{prefix}efficacy"))
            if xerr or yerr:  # 95% bootstrap intervals over targets
                ax.errorbar([x], [y], xerr=xerr, yerr=yerr, fmt="none", ecolor=style["color"], alpha=0.45,
                            linewidth=0.9, zorder=2)
            artist = ax.scatter([x], [y], label=name, zorder=3, edgecolors="white", linewidths=0.6, **style)
            artist.set_gid(f"marker-{name}")
            handles.setdefault(name, artist)
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7)
        concept = _concept(title)
        ax.set_title(f"{title}{f' ({label})' if label else ''}")
        ax.set_xlabel(f"Retain ({SCALE_RANGES[column_metric(concept, 'retain').scale]}) →")
        ax.set_ylabel(f"Efficacy ({SCALE_RANGES[column_metric(concept, 'efficacy').scale]}) →")
        ax.grid(alpha=0.3)
    order = ["Finetuned", *methods, "Goal"]
    named = [n for n in order if n in handles]
    axes[0][-1].legend([handles[n] for n in named], named, fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5),
                       frameon=False)
    fig.suptitle("Forgetting vs retention (top right is best)", fontsize=10)
    return _save(fig, path_stem)


def interference(results: dict, path_stem: Path) -> list[Path] | None:
    """Relative Scope drop (% of Finetuned) per method: person→event and event→person."""
    pairs = [(s, "person→event" if s == "person" else "event→person") for s in ("person", "event") if s in results["scenarios"]]
    if not pairs:
        return None
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(results["scenarios"][pairs[0][0]]["methods"]) + 2), 3.6))
    width = 0.8 / len(pairs)
    names: list[str] = []
    for scenario, _ in pairs:
        names += [n for n in results["scenarios"][scenario]["methods"] if n not in names]
    for i, (scenario, title) in enumerate(pairs):
        sc = results["scenarios"][scenario]
        base = sc["finetuned"].get("scope")
        drops = [100 * (base - sc["methods"][n]["scope"]) / base if n in sc["methods"] and _finite(base) and base else 0.0
                 for n in names]
        bars = ax.bar([j + i * width for j in range(len(names))], drops, width, label=title)
        for name, bar in zip(names, bars):
            bar.set_gid(f"bar-{scenario}-{name}")
    ax.set_xticks([j + width * (len(pairs) - 1) / 2 for j in range(len(names))], names, rotation=30, ha="right")
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_ylabel("Scope drop (% of Finetuned)")
    ax.set_title("Cross-concept interference (lower is better)")
    ax.legend(frameon=False)
    return _save(fig, path_stem)


def columns_panel(results: dict, path_stem: Path) -> list[Path] | None:
    """One bar chart per (concept, column): every row's value, references included."""
    panels = [(t, p, sc) for t, p, sc in _panels(results) if not p]  # single-target scenarios
    if not panels:
        return None
    fig, axes = plt.subplots(len(panels), len(TABLE1_COLUMNS), figsize=(2.3 * len(TABLE1_COLUMNS), 2.6 * len(panels)),
                             squeeze=False)
    for r, (title, _, sc) in enumerate(panels):
        rows = _rows(sc)
        for c, column in enumerate(TABLE1_COLUMNS):
            ax = axes[r][c]
            values = [row.get(column) if _finite(row.get(column)) else 0.0 for _, row in rows]
            colors = ["black" if n == "Finetuned" else "tab:green" if n == "Goal" else "tab:blue" for n, _ in rows]
            errs = [_err(v, _interval(sc, n, column)) or [[0.0], [0.0]] for v, (n, _) in zip(values, rows)]
            bars = ax.bar(range(len(rows)), values, color=colors,
                          yerr=[[e[0][0] for e in errs], [e[1][0] for e in errs]], error_kw={"linewidth": 0.8})
            for (name, _), bar in zip(rows, bars):
                bar.set_gid(f"bar-{title}-{column}-{name}")
            ax.set_xticks(range(len(rows)), [n for n, _ in rows], rotation=90, fontsize=6)
            ax.set_title(column_head(title, column), fontsize=8)
    fig.tight_layout()
    return _save(fig, path_stem)


def loss_curves(training: dict, scenarios: list[str], path_stem: Path) -> list[Path] | None:
    """Training loss against step for each unlearning run, one panel per scenario."""
    panels = [s for s in ("person", "event", "both") if s in scenarios and any(k.startswith(f"{s}/") for k in training)]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, scenario in zip(axes[0], panels):
        for label, log in sorted(training.items()):
            if not label.startswith(f"{scenario}/") or not any("loss" in h for h in log.get("history", [])):
                continue  # a method without training steps (MANU logs what it pruned) has no curve
            name = label.split("/", 1)[1]
            steps = [h["step"] for h in log["history"]]
            (line,) = ax.plot(steps, [h["loss"] for h in log["history"]], label=name, linewidth=1.2)
            line.set_gid(f"curve-{scenario}-{name}")
        ax.set_title(f"unlearning loss: {scenario}")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    return _save(fig, path_stem)


def comparison_tradeoff(runs: list[tuple[str, dict]], path_stem: Path) -> list[Path]:
    """Efficacy against Retain for several runs: colour per run, marker per method."""
    scenarios = [s for s in ("person", "event") if all(s in r["scenarios"] for _, r in runs)]
    fig, axes = plt.subplots(1, max(1, len(scenarios)), figsize=(4.6 * max(1, len(scenarios)), 3.8), squeeze=False)
    for ax, scenario in zip(axes[0], scenarios):
        names: list[str] = []
        for _, r in runs:
            names += [n for n, _ in _rows(r["scenarios"][scenario]) if n not in names]
        for i, (label, r) in enumerate(runs):
            for name, row in _rows(r["scenarios"][scenario]):
                if _finite(row.get("retain")) and _finite(row.get("efficacy")):
                    artist = ax.scatter([row["retain"]], [row["efficacy"]], marker=MARKERS[names.index(name) % len(MARKERS)],
                                        color=plt.cm.tab10(i % 10), s=46, label=f"{label}: {name}")
                    artist.set_gid(f"marker-{label}-{name}")
        ax.set_title(scenario)
        ax.set_xlabel("Retain →")
        ax.set_ylabel("Efficacy →")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False, ncol=len(runs))
    return _save(fig, path_stem)
