"""Sweep each unlearning method's learning rate (and steps) on a finished run's Finetuned model.

Reuses the run directory's cached dataset, base and Finetuned model, so only the
unlearning runs and their evaluations cost time. Tuning never sees the reported split: it uses
its own split seed (`--tuning-seed`, default 1000; reported runs use seeds 0, 1, 2, ...), so the
forget targets, D_f_train and the D_r evaluation sample differ from those the tables report. For every (scenario, method, lr, steps) it
prints the six columns and two degeneracy checks: the share of empty answers and the share
of distinct answers (a collapsed model says the same thing to every image).

    python scripts/method_sweep.py RUN_DIR [--lrs 5e-5,1e-4,3e-4,1e-3] [--steps 40]
        [--methods GA,GD,...] [--scenarios person,event] [--json sweep.json] [--threads 1]
    python scripts/method_sweep.py RUN_DIR --methods MANU --knob fraction --values 0.005,0.01,0.02,0.05

A method without a learning rate (MANU takes no gradient step) is swept over its one knob instead:
`--knob NAME --values ...` sets that hyperparameter (each row records `knob` and `value`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Split seed of tuning runs: above every seed a reported run can use (`--seed 0` with up to 20
# `--seeds`), so the forget targets, D_f_train and the D_r sample of tuning are never reported.
TUNING_SEED = 1000


def degeneracy(samples: list[dict]) -> dict[str, float]:
    answers = [s["answer"] for s in samples if s["set"] in ("retain", "f_train")]
    return {"empty": sum(not a for a in answers) / len(answers), "distinct": len(set(answers)) / len(answers)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--lrs", default="5e-5,1e-4,3e-4,1e-3")
    ap.add_argument("--knob", default="lr", help="the setting swept: lr, or a method hyperparameter (MANU: fraction)")
    ap.add_argument("--values", default=None, help="the knob's values (default: --lrs)")
    ap.add_argument("--steps", default="40")
    ap.add_argument("--methods", default=None)
    ap.add_argument("--scenarios", default="person,event")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--tuning-seed", type=int, default=TUNING_SEED, help="split seed used for tuning only")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads (default: every core; e.g. 1 for each of two sweeps over halves of the methods "
                         "run side by side, as `pebench run`'s workers are)")
    args = ap.parse_args()

    import torch

    from pebench.core.io import write_json
    from pebench.core.progress import quiet_libraries
    from pebench.eval.evaluate import evaluate
    from pebench.methods.base import METHODS
    from pebench.recipe.opened import open_run
    from pebench.recipe.support import resolved_eval
    from pebench.splits import make_split

    quiet_libraries()
    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    methods = args.methods.split(",") if args.methods else METHODS.names()
    rows = []
    pipe, finetuned = open_run(args.run_dir)
    base_cfg = pipe.cfg
    for scenario in args.scenarios.split(","):
        split = make_split(pipe.data, scenario, base_cfg.split, args.tuning_seed)
        for name in methods:
            if METHODS.get(name).balance_concepts and scenario != "both":
                continue
            for steps in map(int, args.steps.split(",")):
                for value in map(float, (args.values or args.lrs).split(",")):
                    setting = {**base_cfg.unlearn.overrides.get(name, {}), args.knob: value, "steps": steps}
                    overrides = {**base_cfg.unlearn.overrides, name: setting}
                    pipe.ctx.cfg = base_cfg.model_copy(update={"unlearn": base_cfg.unlearn.model_copy(update={"overrides": overrides})})
                    start = time.perf_counter()
                    vlm = pipe.unlearn(name, finetuned, split)
                    metrics, samples = evaluate(vlm, pipe.data, split, resolved_eval(base_cfg), pipe.judge,
                                                args.tuning_seed)
                    row = {"scenario": scenario, "tuning_seed": args.tuning_seed, "method": name,
                           "knob": args.knob, "value": value, "steps": steps,
                           "seconds": round(time.perf_counter() - start, 1),
                           **{k: round(v, 4) for k, v in metrics.items() if not k.startswith("world_")},
                           **{f"answers_{k}": round(v, 3) for k, v in degeneracy(samples).items()}}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    if args.json:
        write_json(args.json, rows)


if __name__ == "__main__":
    sys.exit(main())
