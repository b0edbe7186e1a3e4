"""The body of a worker process (`pebench.recipe.workers`): its share of one run's rows."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from pebench.config import RunConfig
from pebench.core.progress import Reporter, log, quiet_libraries
from pebench.methods import load_entry_point_methods, load_method_file
from pebench.recipe.pipeline import Pipeline


def share(cfg: dict, out: str, data_dir: str | None, cache: str, method_files: list[str], threads: int,
          index: int) -> dict[str, float]:
    """Worker `index`'s share of a run's rows (`Pipeline.share`), in a process of its own (the
    models are stored already); returns its stage seconds. It writes only stages (to the store
    and the run directory) and logs to run.log."""
    quiet_libraries()
    torch.set_num_threads(threads)
    load_entry_point_methods()
    for path in method_files:
        load_method_file(path)
    run_log = Path(out) / "run.log"
    if run_log.is_file():
        handler = logging.FileHandler(run_log, encoding="utf-8")
        handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s [worker {index}] %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    pipe = Pipeline(RunConfig.model_validate(cfg), Path(out), Reporter(quiet=True), data_dir=data_dir and Path(data_dir),
                    cache=Path(cache))
    pipe.record_environment()
    pipe.load_data()
    finetuned, before = pipe.finetuned(pipe.foundation()), dict(pipe.ctx.timings)
    pipe.share(finetuned)
    return {name: round(seconds - before.get(name, 0.0), 3) for name, seconds in pipe.ctx.timings.items()
            if seconds != before.get(name)}  # the main process timed loading the data and the base already
