"""Results you can trust: the store never serves a stage whose parts are gone and keeps what runs
use, every stage records its environment and a run mixing environments says so, overrides and
the whole config schema are checked before any work, the report checks its input's shape, and
the smaller holes of issue 28 (Real identities, per-concept membership, importer, --force)."""

from __future__ import annotations

import csv
import json
import math
import random
import time
import typing
from pathlib import Path

import pytest
from PIL import Image
from pydantic import BaseModel
from test_cli import _one_line_error, pebench_here

from pebench.config import RunConfig, load_config
from pebench.core.environment import mixed_environment_warnings
from pebench.recipe.support import mixed_warnings
from pebench.core.errors import PebenchError
from pebench.core.io import write_json
from pebench.store import StageStore, run_directory, stage_record

RESULTS = Path(__file__).parents[1] / "docs" / "results" / "results.json"


# ---- the store -------------------------------------------------------------------------------
def _compute(calls: list):
    def compute():
        calls.append(1)
        return {"key": "k1", "value": 1}, "sample\n"
    return compute


def test_a_stage_used_through_a_run_directory_counts_as_used(tmp_path):
    store, calls = StageStore(tmp_path / "store"), []
    run = tmp_path / "run" / "stages" / "person" / "GA.json"
    samples = tmp_path / "run" / "samples" / "person" / "GA.jsonl"
    stage_record(store, run, "k1", _compute(calls), samples_path=samples)
    stale = time.time() - 40 * 86400
    write_json(store.root / "uses" / "k1.json", {"last_use": stale, "users": {}})
    for path in store.root.glob("*/k1*"):
        import os

        os.utime(path, (stale, stale))
    stage_record(store, run, "k1", _compute(calls), samples_path=samples)  # a daily rerun, served by the run directory
    assert calls == [1] and store.prune(older_than_s=30 * 86400) == []
    assert [e.users for e in store.entries()][0] == (str(tmp_path / "run"),)


def test_a_record_whose_samples_were_pruned_is_computed_again(tmp_path):
    store, calls = StageStore(tmp_path / "store"), []
    stage_record(store, tmp_path / "a" / "stages" / "x.json", "k1", _compute(calls), samples_path=tmp_path / "a" / "s.jsonl")
    (store.root / "samples" / "k1.jsonl").unlink()
    fresh_run = tmp_path / "b"
    stage_record(store, fresh_run / "stages" / "x.json", "k1", _compute(calls), samples_path=fresh_run / "s.jsonl")
    assert calls == [1, 1] and (fresh_run / "s.jsonl").read_text() == "sample\n"


def test_prune_takes_a_stage_whole_record_first(tmp_path):
    store = StageStore(tmp_path / "store")
    stage_record(store, tmp_path / "r" / "stages" / "x.json", "k1", _compute([]), samples_path=tmp_path / "r" / "s.jsonl")
    removed = store.prune()
    assert [e.kind for e in removed] == ["stages", "samples"] and store.entries() == []
    assert not (store.root / "uses" / "k1.json").exists()


def test_run_directory_of_a_run_file():
    assert run_directory(Path("/x/models/run/stages/seed-1/person/goal.json")) == Path("/x/models/run")
    assert run_directory(Path("/x/run/models/person/GA")) == Path("/x/run")
    assert run_directory(Path("/x/run/dataset")) == Path("/x/run")


# ---- provenance ------------------------------------------------------------------------------
def test_records_carry_their_environment_and_mixed_runs_are_named():
    current = {"torch": "2.13.0", "threads": 2, "device": "cpu"}
    stages = {"finetuned": {**current, "threads": 1}, "person/GA": current, "person/NPO": None}
    warnings = mixed_environment_warnings(current, stages)
    assert any("threads 1, this run has 2 (finetuned)" in w for w in warnings)
    assert any("without a record of their environment (person/NPO)" in w for w in warnings)
    assert mixed_environment_warnings(current, {"person/GA": current}) == []


def test_with_workers_model_stages_are_compared_with_the_environment_they_are_trained_in():
    """Worker processes: models trained with 2 threads, rows computed with 1; neither is mixed,
    but a row of 2 threads or a model of 1 is."""
    models, rows = {"torch": "2.13.0", "threads": 2}, {"torch": "2.13.0", "threads": 1}
    provenance = {"run": rows, "models": models, "model_stages": ["finetuned", "goal-person"],
                  "stages": {"finetuned": models, "goal-person": models, "person/GA": rows}}
    assert mixed_warnings(provenance) == []
    provenance["stages"] |= {"person/NPO": models, "goal-person": rows}
    warnings = mixed_warnings(provenance)
    assert any("threads 2, this run has 1 (person/NPO)" in w for w in warnings)
    assert any("threads 1, this run has 2 (goal-person)" in w for w in warnings) and len(warnings) == 2
    one_process = {"run": models, "stages": {"finetuned": models, "person/GA": rows}}
    assert mixed_warnings(one_process) == mixed_environment_warnings(models, one_process["stages"])


