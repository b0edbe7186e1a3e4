"""The six PEBench columns (SPEC §3) for one model on one split, with per-sample records.
The columns and the privacy metrics are registered in `pebench.eval.metrics`.

Person concept: Efficacy / Generality = 100 × (1 − name precision) on D_f_train / D_f_test,
Scope = ROUGE-L of the scene description on D_f_train, Retain = 100 × name precision on
D_r, Real = 100 × name precision on the Real set, World = POPE accuracy.
Event concept: Efficacy / Generality = 1 − judge score, Scope = 100 × name precision on
D_f_train, Retain = judge score on D_r, Real = ROUGE-L of Real-set descriptions, World = POPE.

World is the accuracy of the first POPE setting in `eval.pope_settings`; every setting's
accuracy, precision, recall, F1 and yes-ratio are reported as `world_<setting>_<metric>`.
With `eval.privacy`, each row also gets membership-inference AUCs and forget quality
(see `pebench.eval.privacy`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Callable

from pebench.config import EvalConfig
from pebench.data.build import ImageRecord, PebenchData
from pebench.data.captions import LIST_Q, listed_objects, place_part
from pebench.data.qa import QA, identity_qa, scene_qa, world_eval_qas
from pebench.eval.cells import Cell, cell_stats
from pebench.eval.external import load_pope, load_real
from pebench.eval.judges import Judge
from pebench.eval.metrics import RowInputs, concept_columns, row_metrics
from pebench.eval.metrics.columns import WORLD
from pebench.eval.privacy import member_losses, membership_scores
from pebench.eval.text import names_person, pope_scores, rouge_l, says_yes
from pebench.models.adapter import VLM
from pebench.splits import Split, forget_qas, holdout_qas

COLUMNS = ("efficacy", "generality", "scope", "retain", "real", "world")


@dataclass(frozen=True)
class Query:
    set: str  # f_train | f_test | retain | real | world:<setting> | mia_member | mia_nonmember
    qa: QA
    record: ImageRecord


def retain_sample(split: Split, limit: int, seed: int) -> list[str]:
    """A seeded sample of at most `limit` D_r image ids (sorted for stable order)."""
    ids = sorted(split.retain)
    return sorted(random.Random(f"retain-sample:{seed}").sample(ids, min(limit, len(ids))))


def target_sample(data: PebenchData, split: Split, image_ids: list[str], limit: int, seed: int) -> list[str]:
    """Of `image_ids` (D_f_train or D_f_test), a seeded sample of at most `limit` images per forget
    target (a person or an event; an image of two targets is kept if either sample keeps it),
    in the original order. Every target keeps its share: a target's cell rests on `limit` images
    of it, not on however many the split gave it."""
    recs = {r.image_id: r for r in data.images}
    by_target: dict[tuple[str, int], list[str]] = {}
    for iid in image_ids:
        rec = recs[iid]
        for concept, target, forgotten in (("person", rec.person_id, split.forget_persons),
                                           ("event", rec.event_id, split.forget_events)):
            if target in forgotten:
                by_target.setdefault((concept, target), []).append(iid)
    kept: set[str] = set()
    for (concept, target), ids in sorted(by_target.items()):
        kept.update(random.Random(f"target-sample:{concept}:{target}:{seed}").sample(ids, min(limit, len(ids))))
    return [iid for iid in image_ids if iid in kept]


def _concept_filter(split: Split, concept: str, cell: Cell) -> Callable[[ImageRecord], bool]:
    """The images a column of `concept` is measured on: all (`forget_only` off), the concept's
    forget targets', and for Scope (`other_kept`) only those whose other concept is kept."""
    if not cell.forget_only:
        return lambda r: True
    if concept == "person":
        return lambda r: r.person_id in split.forget_persons and not (cell.other_kept and r.event_id in split.forget_events)
    return lambda r: r.event_id in split.forget_events and not (cell.other_kept and r.person_id in split.forget_persons)


def _real_queries(data: PebenchData, cfg: EvalConfig, kinds: set[str]) -> list[Query]:
    if cfg.real_dir:
        return [Query("real", qa, rec) for rec, qa in load_real(cfg.real_dir) if qa.kind in kinds]
    makers = {"identity": identity_qa, "scene": scene_qa}
    return [Query("real", makers[k](data, rec), rec) for rec in data.of_kind("real", "eval") for k in makers if k in kinds]


def _world_question(qa: QA, cfg: EvalConfig) -> QA:
    """A POPE question as asked: listing mode asks once per image which objects it shows (each
    POPE question is then scored from that list); yes/no mode asks it, with `eval.pope_suffix`."""
    if cfg.pope_answer == "listing":
        return replace(qa, question=LIST_Q)
    return replace(qa, question=qa.question + (cfg.pope_suffix or ""))


