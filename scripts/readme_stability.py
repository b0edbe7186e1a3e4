"""The README's stability paragraph, written by readme_results.py from `benchmarks/stability.py`'s
stored record, with a caveat when the record was made on another base or with other settings
than the reference run's tables."""

from __future__ import annotations

from statistics import median

from readme_base import made_on_the_shipped_base


# What a stability record must share with the reference run for its figures to describe the
# run's tables (it differs in seeds and probes by design).
SHARED_SETTINGS = ("data", "split", "model", "foundation", "finetune", "goal", "unlearn", "eval", "methods", "scenarios")


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
            f"{_event_stability(stability)}{_retain_spread(stability)}{_sampling_note(stability, results)}\n")


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


def bootstrap_se(results: dict, column: str) -> dict[str, float]:
    """Each person-scenario method's standard error of `column` over forget targets, read off the
    reference run's 95% bootstrap interval (width / 3.92, as for a normal mean)."""
    intervals = results["scenarios"]["person"].get("ci95", {}).get("methods", {})
    return {m: (ci[column][1] - ci[column][0]) / 3.92 for m, ci in intervals.items() if column in ci}


def _sampling_note(stability: dict, results: dict | None) -> str:
    """Whether the spread between seeds is the one the run's own intervals predict: each seed
    forgets other persons, so a cell moves by about its bootstrap standard error."""
    if not results or _provenance_caveat(stability, results):
        return ""  # a record made otherwise than the run does not describe its intervals' spread
    se = bootstrap_se(results, "efficacy")
    if not se:
        return ""
    persons = len(results["scenarios"]["person"].get("forget", {}).get("persons", []))
    return (f" The tables' own intervals predict the spread of person Efficacy: its median standard error over "
            f"forget targets in the reference run is {median(se.values()):.2f} points (interval width / 3.92), against "
            f"its median std of {stability['summary']['median_std_person_efficacy']:.2f} between seeds; each seed draws its own "
            f"{persons} forget persons, so a cell moves as its brackets say, and only more forget persons per run "
            "would narrow both.")
