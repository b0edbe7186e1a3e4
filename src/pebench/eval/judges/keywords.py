"""The `keywords` judge: deterministic, from each event's description and keywords."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from pebench.config import EvalConfig
from pebench.data.events import Event, all_events
from pebench.data.persons import ACCESSORIES, EYE_COLOURS, FACE_SHAPES, HAIR_COLOURS, HAIR_STYLES, SHIRT_COLOURS, SKINS
from pebench.eval.judges import JUDGES
from pebench.eval.text import normalise

STOPWORDS = frozenset(
    "a an and are as at be by for from in into is it its of on or the their there this to with while where who "
    "that than them they through under over up about after before between during so some many much very".split())


LOOK_WORDS = " ".join(["person has hair shirt head bald skin eyes face", *SKINS, *HAIR_COLOURS, *HAIR_STYLES,
                       *EYE_COLOURS, *SHIRT_COLOURS, *ACCESSORIES, *FACE_SHAPES])


def _stem(word: str) -> str:
    for suffix in ("ing", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def content_terms(text: str) -> set[str]:
    """Stemmed content words of `text` (stopwords removed)."""
    return {_stem(w) for w in normalise(text).split() if w not in STOPWORDS}


@JUDGES.register("keywords")
class KeywordJudge:
    """Deterministic judge from each event's description and keywords.

    score = 0.7 · F1_idf(answer terms, description terms) + 0.3 · keyword coverage, where answer
    terms that only describe a person's look (hair, shirt, colours, ...) are left out, and
    F1_idf weights each term by its inverse document frequency over all 40 events (terms
    shared by many events count little) and keyword coverage is the share of the event's
    keywords that occur in its description and also in the answer. The reference
    description scores 1; another event's description scores near 0.
    """

    def __init__(self, cfg: EvalConfig | None = None, cache_dir: Path | None = None) -> None:
        docs = [content_terms(e.description + " " + " ".join(e.keywords)) for e in all_events()]
        df: dict[str, int] = {}
        for d in docs:
            for t in d:
                df[t] = df.get(t, 0) + 1
        self._idf = {t: math.log((1 + len(docs)) / c) for t, c in df.items()}
        self._unknown = math.log(1 + len(docs))
        self._look = content_terms(LOOK_WORDS)

    def _weight(self, terms: set[str]) -> float:
        # fsum is exactly rounded, so the total does not depend on the set's (hash-seeded) order.
        return math.fsum(self._idf.get(t, self._unknown) for t in terms)

    def score_one(self, answer: str, event: Event) -> float:
        ref = content_terms(event.description)
        # Words that describe the person in the picture say nothing about the event: a caption's
        # look sentence neither earns nor costs credit (unless the description uses the word).
        got = {t for t in content_terms(answer) if t in ref or t not in self._look}
        common = self._weight(got & ref)
        if not got or common == 0:
            f1 = 0.0
        else:
            p, r = common / self._weight(got), common / self._weight(ref)
            f1 = 2 * p * r / (p + r)
        keywords = [content_terms(k) for k in event.keywords]
        usable = [k for k in keywords if k and k <= ref]
        coverage = sum(k <= got for k in usable) / len(usable) if usable else f1
        return 0.7 * f1 + 0.3 * coverage

    def score(self, answers: Sequence[str], events: Sequence[Event]) -> list[float]:
        return [self.score_one(a, e) for a, e in zip(answers, events)]