def _world_queries(data: PebenchData, cfg: EvalConfig, seed: int) -> list[Query]:
    out = []
    for setting in cfg.pope_settings:
        if cfg.pope_dir:
            pairs = load_pope(cfg.pope_dir, setting)
        else:
            world = {r.image_id: r for r in data.of_kind("world", "eval")}
            pairs = [(world[qa.image_id], qa) for qa in world_eval_qas(data, seed, setting)]
        out += [Query(f"world:{setting}", _world_question(qa, cfg), rec) for rec, qa in pairs]
    return out


def build_queries(data: PebenchData, split: Split, cfg: EvalConfig, seed: int) -> list[Query]:
    """Every (image, question) the evaluation asks, for the concepts `split` forgets."""
    recs = {r.image_id: r for r in data.images}
    concepts = [c for c, ids in (("person", split.forget_persons), ("event", split.forget_events)) if ids]
    sets = {name: [recs[i] for i in target_sample(data, split, list(ids), cfg.max_target_images, seed)]
            for name, ids in (("f_train", split.f_train), ("f_test", split.f_test))}
    sets["retain"] = [recs[i] for i in retain_sample(split, cfg.max_retain_images, seed)]
    need = set()
    for c in concepts:
        need |= {("f_train", "identity"), ("f_test", "identity") if c == "person" else ("f_test", "scene"),
                 ("f_train", "scene"), ("retain", "identity" if c == "person" else "scene")}
    queries = []
    for set_name, records in sets.items():
        for rec in records:
            for kind, make in (("identity", identity_qa), ("scene", scene_qa)):
                if (set_name, kind) in need:
                    queries.append(Query(set_name, make(data, rec), rec))
    queries += _real_queries(data, cfg, {"identity" if c == "person" else "scene" for c in concepts})
    return queries + _world_queries(data, cfg, seed)


def membership_queries(data: PebenchData, split: Split) -> list[Query]:
    """Forget-set questions (members) and the same kinds of questions on held-out data (non-members)."""
    recs = {r.image_id: r for r in data.images}
    out = []
    for set_name, groups in (("mia_member", forget_qas(data, split)), ("mia_nonmember", holdout_qas(data, split))):
        out += [Query(set_name, qa, recs[qa.image_id]) for c in sorted(groups) for qa in groups[c]]
    return out


def token_limit(kind: str, cfg: EvalConfig) -> int:
    """Max new tokens of an answer to a `kind` question."""
    return {"identity": cfg.identity_tokens, "scene": cfg.scene_tokens,
            "pope": cfg.identity_tokens if cfg.pope_answer == "listing" else 4}[kind]


def answer_queries(vlm: VLM, queries: list[Query], cfg: EvalConfig,
                   on_progress: Callable[[int], None] | None = None) -> list[str]:
    """Generate an answer for every query (grouped by question type for efficient batching)."""
    first: dict[tuple[str, str], int] = {}
    for i, q in enumerate(queries):  # the same question on the same image is generated once
        first.setdefault((q.record.image_id, q.qa.question), i)
    answers: dict[int, str] = {}
    for kind in ("identity", "scene", "pope"):
        idx = [i for i in first.values() if queries[i].qa.kind == kind]
        if not idx:
            continue
        items = [vlm.encode(queries[i].record.image_id, queries[i].record.image, queries[i].qa.question) for i in idx]
        answers.update(zip(idx, vlm.generate(items, token_limit(kind, cfg), cfg.batch_size, on_batch=on_progress)))
    return [answers[first[(q.record.image_id, q.qa.question)]] for q in queries]


def score_samples(data: PebenchData, queries: list[Query], answers: list[str], judge: Judge) -> list[dict]:
    """Per-sample records: the answer, the reference and every score that applies."""
    samples = []
    scene_idx = [i for i, q in enumerate(queries) if q.qa.kind == "scene" and q.record.event_id >= 0]
    judged = dict(zip(scene_idx, judge.score([answers[i] for i in scene_idx],
                                             [data.event(queries[i].record.event_id) for i in scene_idx])))
    for i, (q, a) in enumerate(zip(queries, answers)):
        s = {"set": q.set, "image_id": q.record.image_id, "person_id": q.record.person_id, "event_id": q.record.event_id,
             "kind": q.qa.kind, "question": q.qa.question, "answer": a, "reference": q.qa.answer}
        if q.qa.kind == "identity":
            s["name_match"] = names_person(a, q.qa.target)
        elif q.qa.kind == "scene":
            s["rouge_l"] = rouge_l(a, q.qa.answer)
            if q.record.event_id >= 0:
                s["rouge_l_event"] = rouge_l(place_part(a), data.event(q.record.event_id).description)
            if i in judged:
                s["judge"] = judged[i]
        else:
            s["label"] = q.qa.answer == "Yes."
            s["said_yes"] = q.qa.target in listed_objects(a) if q.qa.question == LIST_Q else says_yes(a)
        samples.append(s)
    return samples


