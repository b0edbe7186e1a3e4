"""The newer model families through the whole protocol: every method family takes a step on
each tiny model (ascent, preference, reference-model, representation, SIU's extra views,
saliency-masked and pruning), and a hub-layout directory of each runs `pebench run --model DIR
--preset tiny` with GA and NPO under LoRA (peft's targets for the family), with merged copies
saved, producing results: here for the families no paper config names, the others in
tests/test_paper_configs.py, which runs each config's methods under its LoRA settings."""

import copy
import json

import pytest
import torch
from cli_here import pebench_in_process

from pebench.config import ModelConfig
from pebench.data.qa import pebench_qas
from pebench.methods import make_method
from pebench.models import MODEL_BUILDERS, VLM, load_vlm
from pebench.recipe.support import Encoder
from pebench.train import Stream, train

NEW = ["tiny-gemma3", "tiny-gemma4", "tiny-idefics3", "tiny-internvl", "tiny-llava-onevision", "tiny-qwen3-vl",
       "tiny-qwen3.5", "tiny-smolvlm"]
METHOD_FAMILIES = ["GA", "DPO", "NPO", "KL", "RMU", "SIU", "MMUnlearner", "MANU"]


@pytest.mark.parametrize("name", NEW)
def test_every_method_family_takes_a_step_on_the_family(name, tiny_data, corpus):
    base = MODEL_BUILDERS.get(name)(ModelConfig(name=name), corpus, 0)
    encoder = Encoder(base, tiny_data)
    ids = sorted(r.image_id for r in tiny_data.of_kind("pebench"))
    forget_ids, retain_ids = [i for i in ids if i.startswith("p0000-")][:4], ids[-4:]
    for method_name in METHOD_FAMILIES:
        method = make_method(method_name, {})
        forget = encoder.examples(pebench_qas(tiny_data, forget_ids), refusal=True, extra=method.extra_views)
        retain = encoder.examples(pebench_qas(tiny_data, retain_ids))
        vlm = VLM(copy.deepcopy(base.model), base.processor)
        before = {n: p.detach().clone() for n, p in vlm.model.named_parameters()}
        key = "forget_person" if method.balance_concepts else "forget"
        streams = {key: Stream([(forget, 4)], vlm.collate, "f"), "retain": Stream([(retain, 4)], vlm.collate, "r")}
        method.prepare(vlm, lambda: {n: next(s) for n, s in streams.items()}, base)
        losses = []
        if method.trains:
            hook = (lambda b: method.on_gradients(vlm, b, base)) if method.edits_gradients() else None
            train(vlm.model, lambda b: method.loss(vlm, b, base), streams, steps=1, lr=1e-3,
                  on_step=lambda s, logs: losses.append(logs["loss"]), after_backward=hook)
            assert all(map(torch.isfinite, torch.tensor(losses))), method_name
        moved = [n for n, p in vlm.model.named_parameters() if not torch.equal(p, before[n])]
        assert moved, f"{method_name} changed no weight of {name}"


# the families of a paper config run every listed method from a hub-layout directory in tests/test_paper_configs.py
WITHOUT_PAPER_CONFIG = ["tiny-gemma4", "tiny-qwen3.5"]


@pytest.mark.parametrize("name", WITHOUT_PAPER_CONFIG)
def test_pebench_run_on_a_hub_layout_directory_of_the_family(name, corpus, tmp_path):
    model_dir = tmp_path / "model"
    MODEL_BUILDERS.get(name)(ModelConfig(name=name), corpus, 0).save(model_dir)
    settings = tmp_path / "short.yaml"
    settings.write_text("finetune: {steps: 12}\nunlearn: {steps: 2}\nmodel: {lora: {save_merged: true}}\n"
                        "probes: {quant_bits: [], relearn_steps: 0, every: 0, paraphrase: false, text_only: false}\n")
    out = tmp_path / "run"
    result = pebench_in_process("run", "--preset", "tiny", "--config", settings, "--out", out, "--quiet",
                                "--scenarios", "person", "--model", model_dir, "--methods", "GA,NPO", "--lora")
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    rows = results["scenarios"]["person"]
    assert set(rows["methods"]) == {"GA", "NPO"}
    assert results["training"]["person/GA"]["loss"] < 0  # gradient ascent through the family's LoRA targets
    for method in ("GA", "NPO"):
        assert (out / "models" / "person" / method / "adapter_config.json").is_file()
    merged = load_vlm(out / "models" / "person" / "GA" / "merged")  # loads without peft
    assert type(merged.model).__name__ == type(load_vlm(model_dir).model).__name__
