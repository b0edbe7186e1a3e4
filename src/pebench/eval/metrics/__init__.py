"""The metric registry: every number a results row carries, declared once with its column
header, scale, direction, aggregation and what it needs, as lm-evaluation-harness registers
metrics with `higher_is_better` and open-unlearning declares `reference_logs`.

Two kinds of metric:

* a *column* metric (`cell` set): the mean of one per-question value over a set of samples,
  with a bootstrap interval over the targets (`pebench.eval.cells`); Table 1/2's columns;
* a *row* metric (`compute` set): one statistic of a row's samples (a membership-inference
  AUC, forget quality), computed when what it `needs` is there;
* a declared detail (neither set): a number the evaluation itself reports (POPE F1 per
  setting), registered for its header, scale and direction.

Tables, CSV, LaTeX, plots and the HTML report take headers, scales and directions from here.
Importing this package imports every module in it, so a new metric is one file that calls
`register(Metric(...))` (see docs/extending.md).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import pkgutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from pebench.core.fingerprint import component_hash
from pebench.core.registry import Registry
from pebench.eval.cells import Cell

DIRECTIONS = ("higher", "lower", "chance")  # chance: 0.5 is best (an attack that cannot tell)
SCALES = ("percent", "unit", "p_value", "count")
SCALE_RANGES = {"percent": "0-100", "unit": "0-1", "p_value": "p-value", "count": "count"}
NEEDS = ("membership", "goal_member_nll", "one_concept", "two_concepts", "retain_answers")


def sample_concept(sample: dict) -> str:
    """Which concept a sample asks about: the person (identity questions) or the event."""
    return "person" if sample["kind"] == "identity" else "event"



@dataclass(frozen=True)
class RowInputs:
    """What a row metric may use: the row's per-sample records and, when the run has them, the
    Goal model's per-identity forget-set losses (open-unlearning's `reference_logs`)."""

    samples: Sequence[dict]
    goal_member_nll: Sequence[float] | None = None

    def has(self, need: str) -> bool:
        """`membership`: MIA records; `one_concept` / `two_concepts`: their forget identities are
        of one concept, or persons and events (scenario both); `goal_member_nll`: the Goal's losses;
        `retain_answers`: generated answers to D_r questions."""
        if need == "goal_member_nll":
            return self.goal_member_nll is not None
        if need == "retain_answers":
            return any(s["set"] == "retain" and "answer" in s for s in self.samples)
        concepts = len({sample_concept(s) for s in self.samples if s["set"] == "mia_member"})
        return {"membership": concepts > 0, "one_concept": concepts == 1, "two_concepts": concepts == 2}[need]


@dataclass(frozen=True)
class Metric:
    """One registered number. `name` is its results.json key (in scenario `both`, column
    metrics are the `<concept>_<column>` keys; a single-target scenario drops the prefix).
    `table`: where it is shown ("table1" for the columns, "privacy", or "" for a detail only
    in results.json). `measure`: what the value is, for table notes. `needs`: inputs beyond the
    row's own answers (see `NEEDS`)."""

    name: str
    head: str
    scale: str
    direction: str
    measure: str
    aggregation: str
    table: str = ""
    needs: tuple[str, ...] = ()
    concept: str = ""  # column metrics: person | event ("" for World, shared by both)
    cell: Cell | None = None
    compute: Callable[[RowInputs], float] | None = None

    def __post_init__(self):
        if self.scale not in SCALES or self.direction not in DIRECTIONS or not set(self.needs) <= set(NEEDS):
            raise ValueError(f"metric {self.name}: scale {self.scale!r}, direction {self.direction!r} or needs "
                             f"{self.needs!r} not among {SCALES}, {DIRECTIONS}, {NEEDS}")
        if self.cell is not None and self.compute is not None:
            raise ValueError(f"metric {self.name}: a column (cell) or a row statistic (compute), not both")

    @property
    def column(self) -> str:
        """The column name inside its concept (`efficacy` of `person_efficacy`)."""
        return self.name.removeprefix(f"{self.concept}_") if self.concept else self.name


METRICS: Registry[Metric] = Registry("metric")


PLUGIN_SOURCES: dict[str, str] = {}  # metric name -> the file outside pebench that registered it


def register(metric: Metric) -> Metric:
    """Add `metric` to the registry (an error if another metric has its name). A metric
    registered from outside pebench (a `--method-file`) has its file noted, column or row
    metric alike: its source enters the evaluation key (`evaluation_code`)."""
    caller = sys._getframe(1).f_globals
    if not str(caller.get("__name__", "")).startswith("pebench.") and caller.get("__file__"):
        PLUGIN_SOURCES[metric.name] = caller["__file__"]
    return METRICS.register(metric.name)(metric)


def rank(value: float, direction: str) -> float:
    """A number that is larger the better `value` is under `direction`."""
    return round({"higher": value, "lower": -value, "chance": -abs(value - 0.5)}[direction], 12)  # ties within float noise


def column_metric(concept: str, column: str) -> Metric:
    """The metric of Table 1 column `column` ("efficacy" … "world") of `concept`."""
    return METRICS.get("world" if column == "world" else f"{concept}_{column}")


def concept_columns(concept: str) -> list[Metric]:
    """The column metrics of `concept` with a `cell`, in registration order."""
    return [m for m in METRICS.values() if m.concept == concept and m.cell is not None]


def table_metrics(table: str) -> list[Metric]:
    """The metrics shown in `table`, in registration order."""
    return [m for m in METRICS.values() if m.table == table]


def row_metrics(inputs: RowInputs) -> dict[str, float]:
    """Every row metric whose needs `inputs` meets."""
    return {m.name: m.compute(inputs) for m in METRICS.values()
            if m.compute is not None and all(inputs.has(n) for n in m.needs)}


def evaluation_code() -> str:
    """What the evaluation stages' keys take as their code: the "eval" source component
    (every built-in metric) and the source files of metrics registered from outside pebench
    (a `--method-file`), so that editing either recomputes the evaluations."""
    files = sorted({*PLUGIN_SOURCES.values(),
                    *(inspect.getfile(m.compute) for m in METRICS.values()
                      if m.compute is not None and not m.compute.__module__.startswith("pebench."))})
    if not files:
        return component_hash("eval")
    digest = hashlib.sha256()
    for file in files:
        digest.update(Path(file).read_bytes())
    return f"{component_hash('eval')}+{digest.hexdigest()[:16]}"


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
