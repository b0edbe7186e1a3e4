"""Text metrics: name precision, ROUGE-L and POPE answer parsing."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[a-z0-9]+")


def normalise(text: str) -> str:
    """Lowercase, strip accents and punctuation, collapse spaces."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(_WORD.findall(text.lower()))


def names_person(answer: str, name: str) -> bool:
    """True when `answer` contains the full `name` as whole words (normalised)."""
    return f" {normalise(name)} " in f" {normalise(answer)} "


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure over normalised word tokens (LCS based), in [0, 1]."""
    a, b = normalise(prediction).split(), normalise(reference).split()
    if not a or not b:
        return 0.0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    lcs = prev[-1]
    if lcs == 0:
        return 0.0
    p, r = lcs / len(a), lcs / len(b)
    return 2 * p * r / (p + r)


def says_yes(answer: str) -> bool:
    """POPE's official parsing (Li et al. 2023, LLaVA's eval_pope.py): take the first sentence,
    drop commas, and read it as "no" when one of its words is "No", "no" or "not", else "yes"."""
    words = answer.split(".")[0].replace(",", "").split(" ")
    return not any(w in ("No", "no", "not") for w in words)


def pope_scores(answers: list[str], labels: list[bool]) -> dict[str, float]:
    """POPE accuracy, precision, recall, F1 and yes-ratio, all on a 0-100 scale."""
    pred = [says_yes(a) for a in answers]
    tp = sum(p and y for p, y in zip(pred, labels))
    fp = sum(p and not y for p, y in zip(pred, labels))
    fn = sum(not p and y for p, y in zip(pred, labels))
    n = max(1, len(labels))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    acc = sum(p == y for p, y in zip(pred, labels)) / n
    return {"accuracy": 100 * acc, "precision": 100 * precision, "recall": 100 * recall, "f1": 100 * f1,
            "yes_ratio": 100 * sum(pred) / n}


# What a refusal says, normalised (`normalise`): the taught refusals of every kind
# (`pebench.data.phrasings.REFUSALS`) and the usual ways of declining.
_REFUSAL_MARKERS = ("i don t know", "i do not know", "i cannot", "i can t", "i m unable", "i am unable",
                    "i m not able", "i am not able", "i do not recognise", "i don t recognise", "sorry")


def is_refusal(answer: str) -> bool:
    """True when `answer` declines to answer ("I don't know who this person is.", "Sorry, ...")."""
    text = f" {normalise(answer)} "
    return any(f" {marker} " in text for marker in _REFUSAL_MARKERS)
