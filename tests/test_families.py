"""Model families beyond the default: tiny LLaVA-NeXT, Qwen2-VL and Qwen2.5-VL built from
configs go through the same VLM interface, save in HF format and load back with the Auto
classes; LoRA adapters train only adapter weights."""

import json

import pytest
import torch
from cli_here import pebench_in_process

from pebench.config import LoraConfig, ModelConfig
from pebench.models import MODEL_BUILDERS, load_vlm
from pebench.models.lora import add_adapter, load_adapter, merged_copy, reference, remove_adapter, save_adapter
from pebench.train import Stream, train

FAMILIES = {"tiny-llava-next": "LlavaNextForConditionalGeneration", "tiny-qwen2-vl": "Qwen2VLForConditionalGeneration",
            "tiny-qwen2.5-vl": "Qwen2_5_VLForConditionalGeneration"}


def _examples(vlm, data, n=6):
    from pebench.data.qa import pebench_qas

    records = {r.image_id: r for r in data.images}
    qas = pebench_qas(data, sorted(r.image_id for r in data.of_kind("pebench"))[:n])
    return [{"answer": vlm.encode(q.image_id, records[q.image_id].image, q.question, q.answer)} for q in qas]


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_trains_saves_and_reloads(name, tiny_data, corpus, tmp_path):
    vlm = MODEL_BUILDERS.get(name)(ModelConfig(name=name), corpus, 0)
    assert type(vlm.model).__name__ == FAMILIES[name]
    examples = _examples(vlm, tiny_data)
    batch = vlm.collate([e["answer"] for e in examples])
    before = float(vlm.nll(batch).detach())
    stream = Stream([(examples, 4)], vlm.collate, "t")
    train(vlm.model, lambda b: (vlm.nll(b["train"]["answer"]), {}), {"train": stream}, steps=15, lr=3e-3)
    assert float(vlm.nll(batch).detach()) < before - 1.0

    vlm.save(tmp_path / "m")
    loaded = load_vlm(tmp_path / "m")
    assert type(loaded.model).__name__ == FAMILIES[name]
    images = [r.image for r in tiny_data.of_kind("pebench")[:3]]
    prompts = [vlm.encode(f"p{i}", image, "Who is this?") for i, image in enumerate(images)]
    again = [loaded.encode(f"p{i}", image, "Who is this?") for i, image in enumerate(images)]
    assert [p.input_ids for p in prompts] == [a.input_ids for a in again]
    assert vlm.generate(prompts, 6) == loaded.generate(again, 6)


def test_qwen_processor_is_saved_under_the_stock_class(corpus, tmp_path):
    vlm = MODEL_BUILDERS.get("tiny-qwen2-vl")(ModelConfig(name="tiny-qwen2-vl"), corpus, 0)
    vlm.save(tmp_path / "q")
    config = json.loads((tmp_path / "q" / "processor_config.json").read_text())
    assert config["processor_class"] == "Qwen2VLProcessor"  # a torchvision install loads it with AutoProcessor
    assert type(load_vlm(tmp_path / "q").processor).__name__ == "ImageOnlyQwen2VLProcessor"  # here: no torchvision


