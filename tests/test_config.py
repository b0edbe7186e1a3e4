import pytest

from pebench.config import load_config
from pebench.core.errors import PebenchError


def test_presets_and_overrides():
    cfg = load_config("tiny", overrides={"seed": 5, "methods": ["GA"]})
    assert cfg.seed == 5 and cfg.methods == ("GA",) and cfg.data.persons == 8


@pytest.mark.parametrize("raw,where", [
    ({"unknown_key": 1}, "unknown_key"),
    ({"split": {"forget_fraction": 0}}, "split.forget_fraction"),
    ({"split": {"forget_fraction": 1.2}}, "split.forget_fraction"),
    ({"data": {"persons": "many"}}, "data.persons"),
    ({"finetune": {"lr": -1}}, "finetune.lr"),
    ({"scenarios": ["person", "places"]}, "scenarios.1"),
])
def test_invalid_values_name_their_key_path(raw, where):
    with pytest.raises(PebenchError, match=f"at {where}"):
        load_config(overrides=raw)


def test_yaml_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data:\n  persons: 12\nunlearn:\n  lr: 0.001\n")
    cfg = load_config("default", path)
    assert cfg.data.persons == 12 and cfg.unlearn.lr == 0.001
    path.write_text("data: [1, 2\n")
    with pytest.raises(PebenchError, match="not valid YAML"):
        load_config("default", path)
    with pytest.raises(PebenchError, match="does not exist"):
        load_config("default", tmp_path / "missing.yaml")
    with pytest.raises(PebenchError, match="unknown preset"):
        load_config("huge")


def test_written_overrides_are_the_whole_of_them_and_a_checkpoint_gets_no_swept_defaults(tmp_path):
    """Issue 44: the learning rates swept on the embedded model apply to it only when the config
    writes no `unlearn.overrides`; written ones replace them (`{}`: none, `NPO: {}`: NPO's own
    defaults); a `model.path` checkpoint gets none unless written. The resolved config reloads
    to itself either way (a run's config.json)."""
    from pebench.config import DEFAULT_METHOD_OVERRIDES, RunConfig

    assert load_config().unlearn.overrides == DEFAULT_METHOD_OVERRIDES and DEFAULT_METHOD_OVERRIDES["NPO"]
    cfg = load_config(overrides={"unlearn": {"overrides": {"GA": {"lr": 0.002}, "DPO": {"beta": 0.5}, "NPO": {}}}})
    assert cfg.unlearn.overrides == {"GA": {"lr": 0.002}, "DPO": {"beta": 0.5}, "NPO": {}}
    assert load_config(overrides={"unlearn": {"overrides": {}}}).unlearn.overrides == {}
    checkpoint = load_config(overrides={"model": {"path": str(tmp_path)}})
    assert checkpoint.unlearn.overrides == {} and checkpoint.unlearn.lr == RunConfig().unlearn.lr
    written = load_config(overrides={"model": {"path": str(tmp_path)}, "unlearn": {"overrides": {"GA": {"lr": 1e-5}}}})
    assert written.unlearn.overrides == {"GA": {"lr": 1e-5}}
    for resolved in (load_config(), cfg, checkpoint, written):
        assert RunConfig.model_validate(resolved.model_dump(mode="json")) == resolved


def test_shipped_experiment_configs_are_valid():
    """configs/*.yaml (paper scale, Flux data) load and validate; their model settings are the documented ones."""
    from pathlib import Path

    root = Path(__file__).parent.parent / "configs"
    for path in sorted(root.glob("*.yaml")):
        cfg = load_config("default", path)
        assert cfg.data.persons == 200 and cfg.data.events == 40, path.name
    llava = load_config("default", root / "llava-1.5-7b.yaml")
    assert llava.model.lora.enabled and llava.model.dtype == "bfloat16" and llava.model.gradient_checkpointing
    assert llava.scenarios == ("person", "event", "both")
    assert load_config("default", root / "flux-data.yaml").data.diffusion.steps == 40


def test_every_paper_config_passes_the_checks_run_makes_before_writing():
    """The paper-scale configs inherited the default methods, MANU among them, with LoRA on: `run`
    refused them at start, and ran NPO at the 1e-3 swept on the 1.8 MB CPU model (issue 44). Each
    now lists every default method a LoRA adapter can hold, each at the config's own lr with its
    hyperparameters written out (scripts/family_configs.py)."""
    from pathlib import Path

    from pebench.config import RunConfig
    from pebench.eval.judges import JUDGES
    from pebench.methods import METHODS
    from pebench.methods.overrides import method_settings
    from pebench.recipe.training import check_methods

    papers = [p for p in sorted((Path(__file__).parent.parent / "configs").glob("*.yaml")) if p.name != "flux-data.yaml"]
    assert len(papers) == 8
    for path in papers:
        cfg = load_config("default", path)
        JUDGES.get(cfg.eval.judge)
        check_methods(cfg)  # raises PebenchError on a method the configuration cannot run
        assert cfg.model.lora.enabled and set(cfg.methods) == set(RunConfig().methods) - {"MMUnlearner"}, path.name
        # the learning rates swept on the embedded model do not reach a 7B LoRA run: each method runs at the config's lr
        assert {m: method_settings(cfg.unlearn, m)[0]["lr"] for m in cfg.methods} == dict.fromkeys(cfg.methods, cfg.unlearn.lr)
        # and every hyperparameter is stated in the file, as the method's default (RMU's seed follows the split)
        for m in cfg.methods:
            stated = {k: v for k, v in cfg.unlearn.overrides[m].items() if k != "lr"}
            assert stated == {k: v for k, v in METHODS.get(m).defaults.items() if k != "seed"}, (path.name, m)


def test_a_partial_stage_section_keeps_the_run_defaults_of_the_rest():
    """Setting only finetune.lr keeps the run's 400 fine-tuning steps and profile share (pydantic
    alone would rebuild the section from TrainConfig's class defaults: 1000 steps, no profile)."""
    cfg = load_config(overrides={"finetune": {"lr": 5e-4}, "foundation": {"batch_size": 8}})
    assert (cfg.finetune.lr, cfg.finetune.steps, cfg.finetune.profile_fraction) == (5e-4, 400, 0.25)
    assert (cfg.foundation.batch_size, cfg.foundation.steps) == (8, 600)
    assert cfg.finetune == load_config().finetune.model_copy(update={"lr": 5e-4})
    assert (load_config().finetune.lr, load_config().foundation.lr) == (1e-3, 3e-3)


def test_replay_and_profile_shares_must_leave_room_for_the_pebench_questions():
    with pytest.raises(PebenchError, match="replay_fraction \\+ profile_fraction"):
        load_config(overrides={"finetune": {"replay_fraction": 0.5, "profile_fraction": 0.5}})


def test_the_method_defaults_are_the_sweeps_picks():
    """Each default method's swept setting (its lr; MANU's pruned fraction) is what
    scripts/pick_defaults.py picked from the stored sweeps, and no pick is degenerate."""
    import json
    from pathlib import Path

    from pebench.config import load_config
    from pebench.methods import METHODS

    picked = json.loads((Path(__file__).parents[1] / "scripts" / "sweep" / "picked.json").read_text())
    cfg = load_config()
    assert len([m for m in cfg.methods if not METHODS.get(m).balance_concepts]) >= 17
    for m in cfg.methods:
        knob = "fraction" if "fraction" in picked[m] else "lr"
        default = cfg.unlearn.lr if knob == "lr" else METHODS.get(m).defaults[knob]
        assert cfg.unlearn.overrides.get(m, {}).get(knob, default) == picked[m][knob], m
        assert not picked[m]["degenerate"], m
