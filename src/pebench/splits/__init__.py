"""Scenarios and splits (SPEC §2): which persons/events are forgotten, and D_f_train,
D_f_test and D_r as lists of PEBench image ids.

A forget target's images are split by the *other* concept: a forgotten person's events are
divided between D_f_train and D_f_test (so Generality asks about the person in other
scenes), and a forgotten event's persons likewise. In `both`, an image of a forgotten
person at a forgotten event follows the person's division.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pebench.config import SCENARIOS, SplitConfig
from pebench.core.errors import PebenchError
from pebench.data.build import PebenchData
from pebench.data.qa import QA, identity_qa, pebench_qas, scene_qa


@dataclass(frozen=True)
class Split:
    scenario: str
    seed: int
    forget_persons: tuple[int, ...]
    forget_events: tuple[int, ...]
    f_train: tuple[str, ...]
    f_test: tuple[str, ...]
    retain: tuple[str, ...]

    def forget_names(self, data: PebenchData) -> dict[str, list[str]]:
        """The forget targets by name: {"persons": [...], "events": [...]}."""
        return {"persons": [data.person(p).name for p in self.forget_persons],
                "events": [data.event(e).name for e in self.forget_events]}

    def summary(self) -> dict:
        return {"scenario": self.scenario, "seed": self.seed, "forget_persons": list(self.forget_persons),
                "forget_events": list(self.forget_events), "f_train": len(self.f_train), "f_test": len(self.f_test),
                "retain": len(self.retain)}


def _pick(rng: random.Random, ids: list[int], fraction: float, what: str) -> list[int]:
    n = max(1, round(fraction * len(ids)))
    if n >= len(ids):
        raise PebenchError(f"forget fraction {fraction} would forget all {len(ids)} {what}; nothing would be retained")
    return sorted(rng.sample(ids, n))


def _test_part(rng: random.Random, others: list[int], fraction: float) -> set[int]:
    if len(others) < 2:
        raise PebenchError("a forget target needs images with at least 2 different other-concept values to split")
    n = min(len(others) - 1, max(1, round(fraction * len(others))))
    return set(rng.sample(sorted(others), n))


def make_split(data: PebenchData, scenario: str, cfg: SplitConfig, seed: int) -> Split:
    """Choose forget targets for `scenario` and divide the PEBench images (deterministic in `seed`)."""
    if scenario not in SCENARIOS:
        raise PebenchError(f"unknown scenario {scenario!r} (known: {', '.join(SCENARIOS)})")
    # One generator per concept, seeded by the concept and not the scenario: `both` forgets exactly
    # the persons of `person` and the events of `event` (same seed), with the same test divisions,
    # so Table 2's changes against Table 1 come from forgetting both at once, not from other targets.
    person_rng, event_rng = random.Random(f"split:person:{seed}"), random.Random(f"split:event:{seed}")
    person_ids = sorted(p.person_id for p in data.persons)
    event_ids = sorted(e.event_id for e in data.events)
    fp = _pick(person_rng, person_ids, cfg.forget_fraction, "persons") if scenario in ("person", "both") else []
    event_fraction = cfg.event_forget_fraction or cfg.forget_fraction
    fe = _pick(event_rng, event_ids, event_fraction, "events") if scenario in ("event", "both") else []
    images = data.of_kind("pebench")
    test_events = {p: _test_part(person_rng, sorted({r.event_id for r in images if r.person_id == p}), cfg.test_fraction)
                   for p in fp}
    test_persons = {e: _test_part(event_rng, sorted({r.person_id for r in images if r.event_id == e}), cfg.test_fraction)
                    for e in fe}
    f_train, f_test, retain = [], [], []
    for r in images:
        if r.person_id in test_events:
            (f_test if r.event_id in test_events[r.person_id] else f_train).append(r.image_id)
        elif r.event_id in test_persons:
            (f_test if r.person_id in test_persons[r.event_id] else f_train).append(r.image_id)
        else:
            retain.append(r.image_id)
    return Split(scenario, seed, tuple(fp), tuple(fe), tuple(f_train), tuple(f_test), tuple(retain))


def restrict(data: PebenchData, split: Split, persons: tuple[int, ...], events: tuple[int, ...],
             keep_retain: bool = False) -> Split:
    """`split` narrowed to some of its forget targets: D_f_train / D_f_test keep the images of
    those persons or events (in their division); D_r is kept or emptied."""
    recs = {r.image_id: r for r in data.images}
    keep = lambda iid: recs[iid].person_id in persons or recs[iid].event_id in events  # noqa: E731
    return Split(split.scenario, split.seed, persons, events, tuple(filter(keep, split.f_train)),
                 tuple(filter(keep, split.f_test)), split.retain if keep_retain else ())


def forget_qas(data: PebenchData, split: Split, single_image: bool = False) -> dict[str, list[QA]]:
    """The forget data by concept: questions about a forgotten person (identity) or event
    (scene) on D_f_train images (only the first image of each target if `single_image`)."""
    recs = {r.image_id: r for r in data.images}

    def images(target_of) -> list[str]:
        ids = [iid for iid in split.f_train if target_of(recs[iid]) is not None]
        if single_image:
            first: dict[int, str] = {}
            for iid in ids:
                first.setdefault(target_of(recs[iid]), iid)
            ids = sorted(first.values())
        return ids

    person = images(lambda r: r.person_id if r.person_id in split.forget_persons else None)
    event = images(lambda r: r.event_id if r.event_id in split.forget_events else None)
    groups = {"person": pebench_qas(data, person, ("identity",)), "event": pebench_qas(data, event, ("scene",))}
    return {c: qas for c, qas in groups.items() if qas}


def holdout_qas(data: PebenchData, split: Split) -> dict[str, list[QA]]:
    """Questions of the forget kinds on data no model trained on (membership non-members):
    identity of held-out persons at used events, and scenes of held-out events."""
    held_events = {e.event_id for e in data.holdout_events}
    holdout = data.of_kind("holdout")
    groups = {}
    if split.forget_persons:
        groups["person"] = [identity_qa(data, r) for r in holdout if r.event_id not in held_events]
    if split.forget_events:
        groups["event"] = [scene_qa(data, r) for r in holdout if r.event_id in held_events]
    return {c: qas for c, qas in groups.items() if qas}
