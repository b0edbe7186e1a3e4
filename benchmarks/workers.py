"""Method rows computed by one process of all cores against worker processes of one thread each.

Takes a finished run's config and stage store, copies the store without its evaluation and
probe records (the dataset, the Finetuned model and the Goals stay, so only rows are computed),
and runs the same `pebench run` twice on copies: `workers: 1` (one process, every core) and
`workers: N` (N processes of cores/N threads). Prints JSON: each wall time, the speed-up, the
rows computed and the largest difference between the two runs' table values (the thread count
changes a CPU reduction's last bits, so a value may move where greedy decoding flips a token).

    python benchmarks/workers.py RUN_DIR --cache STORE [--scenarios person] [--methods GA,NPO,KL,WGA] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pebench.store import copy_without_rows


def _run(cfg: dict, workers: int, scenarios: str, methods: str, store: Path, out: Path) -> float:
    config = out.parent / f"{out.name}.json"
    config.write_text(json.dumps({**cfg, "workers": workers, "threads": 0}))
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pebench", "run", "--config", str(config), "--scenarios", scenarios,
                             "--methods", methods, "--out", str(out), "--cache", str(store), "--quiet"],
                            capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if result.returncode != 0:
        sys.exit(f"error: the run with workers: {workers} failed: {result.stderr.strip().splitlines()[-1:]}")
    return round(time.perf_counter() - start, 1)


def _table_values(results: dict) -> dict[str, float]:
    out = {}
    for scenario, entry in results["scenarios"].items():
        for row, values in {**entry["methods"], "finetuned": entry["finetuned"], "goal": entry["goal"]}.items():
            out.update({f"{scenario}/{row}/{k}": v for k, v in values.items() if isinstance(v, (int, float))})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path, help="a finished run (its config.json is reused)")
    ap.add_argument("--cache", type=Path, required=True, help="the stage store that run used")
    ap.add_argument("--scenarios", default="person")
    ap.add_argument("--methods", default="GA,NPO,KL,WGA")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    cfg = json.loads((args.run_dir / "config.json").read_text())
    walls, results = {}, {}
    with tempfile.TemporaryDirectory(prefix="pebench-workers-") as tmp:
        for workers in (1, args.workers):
            store, out = Path(tmp) / f"store-{workers}", Path(tmp) / f"run-{workers}"
            copy_without_rows(args.cache, store)
            walls[workers] = _run(cfg, workers, args.scenarios, args.methods, store, out)
            results[workers] = _table_values(json.loads((out / "results.json").read_text()))
    one, many = results[1], results[args.workers]
    rows = len(args.methods.split(",")) + 2  # each method, plus the Finetuned and Goal rows' evaluations
    print(json.dumps({"cpus": os.cpu_count(), "scenarios": args.scenarios, "methods": args.methods,
                      "rows_per_scenario": rows, "wall_s": {f"workers_{w}": s for w, s in walls.items()},
                      "speedup": round(walls[1] / walls[args.workers], 2),
                      "max_table_difference": max((abs(one[k] - many[k]) for k in one), default=0.0),
                      "values_differing": sum(one[k] != many[k] for k in one), "values": len(one)}, indent=1))


if __name__ == "__main__":
    main()
