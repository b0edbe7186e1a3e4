"""What one run's stages share, declared in one place.

The recipe (`pipeline.py`) makes a `RunContext` when the run starts and records each stage's
product in it as the stage returns (`ctx.dataset`, `ctx.base`, `ctx.finetuned_key`); the
stages read the context and return what they make, and none sets what another reads. The
records (`timings`, `training`, `stage_provenance`) are appended to by every stage and written
into results.json at the end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pebench.config import EvalConfig, RunConfig
from pebench.core.progress import Reporter
from pebench.data.build import PebenchData
from pebench.eval.judges import Judge
from pebench.models import VLM
from pebench.models.lifecycle import FullCopies, Sharded
from pebench.recipe.support import Encoder
from pebench.splits import Split
from pebench.store import StageStore


@dataclass(frozen=True)
class Dataset:
    """The data stage's product: the dataset, where it lies, its content key and the event judge."""

    data: PebenchData
    directory: Path
    key: str
    judge: Judge


@dataclass(frozen=True)
class Base:
    """The foundation stage's product: the model every fine-tune starts from, its key (every
    later key chains from it), the run's encoder and what fine-tunes replay of the base."""

    vlm: VLM
    key: str
    encoder: Encoder
    replay: list[dict]


@dataclass
class RunContext:
    """The run's settings and services (fixed at the start), the stage products the recipe
    records, and the run's records."""

    cfg: RunConfig
    out: Path
    rep: Reporter
    store: StageStore
    eval_cfg: EvalConfig
    lifecycle: FullCopies | Sharded  # full copies or LoRA adapters: the stages never branch on it
    fresh: bool = False  # recompute every stage, ignoring stored ones
    main: bool = True  # only the main process writes under a multi-process launch
    provenance: dict[str, Any] = field(default_factory=dict)  # this run's environment (`pebench.core.environment`)
    # The environment model stages (the base, Finetuned, Goals) are trained in when it is not
    # `provenance`: with worker processes, the main process trains them with every core first.
    model_provenance: dict[str, Any] = field(default_factory=dict)
    # Stage products, recorded by the recipe in this order.
    dataset: Dataset | None = None
    base: Base | None = None
    finetuned_key: str | None = None
    # The run's records.
    timings: dict[str, float] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    stage_provenance: dict[str, dict | None] = field(default_factory=dict)
    model_stages: set[str] = field(default_factory=set)  # which of them are model stages

    @property
    def data(self) -> PebenchData:
        return self.dataset.data

    @property
    def encoder(self) -> Encoder:
        return self.base.encoder

    def timed(self, name: str, fn: Callable[[], Any]) -> Any:
        """`fn()`, its seconds added to the run's timing `name`."""
        start = time.perf_counter()
        result = fn()
        self.add_time(name, time.perf_counter() - start)
        return result

    def add_time(self, name: str, seconds: float) -> None:
        """Add `seconds` to the run's timing `name` (a worker process's seconds join this way)."""
        self.timings[name] = round(self.timings.get(name, 0.0) + seconds, 3)

    def tag(self, split: Split) -> str:
        """Where a split's stages live: the scenario name, under seed-<s>/ for extra seeds."""
        return split.scenario if split.seed == self.cfg.seed else f"seed-{split.seed}/{split.scenario}"