def test_a_stage_record_stores_the_provenance_it_was_computed_with(tmp_path):
    store = StageStore(tmp_path / "store")
    record = stage_record(store, tmp_path / "r.json", "k1", _compute([]), provenance={"torch": "x"})
    assert record["provenance"] == {"torch": "x"} and store.read("k1")["provenance"] == {"torch": "x"}


# ---- overrides and the config schema -----------------------------------------------------------
@pytest.mark.parametrize("yaml_text, pattern", [
    ("unlearn:\n  overrides:\n    NPO:\n      steps: 0\n", "unlearn.overrides.NPO.steps: must be >= 1"),
    ("unlearn:\n  overrides:\n    NPO:\n      lr: -1\n", "unlearn.overrides.NPO.lr: must be > 0"),
    ("unlearn:\n  overrides:\n    NPO:\n      beta: fast\n", "unlearn.overrides.NPO.beta: must be a finite number"),
    ("unlearn:\n  overrides:\n    NPO:\n      bta: 0.1\n", "unlearn.overrides.NPO.bta: NPO has no setting"),
    ("unlearn:\n  overrides:\n    RMU:\n      layer: 1.5\n", "unlearn.overrides.RMU.layer: must be an integer"),
    ("seed: -1\n", "invalid config at seed"),
])
def test_bad_overrides_fail_before_the_run_directory_exists(monkeypatch, capsys, tmp_path, yaml_text, pattern):
    (tmp_path / "c.yaml").write_text(yaml_text)
    result = pebench_here(monkeypatch, capsys, "run", "--preset", "tiny", "--config", str(tmp_path / "c.yaml"),
                          "--out", str(tmp_path / "run"))
    _one_line_error(result, pattern)
    assert not (tmp_path / "run").exists()


def test_numbers_written_as_text_become_numbers():
    cfg = load_config(overrides={"unlearn": {"overrides": {"NPO": {"lr": "5e-4", "beta": "1e-1"}}}})
    assert cfg.unlearn.overrides["NPO"] == {"lr": 5e-4, "beta": 0.1}  # YAML 1.1 reads 5e-4 as text


def _schema_leaves(model: type[BaseModel], prefix: tuple = ()):
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from _schema_leaves(field.annotation, (*prefix, name))
        else:
            yield (*prefix, name), field


BAD_VALUES = ("text", [1, 2], {"a": 1}, -1, -1e9, 1e12, float("nan"), None)


@pytest.mark.parametrize("path, field", list(_schema_leaves(RunConfig)), ids=lambda v: ".".join(v) if isinstance(v, tuple) else "")
def test_every_config_field_rejects_bad_values_with_its_key_path(path, field):
    """Generated over the whole schema: each bad value either is refused naming the field, or
    is a value the field accepts (then it must be of the field's type)."""
    numeric = field.annotation in (int, float)
    if numeric:
        assert any(hasattr(m, "ge") or hasattr(m, "gt") for m in field.metadata), f"{'.'.join(path)} has no lower bound"
    for bad in BAD_VALUES:
        raw: dict = {}
        node = raw
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = bad
        try:
            cfg = load_config(overrides=raw)
        except PebenchError as exc:
            assert f"at {'.'.join(path)}" in str(exc) and "\n" not in str(exc)
            continue
        value = cfg
        for part in path:
            value = getattr(value, part)
        if numeric:
            assert isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value), (path, bad)
        else:
            assert bad is None or typing.get_origin(field.annotation) is not None or isinstance(value, field.annotation)


# ---- the report's input ----------------------------------------------------------------------
def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))


def _mutated(results: dict, path: tuple, value) -> dict:
    out = json.loads(json.dumps(results))
    node = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


def test_the_report_checks_the_shape_of_results_json_everywhere_it_reads():
    """Generated bad shapes (wrong types at every path three levels deep and at a seeded sample
    of deeper ones): each is accepted as-is or refused with a one-line PebenchError."""
    from pebench.report import in_config_order
    from pebench.report.schema import checked_results

    results = json.loads(RESULTS.read_text())
    paths = [p for p in _paths(results) if p and (len(p) <= 3 or random.Random(str(p)).random() < 0.02)]
    assert len(paths) > 100
    refused = 0
    for path in paths:
        parent = results
        for part in path[:-1]:
            parent = parent[part]
        kept = parent[path[-1]]
        for bad in ("text", [], {}, None, -1):
            parent[path[-1]] = bad  # mutated in place, restored below (a copy per case is slow)
            try:
                in_config_order(checked_results(results, "results.json"))
            except PebenchError as exc:
                assert "\n" not in str(exc) and str(exc).startswith("results.json is not a pebench results file")
                refused += 1
        parent[path[-1]] = kept
    assert refused > 200


