"""The text-only probe: is a person forgotten through images still reachable through text alone?

Fine-tuning teaches each person's profile (job, birthplace) by two routes: asked with one of
their images ("What is this person's job?") and by name without any image ("What is NAME's
job?"). Methods unlearn through images. The probe asks the forget persons' profile questions
by both routes and reports, as Efficacy does, the share no longer answered:

    profile Efficacy (route) = 100 x (1 - mean_q [answer names the true value]),

on D_f_train images with the image route and by name without pixels on the text route, and the
retained persons' text route (100 x accuracy) as its Retain. UMU-Bench (Wang et al., 2025) and
CLEAR (Dontsov et al., 2024) found knowledge erased through images still reachable through
text; the Goal row, which never learnt the forget persons, shows the level of chance.
"""

from __future__ import annotations

from pebench.data.build import PebenchData
from pebench.data.qa import QA, profile_qas
from pebench.eval.text import names_person
from pebench.models import VLM
from pebench.splits import Split

PROFILE_TOKENS = 40  # the longest name and birthplace ("... was born in San Juan, Puerto Rico.") fit


def profile_probe_qas(data: PebenchData, split: Split) -> dict[str, list[QA]]:
    """The probe's questions by column: forget persons with their D_f_train images and by name,
    retained persons by name (in `both`, D_f_train also holds other persons at forget events)."""
    person_of = {r.image_id: r.person_id for r in data.images}
    forget = [i for i in sorted(split.f_train) if person_of[i] in split.forget_persons]
    retain = sorted(r.image_id for r in data.of_kind("pebench") if r.person_id not in split.forget_persons)
    return {"image": profile_qas(data, forget, "image"), "text": profile_qas(data, forget, "text"),
            "text_retain": profile_qas(data, retain, "text")}


def accuracy(vlm: VLM, data: PebenchData, qas: list[QA], batch_size: int) -> float:
    """Share of `qas` whose greedy answer names the true value (whole words, normalised); text-only
    questions are encoded without an image, so no pixel values reach the model."""
    records = {r.image_id: r for r in data.images}
    items = [vlm.encode(q.image_id, records[q.image_id].image if q.image else None, q.question) for q in qas]
    return share_correct(vlm.generate(items, PROFILE_TOKENS, batch_size), qas)


def share_correct(answers: list[str], qas: list[QA]) -> float:
    """mean_q [answer q names q's value as whole words, normalised] (0 for no questions)."""
    return sum(names_person(a, q.target) for a, q in zip(answers, qas, strict=True)) / max(1, len(qas))


def text_only_columns(vlm: VLM, data: PebenchData, split: Split, batch_size: int) -> dict[str, float]:
    """{"image", "text"}: profile Efficacy of the forget persons by route; "text_retain": the
    retained persons' profile accuracy by name (all in percent)."""
    qas = profile_probe_qas(data, split)
    known = {column: 100 * accuracy(vlm, data, q, batch_size) for column, q in qas.items()}
    return {"image": 100 - known["image"], "text": 100 - known["text"], "text_retain": known["text_retain"]}
