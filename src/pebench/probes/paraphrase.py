"""The paraphrase probe: identity and scene questions about D_f_test images asked in phrasings
that no training, fine-tuning or unlearning step uses. A method that only learnt to refuse the
one training phrasing ("Who is this person?") still names the person when asked otherwise.

Each D_f_test question takes one held-out phrasing of its kind, in turn (deterministic). The
probe is informative only where the Finetuned model answers the paraphrases (its own row in
the table); the shipped base is pretrained on many phrasings per task (none of these), so it
does.
"""

from __future__ import annotations

from dataclasses import replace

from pebench.data.phrasings import HELD_OUT
from pebench.eval.evaluate import Query

PARAPHRASES = HELD_OUT


def paraphrased(queries: list[Query]) -> list[Query]:
    """The D_f_test identity and scene questions of `queries`, each in a held-out phrasing."""
    out = []
    for q in (q for q in queries if q.set == "f_test" and q.qa.kind in PARAPHRASES):
        pool = PARAPHRASES[q.qa.kind]
        out.append(replace(q, qa=replace(q.qa, question=pool[len(out) % len(pool)])))
    return out
