"""A finished run opened again, for the scripts that study it (`scripts/method_sweep.py`,
`scripts/paraphrase_breakdown.py`, `benchmarks/row_cost.py`): its config, its data and its
Finetuned model, each reused from the run directory or the stage store rather than recomputed
(a stage whose inputs or code changed since the run is computed again, as `pebench run` would)."""

from __future__ import annotations

from pathlib import Path

from pebench.config import RunConfig
from pebench.core.errors import PebenchError
from pebench.core.io import read_json
from pebench.core.progress import Reporter
from pebench.models import VLM
from pebench.recipe.pipeline import Pipeline


def open_run(run_dir: Path, cache: Path | bool | None = True) -> tuple[Pipeline, VLM]:
    """The pipeline of the run in `run_dir` (its `config.json`; `cache` as `Pipeline` takes it)
    with its data loaded, and the run's Finetuned model."""
    config = Path(run_dir) / "config.json"
    if not config.is_file():
        raise PebenchError(f"{run_dir} is not a run directory (no config.json)")
    pipe = Pipeline(RunConfig.model_validate(read_json(config)), Path(run_dir), Reporter(quiet=True), cache=cache)
    pipe.load_data()
    return pipe, pipe.finetuned(pipe.foundation())