def concept_cells(data: PebenchData, split: Split, samples: list[dict], concept: str,
                  seed: int = 0) -> tuple[dict[str, float], dict[str, list[float]], dict[str, dict[str, int]]]:
    """The six columns for `concept` ("person" or "event") with POPE details, their 95%
    bootstrap intervals over targets, and how many questions and targets each rests on."""
    recs = {r.image_id: r for r in data.images}
    metrics, ci95, n = {}, {}, {}
    for metric in concept_columns(concept):
        cell = metric.cell
        measured_on = _concept_filter(split, concept, cell)
        rows = [s for s in samples if s["set"] == cell.set and s["kind"] == cell.kind and measured_on(recs[s["image_id"]])]
        metrics[metric.column], ci95[metric.column], n[metric.column] = cell_stats(rows, cell, seed)
    world = world_metrics(samples)
    if "world" in world:
        first = next(s["set"] for s in samples if s["set"].startswith("world:"))
        rows = [s for s in samples if s["set"] == first]
        _, ci95["world"], n["world"] = cell_stats(rows, WORLD.cell, seed)
    return metrics | world, ci95, n


def concept_metrics(data: PebenchData, split: Split, samples: list[dict], concept: str) -> dict[str, float]:
    """The six columns (plus POPE details) for `concept` ("person" or "event") from samples."""
    return concept_cells(data, split, samples, concept)[0]


def world_metrics(samples: list[dict]) -> dict[str, float]:
    """POPE scores per setting (`world_<setting>_<metric>`); `world` and `world_f1` of the first setting."""
    out: dict[str, float] = {}
    settings = list(dict.fromkeys(s["set"].split(":", 1)[1] for s in samples if s["set"].startswith("world:")))
    for setting in settings:
        rows = [s for s in samples if s["set"] == f"world:{setting}"]
        scores = pope_scores(["yes" if s["said_yes"] else "no" for s in rows], [s["label"] for s in rows])
        out.update({f"world_{setting}_{k}": v for k, v in scores.items()})
    if settings:
        out["world"], out["world_f1"] = out[f"world_{settings[0]}_accuracy"], out[f"world_{settings[0]}_f1"]
    return out


def scenario_cells(data: PebenchData, split: Split, samples: list[dict], seed: int = 0) -> tuple[dict, dict, dict]:
    """(metrics, ci95, n) for the split's scenario; in `both`, keys are person_* and event_* prefixed."""
    if split.scenario in ("person", "event"):
        return concept_cells(data, split, samples, split.scenario, seed)
    out: tuple[dict, dict, dict] = ({}, {}, {})
    for concept in ("person", "event"):
        for merged, part in zip(out, concept_cells(data, split, samples, concept, seed)):
            merged.update({f"{concept}_{k}": v for k, v in part.items()})
    return out


def scenario_metrics(data: PebenchData, split: Split, samples: list[dict]) -> dict[str, float]:
    """Metrics for the split's scenario; in `both`, person_* and event_* prefixed."""
    return scenario_cells(data, split, samples)[0]


def membership_samples(vlm: VLM, queries: list[Query], batch_size: int) -> list[dict]:
    """Per-sample NLL and MIA scores of the reference answers of membership queries."""
    items = [vlm.encode(q.record.image_id, q.record.image, q.qa.question, q.qa.answer) for q in queries]
    scores = membership_scores(vlm, items, [q.qa.answer for q in queries], batch_size=batch_size)
    return [{"set": q.set, "image_id": q.record.image_id, "person_id": q.record.person_id,
             "event_id": q.record.event_id, "kind": q.qa.kind, "question": q.qa.question,
             "reference": q.qa.answer, **{k: round(v, 6) for k, v in sc.items()}} for q, sc in zip(queries, scores)]


def evaluate(vlm: VLM, data: PebenchData, split: Split, cfg: EvalConfig, judge: Judge, seed: int,
             on_progress: Callable[[int], None] | None = None, queries: list[Query] | None = None,
             goal_member_nll: list[float] | None = None, is_goal: bool = False) -> tuple[dict[str, float], list[dict]]:
    """Evaluate `vlm` on `split`: returns (metrics, per-sample records).

    With `cfg.privacy`, adds MIA AUCs and, given the Goal model's per-sample forget-set NLL
    (`goal_member_nll`, in membership-query order; `is_goal`: `vlm` is the Goal itself),
    forget quality.
    """
    queries = queries if queries is not None else build_queries(data, split, cfg, seed)
    answers = answer_queries(vlm, queries, cfg, on_progress)
    samples = score_samples(data, queries, answers, judge)
    metrics = scenario_metrics(data, split, samples)
    if cfg.privacy:
        members = membership_samples(vlm, membership_queries(data, split), max(1, cfg.batch_size // 4))
        if is_goal:
            goal_member_nll = member_losses(members)
        samples += members
    # Row statistics whose needs are met (over-refusal always; the membership ones with privacy).
    metrics |= row_metrics(RowInputs(samples, goal_member_nll if cfg.privacy else None))
    return metrics, samples
