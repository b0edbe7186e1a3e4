"""A property test of the stage keys: change one input at a time (every config field, each file
and code input, the environment) and check that exactly the stages that read it change key, so a
stored stage is never served for other inputs, and an unrelated change recomputes nothing."""

from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel, ValidationError

from pebench.config import RunConfig, load_config
from pebench.methods.overrides import method_settings
from pebench.recipe import keys as sk
from pebench.recipe.support import resolved_eval
from pebench.recipe.training import goal_settings
from pebench.splits import make_split

ENV = {"torch": "2.13.0", "transformers": "5.17.0", "peft": "0.21.0", "device": "cpu", "dtype": "float32",
       "strategy": "none", "world_size": 1}
SKIPPED = {("model", "path"), ("eval", "pope_dir"), ("eval", "real_dir"), ("eval", "embedding_model")}  # need files

FOUNDATION = {"model", "seed", "foundation"}
EVALUATION = {"eval", "split", "seed"}
GOAL = FOUNDATION | {"finetune", "goal", "split.forget_fraction"}  # D_r: which targets, not how their images divide
FINETUNED = FOUNDATION | {"finetune"}
ROW = EVALUATION | FINETUNED | GOAL
METHOD = ROW | {"unlearn", "probes.every", "probes.subset", "probes.scenarios"}  # evaluation during unlearning, when probed
READS = {  # which config fields each stage's key reads (a section, or section.field)
    "dataset": {"data"}, "foundation": FOUNDATION, "finetuned": FINETUNED, "goal": GOAL, "evaluation": EVALUATION,
    "goal_row": EVALUATION | GOAL, "finetuned_row": ROW, "method_row": METHOD,
    "probes": METHOD | {"probes.quant_bits", "probes.relearn_steps", "probes.relearn_lr", "probes.relearn_batch_size",
                        "probes.relearn_retain", "probes.extraction", "probes.paraphrase", "probes.text_only", "probes.epsilon"},
    "sequential": EVALUATION | FINETUNED | GOAL | {"unlearn"},
}


# The method whose keys are checked: one without a swept override, so `unlearn.lr` is its lr.
METHOD = "GD"


def keys(cfg: RunConfig, data, *, build=None, files=None, base=None, env=ENV, code="eval-code") -> dict[str, str]:
    """Every stage key of `cfg` (scenario person's rows, METHOD's row, sequential on both)."""
    data_key = sk.data_key(build or {"config": "built"}, files)
    foundation = sk.foundation_key(cfg, data_key, base, env)
    finetuned = sk.finetuned_key(cfg, foundation)
    eval_cfg = resolved_eval(cfg)
    out = {"dataset": sk.dataset_key(cfg), "foundation": foundation, "finetuned": finetuned}
    for scenario in ("person", "both"):
        split = make_split(data, scenario, cfg.split, cfg.seed)
        goal = sk.goal_key(goal_settings(cfg.finetune, split, len(data.of_kind("pebench")), cfg.goal.budget), foundation, split)
        evaluation = sk.evaluation_key(cfg, eval_cfg, split, data_key, code, [])
        settings = method_settings(cfg.unlearn, METHOD)
        if scenario == "person":
            method = sk.method_row_key(evaluation, finetuned, goal, METHOD, settings, cfg.seed, {}, "src",
                                       sk.trajectory_settings(cfg, split))
            out |= {"goal": goal, "evaluation": evaluation, "goal_row": sk.goal_row_key(evaluation, goal),
                    "finetuned_row": sk.finetuned_row_key(evaluation, finetuned, goal), "method_row": method,
                    "probes": sk.probe_key(cfg, method)}
        else:
            out["sequential"] = sk.sequential_key(cfg, evaluation, finetuned, goal, METHOD, settings, {}, "src")
    return out


def _leaves(model: BaseModel, prefix: tuple = ()):
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from _leaves(value, (*prefix, name))
        else:
            yield (*prefix, name), value


def _candidates(path: tuple, value, annotation) -> list:
    options = [a for a in typing.get_args(annotation) if isinstance(a, str)]
    if path[-1] == "overrides":
        return [{**value, METHOD: {"lr": 5e-4}}]
    if path[-1] == "device":
        return [d for d in ("cpu", "cuda:1") if d != value]
    if value is None and float in typing.get_args(annotation):
        return [0.5]
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value * 2, value - 1]
    if isinstance(value, float):
        return [value * 0.5, value * 1.5, value + 0.1, value + 1]
    if isinstance(value, tuple):
        extra = {"scenarios": ("person", "event", "both"), "sequential_methods": ("GA",)}.get(path[-1])
        return [v for v in (value[:-1], value[1:], extra) if v is not None and v != value]
    if options:
        return [o for o in options if o != value]
    return [f"{value}-changed" if value else "changed"]


def _changed(cfg: RunConfig, path: tuple, value) -> RunConfig | None:
    model = cfg
    for part in path[:-1]:
        model = getattr(model, part)
    annotation = type(model).model_fields[path[-1]].annotation
    for candidate in _candidates(path, value, annotation):
        raw = cfg.model_dump()
        node = raw
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = candidate
        try:
            new = RunConfig.model_validate(raw)
        except ValidationError:
            continue
        if new != cfg:
            return new
    return None


