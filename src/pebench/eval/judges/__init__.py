"""Event judges (the paper's G-Eval): a score in [0, 1] of how well a scene description
matches the true event. Each judge is one module registered by name in JUDGES:

* `keywords` (default): deterministic, from the event's description and keywords;
* `embedding`: cosine similarity of sentence embeddings (a pretrained encoder loaded offline);
* `llm`: a G-Eval style judge against any OpenAI-compatible chat endpoint.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol, Sequence

from pebench.config import EvalConfig
from pebench.core import distributed
from pebench.core.registry import Registry
from pebench.data.events import Event


class Judge(Protocol):
    def score(self, answers: Sequence[str], events: Sequence[Event]) -> list[float]: ...


JUDGES: Registry[type] = Registry("judge")

for _module in ("keywords", "embedding", "llm"):
    importlib.import_module(f"pebench.eval.judges.{_module}")


class MainProcessJudge:
    """Under a multi-process launch: the main process judges, the others receive its scores."""

    def __init__(self, judge: Judge):
        self.judge = judge

    def score(self, answers: Sequence[str], events: Sequence[Event]) -> list[float]:
        return distributed.from_main(lambda: self.judge.score(answers, events))


def make_judge(name: str, cfg: EvalConfig | None = None, cache_dir: str | Path | None = None) -> Judge:
    """Instantiate the registered judge `name` with the evaluation config.

    `cache_dir`: where a judge that costs money or time (llm) keeps its judgements, so a
    rerun asks nothing twice. Raises PebenchError for an unknown name or an unusable judge.
    With several processes only the main one calls the judge.
    """
    judge = JUDGES.get(name)(cfg or EvalConfig(), Path(cache_dir) if cache_dir else None)
    return MainProcessJudge(judge) if distributed.world_size() > 1 else judge


__all__ = ["JUDGES", "Judge", "make_judge"]
