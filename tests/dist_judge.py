"""Run by tests/test_distributed.py under 2 processes: every process asks the llm judge for the
same scores; each writes what it got to OUT/rank<r>.json."""

import json
import sys
from pathlib import Path

from pebench.config import EvalConfig, LLMJudgeConfig
from pebench.core import distributed
from pebench.data.events import all_events
from pebench.eval.judges import make_judge


def main(url: str, out: str) -> None:
    distributed.init()
    judge = make_judge("llm", EvalConfig(llm=LLMJudgeConfig(url=url, retries=0)), None)
    events = all_events()[:4]
    answers = [f"A scene with {e.keywords[0]}." for e in events[:2]] + ["Nothing to see.", "An empty room."]
    Path(out).mkdir(parents=True, exist_ok=True)
    Path(out, f"rank{distributed.rank()}.json").write_text(json.dumps(judge.score(answers, events)))


if __name__ == "__main__":
    try:
        main(*sys.argv[1:])
    finally:
        distributed.shutdown()