def _reads(stage: str, path: tuple) -> bool:
    return any(".".join(path[: len(r.split("."))]) == r for r in READS[stage])


@pytest.fixture(scope="module")
def baseline(tiny_data):
    cfg = load_config("tiny", overrides={"scenarios": ["person", "both"]})
    return cfg, keys(cfg, tiny_data)


def test_every_config_field_changes_exactly_the_keys_of_the_stages_that_read_it(baseline, tiny_data):
    cfg, before = baseline
    tried = 0
    for path, value in _leaves(cfg):
        if path in SKIPPED:
            continue
        new = _changed(cfg, path, value)
        assert new is not None, f"no valid change found for {'.'.join(path)}"
        after = keys(new, tiny_data)
        for stage in before:
            changed = after[stage] != before[stage]
            assert changed == _reads(stage, path), (f"{'.'.join(path)} changed from {value!r}: the {stage} key "
                                                     f"{'changed' if changed else 'did not change'}")
        tried += 1
    assert tried > 80


@pytest.mark.parametrize("change, stages", [
    ({"files": "edited"}, "all but dataset"),  # a --data directory's files
    ({"build": {"config": "other"}}, "all but dataset"),
    ({"base": "another checksum"}, "all but dataset, evaluation"),
    ({"env": {**ENV, "torch": "2.14.0"}}, "all but dataset, evaluation"),
    ({"env": {**ENV, "device": "cuda"}}, "all but dataset, evaluation"),
    ({"env": {**ENV, "world_size": 2}}, "all but dataset, evaluation"),
    ({"code": "edited metric"}, "all but dataset, foundation, finetuned, goal"),
])
def test_files_code_and_environment_change_the_stages_that_depend_on_them(baseline, tiny_data, change, stages):
    cfg, _ = baseline
    before = keys(cfg, tiny_data, base="checksum") if "base" in change else keys(cfg, tiny_data)
    after = keys(cfg, tiny_data, **{"base": "checksum", **change}) if "base" in change else keys(cfg, tiny_data, **change)
    kept = set(stages.removeprefix("all but ").split(", "))
    assert {s for s in before if before[s] == after[s]} == kept


def test_a_pretrained_base_ignores_the_foundation_training_settings(baseline, tiny_data):
    cfg, _ = baseline
    other = cfg.model_copy(update={"foundation": cfg.foundation.model_copy(update={"steps": 7})})
    assert keys(cfg, tiny_data, base="sum")["foundation"] == keys(other, tiny_data, base="sum")["foundation"]
    assert keys(cfg, tiny_data)["foundation"] != keys(other, tiny_data)["foundation"]


def test_the_data_code_and_its_package_files_are_in_the_data_keys(monkeypatch, baseline):
    """pebench_pools.json (jobs, cities, event keywords) is hashed with the data code, and with
    --data the current data code still enters the key."""
    from pebench.core import fingerprint

    files = [f.name for f in fingerprint._files("pebench.data")]
    assert "pebench_pools.json" in files and "qa.py" in files
    cfg, _ = baseline
    before = (sk.dataset_key(cfg), sk.data_key({"config": "x"}, "files"))
    monkeypatch.setattr(sk, "component_hash", lambda name: f"edited {name}")
    assert sk.dataset_key(cfg) != before[0] and sk.data_key({"config": "x"}, "files") != before[1]


def test_the_goal_trains_the_finetuned_steps_or_its_epochs(tiny_data):
    """With budget "finetuned" (the default) the Goal takes the Finetuned model's steps (its fit
    on D_r); with "epochs" Finetuned's scaled by |D_r| / |PEBench images|; its key follows them."""
    cfg = RunConfig()
    images = len(tiny_data.of_kind("pebench"))
    split = make_split(tiny_data, "person", cfg.split, 0)
    assert cfg.goal.budget == "finetuned"
    assert goal_settings(cfg.finetune, split, images, "finetuned") == cfg.finetune
    settings = goal_settings(cfg.finetune, split, images, "epochs")
    assert settings.steps == round(cfg.finetune.steps * len(split.retain) / images) < cfg.finetune.steps
    assert settings.model_dump(exclude={"steps"}) == cfg.finetune.model_dump(exclude={"steps"})
    assert goal_settings(cfg.finetune.model_copy(update={"steps": 400}), split, 4 * len(split.retain), "epochs").steps == 100
    assert goal_settings(cfg.finetune, split, 10**9, "epochs").steps == 1  # never zero steps
    longer = cfg.finetune.model_copy(update={"steps": 2 * cfg.finetune.steps})
    assert goal_settings(cfg.finetune, split, images) == cfg.finetune
    assert sk.goal_key(settings, "f", split) != sk.goal_key(goal_settings(cfg.finetune, split, images, "finetuned"), "f", split)
    assert sk.goal_key(cfg.finetune, "f", split) != sk.goal_key(goal_settings(longer, split, images, "epochs"), "f", split)
