"""The shape of the results.json that `pebench report` reads, checked before anything is written,
so a file of the wrong shape (edited by hand, cut short, from another tool) is one `error:` line
naming where it is wrong instead of a traceback half-way through the tables."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pebench.core.errors import PebenchError

Metrics = dict[str, float]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Rows(_Open):
    """Finetuned, Goal and each method, for metrics (a scenario), intervals or counts."""

    finetuned: dict[str, Any] = {}
    goal: dict[str, Any] = {}
    methods: dict[str, dict[str, Any]] = {}


class Intervals(_Rows):
    finetuned: dict[str, tuple[float, float]] = {}
    goal: dict[str, tuple[float, float]] = {}
    methods: dict[str, dict[str, tuple[float, float]]] = {}


class Counts(_Rows):
    finetuned: dict[str, dict[str, int]] = {}
    goal: dict[str, dict[str, int]] = {}
    methods: dict[str, dict[str, dict[str, int]]] = {}


class Scenario(_Rows):
    finetuned: Metrics
    goal: Metrics
    methods: dict[str, Metrics]
    split: dict[str, Any] = {}
    forget: dict[str, list[str]] | None = None
    ci95: Intervals = Intervals()
    n: Counts = Counts()
    std: _Rows | None = None
    knows_targets: dict[str, Any] = {}
    robustness: dict[str, dict[str, Any] | None] | None = None
    trajectory: dict[str, Any] | None = None


class ResultsFile(_Open):
    scenarios: dict[Literal["person", "event", "both"], Scenario] = Field(min_length=1)
    config: dict[str, Any] = {}
    warnings: list[str] = []
    dataset: dict[str, Any] = {}
    seeds: list[int] = [0]
    timings_s: dict[str, float] = {}
    training: dict[str, dict[str, float]] = {}
    wall_s: float | None = None
    sequential: dict[str, Any] | None = None


def checked_results(results: Any, where: str) -> dict:
    """`results` in the shape the report reads (numbers as numbers), or a PebenchError naming
    the first place where it is not."""
    try:
        model = ResultsFile.model_validate(results)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"]) or "the top level"
        raise PebenchError(f"{where} is not a pebench results file: at {path}: {first['msg']}") from None
    config = model.config
    if not isinstance(config.get("methods", []), list) or not all(isinstance(m, str) for m in config.get("methods", [])):
        raise PebenchError(f"{where} is not a pebench results file: at config.methods: expected a list of names")
    return model.model_dump(exclude_unset=True)
