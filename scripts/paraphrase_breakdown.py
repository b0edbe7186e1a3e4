"""The paraphrase probe one wording at a time: which held-out phrasings a run's Finetuned model
reads.

Asks the Finetuned model of a finished run every D_f_test identity question of the person
scenario in the canonical phrasing and in each of the paraphrase probe's held-out phrasings
alone (`pebench.data.phrasings.HELD_OUT`), and prints JSON: the share of forget-person
questions answered with the right name per phrasing (100 - that is the phrasing's Generality),
and the commonest wrong answers. The probe itself (`probes.paraphrase`) cycles the phrasings
over the questions and reports their mean.

    python scripts/paraphrase_breakdown.py RUN_DIR [--cache STORE]
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--cache", type=Path, default=None, help="stage store (default: $PEBENCH_CACHE or the user cache)")
    args = ap.parse_args()

    from pebench.core.progress import quiet_libraries
    from pebench.data.phrasings import HELD_OUT, IDENTITY
    from pebench.eval.evaluate import answer_queries
    from pebench.eval.text import names_person
    from pebench.recipe.opened import open_run
    from pebench.splits import make_split

    quiet_libraries()
    pipe, finetuned = open_run(args.run_dir, args.cache or True)
    split = make_split(pipe.data, "person", pipe.cfg.split, pipe.cfg.seed)
    asked = [q for q in pipe.io.queries(split) if q.set == "f_test" and q.qa.kind == "identity"]
    out = {}
    for question in (IDENTITY[0], *HELD_OUT["identity"]):
        queries = [replace(q, qa=replace(q.qa, question=question)) for q in asked]
        answers = answer_queries(finetuned, queries, pipe.ctx.eval_cfg)
        named = [names_person(a, q.qa.target) for a, q in zip(answers, queries)]
        out[question] = {"named": round(100 * sum(named) / len(named), 1), "questions": len(named),
                         "wrong": Counter(a for a, ok in zip(answers, named) if not ok).most_common(3)}
    print(json.dumps({"run": str(args.run_dir), "held_out": list(HELD_OUT["identity"]), "phrasings": out}, indent=1))


if __name__ == "__main__":
    main()