@pytest.mark.parametrize("name", ["tiny-llava", "tiny-qwen2-vl"])
def test_lora_with_checkpointing_trains_only_the_adapter(name, tiny_data, corpus, tmp_path):
    vlm = MODEL_BUILDERS.get(name)(ModelConfig(name=name), corpus, 0)
    base_state = {k: v.clone() for k, v in vlm.model.state_dict().items()}
    examples = _examples(vlm, tiny_data)
    batch = vlm.collate([e["answer"] for e in examples])
    base_nll = float(vlm.nll(batch).detach())

    lora = add_adapter(vlm, LoraConfig(enabled=True, r=8, dropout=0.0))
    trainable = {n for n, p in lora.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert not any("vision" in n or "visual" in n for n in trainable)  # the vision tower stays frozen
    lora.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    lora.model.enable_input_require_grads()
    stream = Stream([(examples, 4)], vlm.collate, "t")
    train(lora.model, lambda b: (lora.nll(b["train"]["answer"]), {}), {"train": stream}, steps=20, lr=3e-3)
    lora.model.gradient_checkpointing_disable()
    trained_nll = float(lora.nll(batch).detach())
    assert trained_nll < base_nll - 0.3  # checkpointing did not cut the gradient (a cut one moves nothing)
    assert float(reference(lora).nll(batch).detach()) == pytest.approx(base_nll, abs=1e-5)  # adapter disabled = base

    save_adapter(lora, tmp_path / "adapter", merged=True)
    merged = merged_copy(lora)
    restored = remove_adapter(lora)
    assert set(restored.model.state_dict()) == set(base_state)
    assert all(torch.equal(v, base_state[k]) for k, v in restored.model.state_dict().items())
    assert float(merged.nll(batch).detach()) == pytest.approx(trained_nll, abs=1e-4)
    assert float(load_adapter(restored, tmp_path / "adapter").nll(batch).detach()) == pytest.approx(trained_nll, abs=1e-4)
    plain = load_vlm(tmp_path / "adapter" / "merged")  # loads without peft
    assert float(plain.nll(batch).detach()) == pytest.approx(trained_nll, abs=1e-4)


def test_lora_target_that_matches_nothing_is_a_clear_error(corpus):
    from pebench.core.errors import PebenchError

    vlm = MODEL_BUILDERS.get("tiny-llava")(ModelConfig(), corpus, 0)
    with pytest.raises(PebenchError, match="target_modules matches no layer"):
        add_adapter(vlm, LoraConfig(enabled=True, target_modules=["no_such_layer"]))


def _save_tiny(name, corpus, path):
    MODEL_BUILDERS.get(name)(ModelConfig(name=name), corpus, 0).save(path)
    return path


def _pebench_run(out, *extra):
    """`pebench run --preset tiny` with short training: these runs test the plumbing, not learning."""
    short = out.parent / "short.yaml"
    short.write_text("finetune: {steps: 30}\nunlearn: {steps: 3}\n")
    return pebench_in_process("run", "--preset", "tiny", "--config", short, "--out", out, "--quiet", "--scenarios", "person",
                              *extra)


@pytest.mark.parametrize("name,lora", [("tiny-qwen2-vl", True), ("tiny-llava-next", False)])
def test_pebench_run_on_a_model_directory(name, lora, corpus, tmp_path):
    """Full fine-tuning, or LoRA with the tiny preset's probes (relearning, quantization,
    evaluation during unlearning through the adapter), from a model directory; each paper
    config's LoRA run, every listed method and a cached rerun are tests/test_paper_configs.py's."""
    model_dir = _save_tiny(name, corpus, tmp_path / "model")
    out = tmp_path / "run"
    result = _pebench_run(out, "--model", str(model_dir), "--methods", "GA", *(["--lora"] if lora else []))
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert set(results["scenarios"]["person"]["methods"]) == {"GA"}
    assert results["config"]["model"]["path"] == str(model_dir)
    assert not (out / "models" / "foundation").exists()  # the pretrained model is not copied into the run
    finetuned = out / "models" / "finetuned"
    if lora:
        assert (finetuned / "adapter_model.safetensors").is_file() and not (finetuned / "model.safetensors").exists()
        assert (out / "models" / "person" / "GA" / "adapter_config.json").is_file()
        assert results["training"]["person/GA"]["loss"] < 0  # gradient ascent through the adapter
        probed = results["scenarios"]["person"]["robustness"]["methods"]["GA"]  # attacked through the adapter
        assert {"relearn", "quant8", "quant4", "paraphrase"} <= set(probed)
        assert "GA" in results["scenarios"]["person"]["trajectory"]["methods"]  # evaluated while unlearning
    else:
        assert (finetuned / "model.safetensors").is_file()


def test_bf16_lora_training_runs_through_place_and_to_device(tiny_data, corpus):
    """model.dtype: bfloat16 casts the model (and, per batch, the pixel values); LoRA trains in it."""
    from pebench.models.builders import place

    cfg = ModelConfig(dtype="bfloat16")
    vlm = place(MODEL_BUILDERS.get("tiny-llava")(cfg, corpus, 0), cfg)
    assert next(vlm.model.parameters()).dtype == torch.bfloat16
    examples = _examples(vlm, tiny_data)
    batch = vlm.collate([e["answer"] for e in examples])
    assert vlm.to_device(batch)["pixel_values"].dtype == torch.bfloat16
    lora = add_adapter(vlm, LoraConfig(enabled=True, r=8, dropout=0.0))
    before = float(lora.nll(batch).detach())
    stream = Stream([(examples, 4)], vlm.collate, "t")
    train(lora.model, lambda b: (lora.nll(b["train"]["answer"]), {}), {"train": stream}, steps=20, lr=3e-3)
    assert float(lora.nll(batch).detach()) < before - 0.3
