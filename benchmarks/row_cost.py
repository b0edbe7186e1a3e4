"""Where a method row's time goes: unlearning steps, the trajectory's checkpoint evaluations,
the evaluation (generation, membership scoring, the rest) and each robustness probe.

Reuses a finished run's dataset, base and Finetuned model (from its directory or the stage
store), as `scripts/method_sweep.py` does, and times one row per method on the run's own
split and settings, with the Finetuned model's evaluation run once first so that every row
finds the encoding caches as a row of `pebench run` does. Prints JSON: seconds per part and
row, and each part's share of the rows' total.

    python benchmarks/row_cost.py RUN_DIR [--methods GA,NPO,KL] [--scenario person] [--cache DIR]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# (module, function) pairs timed inside a row: the evaluation's phases and the probes' parts.
TIMED = {
    "eval.generation": ("pebench.eval.evaluate", "answer_queries"),
    "eval.membership": ("pebench.eval.evaluate", "membership_samples"),
    "probes.columns": ("pebench.recipe.probing", "forget_columns"),
    "probes.extraction": ("pebench.recipe.probing", "extraction_columns"),
    "probes.text_only": ("pebench.recipe.probing", "text_only_columns"),
    "probes.relearn_training": ("pebench.recipe.probing", "relearned"),
    "probes.quantize": ("pebench.recipe.probing", "quantized_copy"),
}


class Timers:
    """Seconds spent in each patched function, outermost calls only."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._depth = 0

    def patch(self, module_name: str, function: str, label: str) -> None:
        import importlib

        module = importlib.import_module(module_name)
        inner = getattr(module, function)

        @functools.wraps(inner)
        def timed(*args, **kwargs):
            self._depth += 1
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.seconds[label] += time.perf_counter() - start

        setattr(module, function, timed)

    def take(self) -> dict[str, float]:
        out = {k: round(v, 3) for k, v in self.seconds.items()}
        self.seconds.clear()
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--methods", default="GA,NPO,KL")
    ap.add_argument("--scenario", default="person", choices=["person", "event", "both"])
    ap.add_argument("--cache", type=Path, default=None, help="stage store (default: $PEBENCH_CACHE or the user cache)")
    args = ap.parse_args()

    import torch

    from pebench.core.progress import quiet_libraries
    from pebench.eval.evaluate import evaluate
    from pebench.recipe.opened import open_run
    from pebench.splits import make_split

    quiet_libraries()
    torch.set_num_threads(os.cpu_count() or 1)
    timers = Timers()
    for label, (module, function) in TIMED.items():
        timers.patch(module, function, label)
    pipe, finetuned = open_run(args.run_dir, args.cache or True)
    cfg = pipe.cfg
    split = make_split(pipe.data, args.scenario, cfg.split, cfg.seed)
    ctx = pipe.ctx

    def clock(fn):
        start = time.perf_counter()
        result = fn()
        return result, round(time.perf_counter() - start, 3)

    clock(lambda: evaluate(finetuned, pipe.data, split, ctx.eval_cfg, pipe.judge, split.seed))  # warm the caches
    timers.take()
    probed, every = pipe.probes.probed(split), cfg.probes.every
    rows = {}
    for name in args.methods.split(","):
        checkpoints = defaultdict(float)

        def checkpoint(vlm):
            result, seconds = clock(lambda: pipe.probes.subset_columns(vlm, split))
            checkpoints["s"] += seconds
            return result

        hook = (checkpoint, every) if probed and every else (None, 0)
        vlm, unlearn_s = clock(lambda: pipe.unlearn(name, finetuned, split, checkpoint=hook[0], every=hook[1]))
        timers.take()
        _, eval_s = clock(lambda: evaluate(vlm, pipe.data, split, ctx.eval_cfg, pipe.judge, split.seed))
        eval_parts = timers.take()
        probes_s, probe_parts = 0.0, {}
        if probed:
            _, probes_s = clock(lambda: pipe.probes._probes(vlm, split, f"benchmark:{name}", lambda: None))
            probe_parts = timers.take()
        parts = {"unlearn.steps": round(unlearn_s - checkpoints["s"], 3), "unlearn.checkpoints": round(checkpoints["s"], 3),
                 **eval_parts, "eval.other": round(eval_s - sum(eval_parts.values()), 3),
                 **probe_parts, "probes.other": round(probes_s - sum(probe_parts.values()), 3) if probed else 0.0}
        rows[name] = {"total_s": round(unlearn_s + eval_s + probes_s, 3), "parts_s": parts}
        print(json.dumps({name: rows[name]}), flush=True)
    total = sum(r["total_s"] for r in rows.values())
    shares = defaultdict(float)
    for r in rows.values():
        for part, seconds in r["parts_s"].items():
            shares[part] += seconds / total if total else 0.0
    print(json.dumps({"scenario": args.scenario, "threads": torch.get_num_threads(), "rows": rows,
                      "mean_row_s": round(total / max(1, len(rows)), 3),
                      "share": {k: round(v, 3) for k, v in sorted(shares.items(), key=lambda kv: -kv[1])}}, indent=1))


if __name__ == "__main__":
    main()
