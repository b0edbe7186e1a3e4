"""What each probe measures: a model's forget-set and retain columns on a subset of the
evaluation's own questions (no Real, World or privacy: the probes ask about the targets)."""

from __future__ import annotations

from pebench.config import EvalConfig
from pebench.data.build import PebenchData
from pebench.eval.evaluate import Query, answer_queries, scenario_metrics, score_samples
from pebench.eval.judges import Judge
from pebench.eval.metrics import concept_columns
from pebench.models import VLM
from pebench.splits import Split

COLUMNS = ("efficacy", "generality", "retain")


def forget_columns(vlm: VLM, data: PebenchData, split: Split, queries: list[Query], sets: tuple[str, ...],
                   eval_cfg: EvalConfig, judge: Judge) -> dict[str, float]:
    """Efficacy / Generality / Retain (per concept in `both`) of `vlm` from the `queries` on `sets`.
    Only the questions that feed those columns are asked: in the person scenario the D_f_train
    scene questions feed Scope alone, and a 64-token description is the dearest answer."""
    feeds = columns_questions(split)
    asked = [q for q in queries if q.set in sets and (q.set, q.qa.kind) in feeds]
    samples = score_samples(data, asked, answer_queries(vlm, asked, eval_cfg), judge)
    return {k: v for k, v in scenario_metrics(data, split, samples).items()
            if k.rsplit("_", 1)[-1] in COLUMNS and v == v}  # NaN: a column these sets do not feed


def columns_questions(split: Split) -> set[tuple[str, str]]:
    """The (set, question kind) pairs that feed COLUMNS for the concepts `split` forgets."""
    concepts = [c for c, targets in (("person", split.forget_persons), ("event", split.forget_events)) if targets]
    return {(m.cell.set, m.cell.kind) for c in concepts for m in concept_columns(c) if m.column in COLUMNS}
