"""Stability of the default run over seeds: split + Goal + unlearning repeated over N seeds
(the data, the shipped base and the Finetuned model are shared). Reports each cell's std over
seeds and the agreement of method rankings between seeds (Kendall τ of (Efficacy + Retain) / 2).
Prints JSON and writes it to --json.

    python benchmarks/stability.py --run RUN_DIR [--seeds 3] [--json docs/results/stability.json]

RUN_DIR is copied (a finished default run: its seed-0 stages are reused), so it stays as it was.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from statistics import median, pstdev


def ranking_score(row: dict, prefix: str = "") -> float:
    return (row[f"{prefix}efficacy"] + row[f"{prefix}retain"]) / 2


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's τ-b of two score lists over the same methods."""
    from scipy.stats import kendalltau

    return float(kendalltau(a, b).statistic)


def summarise(per_seed: dict[str, dict]) -> dict:
    seeds = sorted(per_seed, key=int)
    out: dict = {"per_scenario": {}}
    for scenario in per_seed[seeds[0]]:
        methods = sorted(per_seed[seeds[0]][scenario]["methods"])
        prefixes = ["person_", "event_"] if scenario == "both" else [""]
        info: dict = {}
        for prefix in prefixes:
            stds = {c: {m: pstdev([per_seed[s][scenario]["methods"][m][f"{prefix}{c}"] for s in seeds]) for m in methods}
                    for c in ("efficacy", "generality", "retain", "scope", "real", "world") if
                    f"{prefix}{c}" in per_seed[seeds[0]][scenario]["methods"][methods[0]]}
            scores = {s: [ranking_score(per_seed[s][scenario]["methods"][m], prefix) for m in methods] for s in seeds}
            taus = [kendall_tau(scores[a], scores[b]) for a, b in itertools.combinations(seeds, 2)]
            info[prefix or "all"] = {"std": stds, "median_std": {c: median(v.values()) for c, v in stds.items()},
                                     "kendall_tau": taus}
        out["per_scenario"][scenario] = info
    person = out["per_scenario"].get("person", {}).get("all")
    if person:
        taus = [t for sc in out["per_scenario"].values() for part in sc.values() for t in part["kendall_tau"]]
        out["summary"] = {"median_std_person_efficacy": person["median_std"]["efficacy"],
                          "median_std_person_retain": person["median_std"]["retain"],
                          "kendall_tau": person["kendall_tau"], "mean_kendall_tau": sum(person["kendall_tau"]) / len(person["kendall_tau"]),
                          "mean_kendall_tau_all_scenarios": sum(taus) / len(taus)}
    event = out["per_scenario"].get("event", {}).get("all")
    if person and event:  # the event scenario beside the person one
        out["summary"] |= {"median_std_event_efficacy": event["median_std"]["efficacy"],
                           "median_std_event_retain": event["median_std"]["retain"],
                           "event_kendall_tau": event["kendall_tau"],
                           "mean_event_kendall_tau": sum(event["kendall_tau"]) / len(event["kendall_tau"])}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, required=True, help="a finished default run directory (copied, not changed)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pebench-stability-") as tmp:
        work = Path(tmp) / "run"
        shutil.copytree(args.run, work)
        no_probes = Path(tmp) / "no-probes.yaml"  # stability is about the table's cells; the probes add time only
        no_probes.write_text("probes: {scenarios: []}\n", encoding="utf-8")
        subprocess.run([sys.executable, "-m", "pebench", "run", "--out", str(work), "--seeds", str(args.seeds),
                        "--config", str(no_probes), "--force", "--quiet"], check=True)
        results = json.loads((work / "results.json").read_text(encoding="utf-8"))
    report = {"seeds": results["seeds"], "wall_s": results.get("wall_s"), "base": results.get("base"),
              "config": results.get("config"),  # what the README checks against the reference run's settings
              **summarise(results["per_seed"])}
    text = json.dumps(report, indent=2, sort_keys=True)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
