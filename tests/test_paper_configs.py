"""Every paper-scale config (`configs/*.yaml` but the Flux data config) runs end to end as
`pebench run --config` takes it, with the tiny model of its family saved in hub layout where the
checkpoint was (issue 44): the same LoRA, dtype, gradient checkpointing, methods, learning rates
and method overrides; a small world, one step per method, short answers, the `both` scenario
(where every listed method runs, the concept-balancing ones included), the keyword judge and no
POPE or real-identity files, which need downloads."""

import json
from pathlib import Path

import pytest
import yaml
from cli_here import pebench_in_process

from pebench.config import ModelConfig, load_config
from pebench.methods.overrides import method_settings
from pebench.models import MODEL_BUILDERS, load_vlm
from pebench.models.family import FAMILIES

CONFIGS = sorted(p for p in (Path(__file__).parent.parent / "configs").glob("*.yaml") if p.name != "flux-data.yaml")
# the tiny builder of each config's family (its model type, as `pebench list` names the families)
TINY = {"gemma-3-12b": "tiny-gemma3", "idefics3-8b": "tiny-idefics3", "internvl3-8b": "tiny-internvl",
        "llava-1.5-7b": "tiny-llava", "llava-onevision-7b": "tiny-llava-onevision", "qwen2-vl-7b": "tiny-qwen2-vl",
        "qwen3-vl-8b": "tiny-qwen3-vl", "smolvlm2-2.2b": "tiny-smolvlm"}

SMALL_WORLD = {"persons": 4, "events": 2, "renders_per_pair": 2, "public_figures": 2, "real_train_renders": 2,
               "real_eval_renders": 1, "world_train_images": 8, "world_eval_images": 4, "holdout_persons": 1,
               "holdout_events": 1}


def tiny_version(paper: dict, model_dir: Path) -> dict:
    """`paper` with the tiny model at `model_dir` and what a CPU test can afford (a smaller world,
    one step per method, short answers): its model, LoRA (merged copies saved besides), methods
    and unlearning settings but the step count as they are."""
    model = {**paper["model"], "path": str(model_dir), "lora": {**paper["model"]["lora"], "save_merged": True}}
    return {"seed": paper["seed"], "model": model, "methods": paper["methods"], "scenarios": ["both"],
            "data": SMALL_WORLD, "finetune": {**paper["finetune"], "steps": 4, "warmup": 1, "batch_size": 4},
            "unlearn": {**paper["unlearn"], "steps": 1, "batch_size": 2},
            "eval": {"batch_size": paper["eval"]["batch_size"], "max_retain_images": 4, "scene_tokens": 8},
            "probes": {"scenarios": []}}


def test_every_paper_config_has_a_tiny_builder_of_its_family():
    """The builder substituted for each config's checkpoint is a tiny model of the family that
    publishes that checkpoint (`Family.paper`, whose names are the config files')."""
    family_of_config = {paper.name: family for family in FAMILIES.values() for paper in family.paper}
    assert sorted(TINY) == [p.stem for p in CONFIGS] == sorted(family_of_config)
    for stem, builder in TINY.items():
        assert builder in family_of_config[stem].tiny, stem


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_the_paper_config_runs_end_to_end_on_its_familys_tiny_model(path, corpus, tmp_path):
    paper = yaml.safe_load(path.read_text())
    model_dir = tmp_path / "model"
    MODEL_BUILDERS.get(TINY[path.stem])(ModelConfig(name=TINY[path.stem]), corpus, 0).save(model_dir)
    settings = tmp_path / "tiny.yaml"
    settings.write_text(yaml.safe_dump(tiny_version(paper, model_dir)))
    out = tmp_path / "run"
    result = pebench_in_process("run", "--preset", "tiny", "--config", settings, "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    ran = load_config("default", path)
    assert results["config"]["model"]["lora"] == {**ran.model.lora.model_dump(mode="json"), "save_merged": True}
    assert results["config"]["model"]["dtype"] == ran.model.dtype == "bfloat16"
    assert set(results["scenarios"]["both"]["methods"]) == set(ran.methods)
    for method in ran.methods:  # each method at the paper config's lr and overrides, not the CPU model's sweep
        assert results["config"]["unlearn"]["overrides"].get(method, {}) == ran.unlearn.overrides.get(method, {})
        tiny, paper_scale = (method_settings(c.unlearn, method) for c in (load_config("tiny", settings), ran))
        assert (tiny[0]["lr"], tiny[1]) == (paper_scale[0]["lr"], paper_scale[1]), method
        if method != "MANU":
            assert (out / "models" / "both" / method / "adapter_config.json").is_file(), method
    # MANU takes no step: it prunes a full copy of the Finetuned model, stored whole, loadable without peft
    pruned = out / "models" / "both" / "MANU"
    assert (pruned / "model.safetensors").is_file() and not (pruned / "adapter_config.json").exists()
    assert json.loads((pruned / "pebench.json").read_text())["method"] == "MANU"
    assert type(load_vlm(pruned).model).__name__ == type(load_vlm(model_dir).model).__name__
    assert results["training"]["both/GA"]["loss"] < 0  # gradient ascent through the family's LoRA targets
    merged = load_vlm(out / "models" / "both" / "GA" / "merged")  # loads without peft
    assert type(merged.model).__name__ == type(load_vlm(model_dir).model).__name__
    assert results["config"]["model"]["path"] == str(model_dir)
    assert not (out / "models" / "foundation").exists()  # the pretrained model is not copied into the run
    finetuned = out / "models" / "finetuned"
    assert (finetuned / "adapter_model.safetensors").is_file() and not (finetuned / "model.safetensors").exists()
    if path.stem == "qwen2-vl-7b":  # once: a rerun finds every stage stored, the adapters included
        again = pebench_in_process("run", "--preset", "tiny", "--config", settings, "--out", out, "--quiet")
        assert again.returncode == 0, again.stderr[-3000:]
        rerun = json.loads((out / "results.json").read_text())
        assert rerun["scenarios"] == results["scenarios"]
        assert not [k for k in rerun["timings_s"] if k.startswith(("finetuned", "goal", "unlearn", "eval"))]
