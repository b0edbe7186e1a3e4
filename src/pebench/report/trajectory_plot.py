"""plots/trajectory.{png,svg}: each method's path through (Retain, Efficacy) during unlearning,
on the fixed subset of evaluation during unlearning, from the Finetuned model (step 0) to the
final model; the checkpoint its rule picks is ringed, the Goal is the star."""

from __future__ import annotations

from pathlib import Path

from pebench.report.plots import MARKERS, REFERENCE_STYLE, _save, plt
from pebench.report.robustness import stepped
from pebench.report.tables import SCENARIO_ORDER


def _panels(results: dict) -> list[tuple[str, str, dict]]:
    out = []
    for scenario in (s for s in SCENARIO_ORDER if results["scenarios"].get(s, {}).get("trajectory")):
        traj = results["scenarios"][scenario]["trajectory"]
        prefixes = ("person_", "event_") if scenario == "both" else ("",)
        out += [(f"{scenario}{': ' + p[:-1] + 's' if p else ''}", p, traj) for p in prefixes]
    return out


def trajectory_plot(results: dict, path_stem: Path) -> list[Path] | None:
    panels = _panels(results)
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.8), squeeze=False)
    for ax, (title, prefix, traj) in zip(axes[0], panels):
        eff, ret = f"{prefix}efficacy", f"{prefix}retain"
        order = [m for m in results.get("config", {}).get("methods", []) if m in stepped(traj)]
        for i, (name, t) in enumerate((m, traj["methods"][m]) for m in order):
            colour = plt.cm.tab10(i % 10)
            xs, ys = [p[ret] for p in t["points"]], [p[eff] for p in t["points"]]
            ax.plot(xs, ys, marker=MARKERS[i % len(MARKERS)], markersize=3.5, linewidth=1, color=colour, label=name)
            if t["chosen"]:
                ax.scatter([t["chosen"][ret]], [t["chosen"][eff]], s=90, facecolors="none", edgecolors=colour, zorder=4)
        ax.scatter([traj["goal"][ret]], [traj["goal"][eff]], label="Goal", zorder=5, **REFERENCE_STYLE["Goal"])
        ax.set_title(f"{title}: during unlearning")
        ax.set_xlabel("Retain (subset) →")
        ax.set_ylabel("Efficacy (subset) →")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    fig.suptitle("From the Finetuned model (step 0) to the final model; ringed: the rule's checkpoint", fontsize=10)
    return _save(fig, path_stem)


def sequential_plot(results: dict, path_stem: Path) -> list[Path] | None:
    """plots/sequential: Efficacy on the first request, and Retain, after each request."""
    seq = results.get("sequential")
    if not seq or not seq["methods"]:
        return None
    first, steps = seq["requests"][0], range(1, len(seq["requests"]) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(9.2, 3.6))
    for ax, key, label in zip(axes, (first, "person_retain"), (f"Efficacy on '{first}'", "person Retain")):
        order = [m for m in results.get("config", {}).get("methods", []) if m in seq["methods"]]
        for i, (name, after) in enumerate((m, seq["methods"][m]) for m in order):
            ax.plot(list(steps), [p.get(key) for p in after], marker=MARKERS[i % len(MARKERS)], markersize=4, linewidth=1,
                    color=plt.cm.tab10(i % 10), label=name)
        ax.axhline(seq["goal"][key], color=REFERENCE_STYLE["Goal"]["color"], linestyle="--", linewidth=1, label="Goal")
        ax.set_xticks(list(steps), [f"{k}: {r}" for k, r in zip(steps, seq["requests"])], fontsize=7)
        ax.set_xlabel("after request")
        ax.set_ylabel(f"{label} →")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    fig.suptitle("Sequential requests: does the first request stay forgotten, and does Retain hold?", fontsize=10)
    return _save(fig, path_stem)