def test_report_on_a_results_file_of_the_wrong_shape_is_one_error_line(monkeypatch, capsys, tmp_path):
    results = json.loads(RESULTS.read_text())
    for i, (path, bad) in enumerate([(("scenarios", "person", "methods", "GA"), [1]), (("scenarios",), []),
                                     (("config", "methods"), 3), (("scenarios", "event", "ci95", "methods"), "x")]):
        run = tmp_path / f"run{i}"
        run.mkdir()
        write_json(run / "results.json", _mutated(results, path, bad))
        _one_line_error(pebench_here(monkeypatch, capsys, "report", str(run)), "is not a pebench results file")
        assert sorted(p.name for p in run.iterdir()) == ["results.json"]  # nothing written


# ---- smaller holes -----------------------------------------------------------------------------
def test_each_real_identity_has_its_own_person_id(tmp_path):
    from pebench.eval.external import load_real

    for name in ("Ada_Lovelace", "Alan_Turing"):
        (tmp_path / name).mkdir()
        for i in range(2):
            Image.new("RGB", (8, 8), (i, 0, 0)).save(tmp_path / name / f"{i}.png")
    ids = {rec.image_id.split("/")[0]: rec.person_id for rec, _ in load_real(str(tmp_path))}
    assert ids == {"real:Ada_Lovelace": 0, "real:Alan_Turing": 1}


def test_membership_in_scenario_both_is_per_concept():
    from pebench.eval.metrics import RowInputs, row_metrics

    def mia(set_name, kind, identity, nll):
        return {"set": set_name, "kind": kind, "person_id": identity, "event_id": identity, "nll": nll, "loss": -nll,
                "zlib": -nll, "mink": -nll, "minkpp": -nll}

    # persons: members clearly lower loss; events: members and non-members alike (AUC 0.5)
    samples = ([mia("mia_member", "identity", i, 0.1) for i in range(2)] + [mia("mia_nonmember", "identity", 10 + i, 2.0) for i in range(2)]
               + [mia("mia_member", "scene", i, 5.0) for i in range(2)] + [mia("mia_nonmember", "scene", 10 + i, 5.0) for i in range(2)])
    both = row_metrics(RowInputs(samples))
    assert both["person_mia_loss_auc"] == 1.0 and both["event_mia_loss_auc"] == 0.5 and "mia_loss_auc" not in both
    person_only = row_metrics(RowInputs(samples[:4]))
    assert person_only["mia_loss_auc"] == 1.0 and "person_mia_loss_auc" not in person_only


def test_the_importer_refuses_blank_names_and_bad_ages_in_one_line(monkeypatch, capsys, tmp_path):
    for i, row in enumerate([{"name": "", "age": "30"}, {"name": "Ada Lovelace", "age": "thirty"}]):
        root = tmp_path / f"release{i}"
        root.mkdir()
        with (root / "persons.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["name", "age"])
            writer.writeheader()
            writer.writerows([row, {"name": "Bob Stone", "age": "40"}])
        result = pebench_here(monkeypatch, capsys, "data", "import", str(root), "--out", str(tmp_path / f"out{i}"))
        _one_line_error(result, "persons.csv:2:")
        assert not (tmp_path / f"out{i}").exists()


def test_force_removes_only_pebench_temporaries(tmp_path):
    from pebench.recipe.support import check_out_dir

    cfg = load_config("tiny")
    out = tmp_path / "run"
    (out / "notes" / ".draft.tmp").mkdir(parents=True)  # a user's own hidden folder
    (out / "stages" / ".GA.json.abc.tmp").mkdir(parents=True)  # a killed write of pebench
    check_out_dir(out, cfg, force=True)  # not a pebench run yet: nothing hidden is touched
    assert (out / "notes" / ".draft.tmp").is_dir() and (out / "stages" / ".GA.json.abc.tmp").is_dir()
    check_out_dir(out, cfg, force=False)  # now a pebench run: its own temporaries go
    assert (out / "notes" / ".draft.tmp").is_dir() and not (out / "stages" / ".GA.json.abc.tmp").exists()


def test_each_process_seeds_its_own_dropout(monkeypatch):
    from pebench.core import distributed
    from pebench.train.loop import process_seed

    assert process_seed(7) == 7
    monkeypatch.setattr(distributed, "rank", lambda: 1)
    assert process_seed(7) == 8

