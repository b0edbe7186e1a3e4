"""The stage store's two targets (issue "Architecture"), measured through the real CLI:

* `rerun`: after a default `pebench run`, the same command with a new `--out` (everything from
  the store); its tables must be identical to the first run's;
* `new_method`: `pebench run --out NEW --method-file my.py --methods GA+RT` (every default
  scenario) against the store that holds the default run: only the new method is computed.

Both use the store the first run filled ($PEBENCH_CACHE or --cache). Prints wall seconds, the
targets and what was computed, as JSON.

    python benchmarks/stage_store.py --run RUN_DIR [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METHOD = '''
from pebench.methods.base import METHODS, Method, nll


@METHODS.register("GA+RT")
class AscentWithRetainTerm(Method):
    """loss = -NLL(forget) + weight * NLL(retain) (the docs/extending.md example)."""

    name = "GA+RT"
    defaults = {"weight": 1.0}

    def loss(self, model, batches, ref):
        forget, retain = nll(model, batches["forget"]["answer"]), nll(model, batches["retain"]["answer"])
        return -forget + self.params["weight"] * retain, {"forget_nll": float(forget.detach())}
'''
COMPUTED = ("foundation", "finetuned", "goal", "unlearn", "eval", "probes", "sequential")


def _timed_run(out: Path, cache: list[str], *extra: str) -> dict:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pebench", "run", "--out", str(out), "--quiet", *cache, *extra],
                            capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode:
        sys.exit(f"pebench run failed: {result.stderr[-2000:]}")
    timings = json.loads((out / "results.json").read_text())["timings_s"]
    return {"wall_s": round(wall, 1), "computed": sorted(k for k in timings if k.split()[0].split("-")[0] in COMPUTED)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, required=True, help="a finished default run (its stages are in the store)")
    ap.add_argument("--cache", help="the store (default $PEBENCH_CACHE, else ~/.cache/pebench)")
    args = ap.parse_args()
    cache = ["--cache", args.cache] if args.cache else []
    with tempfile.TemporaryDirectory() as tmp:
        rerun = _timed_run(Path(tmp) / "rerun", cache)
        same = all((Path(tmp) / "rerun" / name).read_text() == (args.run / name).read_text()
                   for name in ("table.md", "table2.md", "privacy.md", "robustness.md"))
        plugin = Path(tmp) / "my_method.py"
        plugin.write_text(METHOD)
        new = _timed_run(Path(tmp) / "new", cache, "--method-file", str(plugin), "--methods", "GA+RT")
    print(json.dumps({"rerun": {**rerun, "target_s": 60, "tables_identical": same},
                      "new_method": {**new, "target_s": 120}}, indent=2))


if __name__ == "__main__":
    main()
