"""Table 1's six columns of each concept (SPEC §3) and World.

Person: Efficacy / Generality = 100 × (1 − name precision) on identity questions about the
forget persons' D_f_train / D_f_test images; Scope = ROUGE-L of the event part of their D_f_train
scene descriptions (the answer before "The person has ...", against the event's description) at
events that are kept: the other concept, not the forget person's look, which a Goal that never
saw the person can only read off 64 pixels (it matched 18 of 100 looks, the Finetuned model 96);
Retain / Real = 100 × name precision on D_r / the Real set.
Event: Efficacy / Generality = 1 − judge score on the forget events' D_f_train / D_f_test scene
descriptions; Scope = 100 × name precision on their D_f_train identity questions about persons
that are kept; Retain =
judge score on D_r; Real = ROUGE-L of Real-set descriptions.
World: POPE accuracy (Li et al., 2023) of the first setting in `eval.pope_settings`.
Each is a mean over questions; its interval resamples the unit the questions are about.
"""

from __future__ import annotations

from pebench.eval.cells import Cell
from pebench.eval.metrics import Metric, register

HEADS = {"efficacy": "Eff", "generality": "Gen", "scope": "Scope", "retain": "Ret", "real": "Real"}


def _forgotten(s: dict) -> float:
    return 100.0 * (1 - s["name_match"])


def _named(s: dict) -> float:
    return 100.0 * s["name_match"]


def _rouge(s: dict) -> float:
    return s["rouge_l"]


def _rouge_event(s: dict) -> float:
    return s["rouge_l_event"]


def _judged(s: dict) -> float:
    return s["judge"]


def _not_judged(s: dict) -> float:
    return 1 - s["judge"]


def _pope_correct(s: dict) -> float:
    return 100.0 * (s["said_yes"] == s["label"])


MEASURES = {_forgotten: ("name precision", "percent"), _named: ("name precision", "percent"),
            _rouge: ("ROUGE-L", "unit"),
            _rouge_event: ("ROUGE-L of the event sentence", "unit"), _judged: ("event judge", "unit"), _not_judged: ("event judge", "unit"),
            _pope_correct: ("POPE accuracy", "percent")}

COLUMNS = {
    "person": {"efficacy": Cell("f_train", "identity", True, _forgotten, "person_id"),
               "generality": Cell("f_test", "identity", True, _forgotten, "person_id"),
               "scope": Cell("f_train", "scene", True, _rouge_event, "person_id", other_kept=True),
               "retain": Cell("retain", "identity", False, _named, "person_id"),
               "real": Cell("real", "identity", False, _named, "person_id")},
    "event": {"efficacy": Cell("f_train", "scene", True, _not_judged, "event_id"),
              "generality": Cell("f_test", "scene", True, _not_judged, "event_id"),
              "scope": Cell("f_train", "identity", True, _named, "event_id", other_kept=True),
              "retain": Cell("retain", "scene", False, _judged, "event_id"),
              "real": Cell("real", "scene", False, _rouge, "person_id")},
}


def _column(name: str, head: str, cell: Cell, concept: str = "") -> Metric:
    measure, scale = MEASURES[cell.value]
    samples = (f"{cell.set} {cell.kind} questions" + (" about the forget targets" if cell.forget_only else "")
               + (" whose other concept is kept" if cell.other_kept else ""))
    return register(Metric(name, head, scale, "higher", measure, f"mean over {samples}; 95% CI: bootstrap over "
                           f"{cell.unit.removesuffix('_id')}s", table="table1", concept=concept, cell=cell))


for _concept, _cells in COLUMNS.items():
    for _column_name, _cell in _cells.items():
        _column(f"{_concept}_{_column_name}", HEADS[_column_name], _cell, _concept)

WORLD = _column("world", "World", Cell("world", "pope", False, _pope_correct, "image_id"))
# Computed with every setting's accuracy, precision, recall and yes-ratio by `world_metrics`.
register(Metric("world_f1", "POPE F1", "percent", "higher", "POPE F1", "F1 of the yes answers, per POPE setting",
                table="privacy"))
