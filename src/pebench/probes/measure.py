"""What each probe measures: a model's forget-set and retain columns on a subset of the
evaluation's own questions (no Real, World or privacy: the probes ask about the targets)."""

from __future__ import annotations

from pebench.config import EvalConfig
from pebench.data.build import PebenchData
from pebench.eval.evaluate import Query, answer_queries, scenario_metrics, score_samples
from pebench.eval.judges import Judge
from pebench.models import VLM
from pebench.splits import Split

COLUMNS = ("efficacy", "generality", "retain")


def forget_columns(vlm: VLM, data: PebenchData, split: Split, queries: list[Query], sets: tuple[str, ...],
                   eval_cfg: EvalConfig, judge: Judge) -> dict[str, float]:
    """Efficacy / Generality / Retain (per concept in `both`) of `vlm` from the `queries` on `sets`."""
    asked = [q for q in queries if q.set in sets]
    samples = score_samples(data, asked, answer_queries(vlm, asked, eval_cfg), judge)
    return {k: v for k, v in scenario_metrics(data, split, samples).items()
            if k.rsplit("_", 1)[-1] in COLUMNS and v == v}  # NaN: a column these sets do not feed
