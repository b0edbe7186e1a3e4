"""`pebench plan`: memory terms against hand-computed figures for the tiny LLaVA, LoRA counts
against peft's, and the smallest-fit search."""

import importlib.util
import os
import subprocess
import sys

import pytest

from pebench.config import LoraConfig, load_config
from pebench.models import build_model
from pebench.models.lora import add_adapter
from pebench.train.plan import Setup, memory, model_shape, setups, smallest_fit

STORE = {"PEBENCH_CACHE": os.environ["PEBENCH_CACHE"]}  # the session's stage store (conftest)


@pytest.fixture(scope="module")
def tiny():
    cfg = load_config("tiny")  # tiny-llava at 32 px: 16 patches of 8 px
    vlm = build_model(cfg.model, ["This is A B."], 0)
    return cfg, vlm, model_shape(vlm, cfg)


def test_shape_of_the_tiny_llava(tiny):
    from PIL import Image

    cfg, vlm, shape = tiny
    assert shape.parameters == sum(p.numel() for p in vlm.model.parameters())
    prompt_tokens = len(vlm.encode("x", Image.new("RGB", (32, 32)), "Describe the scene in detail.").input_ids)
    assert shape.layers == ((prompt_tokens + 32, 128, 4, 2), (16, 64, 4, 2))  # +32: the tiny preset's scene_tokens


def test_terms_equal_hand_computed_bytes(tiny):
    cfg, _, shape = tiny
    p, s = shape.parameters, shape.layers[0][0]
    full = memory(shape, Setup(1, "ddp", False, "float32", False), cfg)
    assert full["start"] == full["trained"] == full["gradients"] == 4 * p  # the Finetuned model and its copy
    assert full["optimizer"] == 8 * p
    b = 24  # max(finetune batch 16, 3 x unlearn batch 8)
    text_act = 2 * s * b * 128 * (34 + 5 * 4 * s / 128) * 4 / 2
    vision_act = 2 * 16 * b * 64 * (34 + 5 * 4 * 16 / 64) * 4 / 2
    assert full["activations"] == pytest.approx(text_act + vision_act)
    assert full["method"] == 6 * 4 * p  # GRU's gradients, the largest state of the default's methods
    assert full["total"] == pytest.approx(44 * p + text_act + vision_act)

    sharded = memory(shape, Setup(2, "fsdp", False, "bfloat16", True), cfg)  # bf16, 12 examples each, recomputation
    assert sharded["start"] == 2 * p  # whole on every process (evaluation, reference)
    assert sharded["trained"] == sharded["gradients"] == 2 * p / 2 and sharded["optimizer"] == 4 * p / 2
    text_ckpt = 2 * s * 12 * 128 * 2 + s * 12 * 128 * (34 + 5 * 4 * s / 128)
    vision_ckpt = 2 * 16 * 12 * 64 * 2 + 16 * 12 * 64 * (34 + 5 * 4 * 16 / 64)
    assert sharded["activations"] == pytest.approx(text_ckpt + vision_ckpt)
    assert sharded["gathered"] == 2 * p and full["gathered"] == 0  # FSDP checkpoints gather a whole copy
    assert sharded["method"] == 0  # GRU and MMUnlearner are refused under FSDP
    held = sharded["start"] + sharded["trained"] + sharded["gradients"] + sharded["optimizer"]
    assert sharded["total"] == pytest.approx(held + max(sharded["activations"], 2 * p))  # never both at once


def test_lora_counts_what_peft_trains(tiny):
    cfg, vlm, shape = tiny
    lora = memory(shape, Setup(1, "ddp", True, "float32", False), cfg)
    adapted = add_adapter(vlm, LoraConfig(enabled=True))
    assert shape.lora_parameters == sum(p.numel() for p in adapted.model.parameters() if p.requires_grad) > 0
    assert lora["gradients"] == 4 * shape.lora_parameters and lora["trained"] == 0  # the adapter sits on the start
    sharded = memory(shape, Setup(2, "fsdp", True, "float32", False), cfg)
    assert sharded["trained"] == 4 * shape.parameters / 2  # a sharded copy of the start, with the adapter
    assert sharded["gathered"] == 0  # the adapter goes on the start itself
    assert lora["method"] == 6 * 4 * shape.lora_parameters  # GRU's gradients are the adapter's


def test_method_state_is_the_largest_a_runnable_method_holds(tiny):
    """`Method.state_copies` copies of the trainable parameters: GRU 6, MMUnlearner 4, the rest
    none; a method the setup refuses (MMUnlearner under LoRA, both under FSDP) counts nothing."""
    cfg, _, shape = tiny
    p = shape.parameters
    one = Setup(1, "ddp", False, "float32", False)
    for methods, copies in ((("GA", "NPO", "KL", "DPO", "RMU"), 0), (("GA", "MMUnlearner"), 4), (("MMUnlearner", "GRU"), 6)):
        assert memory(shape, one, cfg.model_copy(update={"methods": methods}))["method"] == copies * 4 * p, methods
    only_masks = cfg.model_copy(update={"methods": ("MMUnlearner",)})
    assert memory(shape, Setup(1, "ddp", True, "float32", False), only_masks)["method"] == 0
    assert memory(shape, Setup(2, "ddp", False, "float32", False), only_masks)["method"] == 4 * 4 * p  # not sharded


def test_the_smallest_fit_is_the_first_setup_that_fits(tiny):
    cfg, _, shape = tiny
    order = setups()
    assert order[0] == Setup(1, "ddp", False, "bfloat16", False)
    budget = memory(shape, order[0], cfg)["total"] - 1  # the first setup no longer fits
    setup, terms = smallest_fit(shape, cfg, budget)
    assert terms["total"] <= budget and setup != order[0]
    assert all(memory(shape, s, cfg)["total"] > budget for s in order[: order.index(setup)])
    assert smallest_fit(shape, cfg, 1.0) is None


@pytest.mark.slow
def test_plan_command_prints_the_table_and_the_fit():
    result = subprocess.run([sys.executable, "-m", "pebench", "plan", "--preset", "tiny", "--gpu-gib", "80"],
                            capture_output=True, text=True, timeout=120, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", **STORE})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| 2 × FSDP |" in result.stdout and "Smallest setup within 80 GiB" in result.stdout


@pytest.mark.slow
def test_the_gpu_check_refuses_in_one_line_without_a_gpu():
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                            env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "CUDA_VISIBLE_DEVICES": ""})
    assert result.returncode == 2 and result.stderr.strip().startswith("error:") and len(result.stderr.splitlines()) == 1


def test_the_gpu_checks_mfu_counts_6n_per_trained_token_and_2n_per_reference_token():
    """PaLM's model FLOPs utilisation, on numbers worked by hand: a 7B model, 16 sequences of 700
    tokens trained (8 of them also through NPO's reference) in 1 s on an H100 SXM (989 TFLOP/s)."""
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("gpu_check", Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    assert check.step_flops(10, 3, 2) == 6 * 10 * 3 + 2 * 10 * 2
    flops = check.step_flops(7_000_000_000, 16 * 700, 8 * 700)
    assert flops == pytest.approx(4.704e14 + 7.84e13)
    assert check.mfu(flops, 1.0, check.peak_tflops("NVIDIA H100 80GB HBM3", None)) == pytest.approx(5.488e14 / 9.89e14)
    assert check.peak_tflops("NVIDIA H100 PCIe", None) == 756.0 and check.peak_tflops("NVIDIA H200", None) == 989.0
    assert check.peak_tflops("Tesla T4", None) is None and check.mfu(flops, 1.0, None) is None
    assert check.peak_tflops("Tesla T4", 65.0) == 65.0


def test_every_paper_config_carries_the_planners_figures_for_its_checkpoint():
    """configs/<checkpoint>.yaml of every family's published checkpoint: the comment block is what
    the planner gives for the checkpoint's dimensions (scripts/family_configs.py --check)."""
    from pathlib import Path

    from pebench.models.family import FAMILIES

    root = Path(__file__).resolve().parents[1]
    papers = [p for f in FAMILIES.values() for p in f.paper]
    assert len(papers) >= 8 and all((root / "configs" / f"{p.name}.yaml").is_file() for p in papers)
    spec = importlib.util.spec_from_file_location("family_configs", root / "scripts" / "family_configs.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    stale = [path.name for path, text in script.expected().items() if path.read_text(encoding="utf-8") != text]
    assert not stale, f"{stale} differ from the planner: run scripts/family_configs.py"


def test_a_published_checkpoints_shape_counts_its_parameters_on_the_meta_device(tiny):
    from pebench.models.family import FAMILIES
    from pebench.train.plan import paper_shape

    cfg = tiny[0]
    qwen3 = FAMILIES.get("qwen3-vl")
    shape = paper_shape(qwen3, qwen3.paper[0], cfg)
    assert 8.7e9 < shape.parameters < 8.8e9  # Qwen3-VL-8B: 8.77 B parameters as published
    assert shape.layers[0] == (196 + 32 + cfg.eval.scene_tokens, 4096, 32, 36) and shape.layers[1] == (196, 1152, 16, 27)


def test_the_plan_of_a_qwen3_vl_directory_reads_it_without_torchvision(tmp_path):
    """A checkpoint whose stock processor has a video part: planned from its files (config on the
    meta device, the image-only processor), no ImportError."""
    from pebench.config import ModelConfig
    from pebench.models import MODEL_BUILDERS
    from pebench.train.plan import load_shape

    vlm = MODEL_BUILDERS.get("tiny-qwen3-vl")(ModelConfig(name="tiny-qwen3-vl"), ["This is A B."], 0)
    vlm.save(tmp_path / "q")
    shape = load_shape(load_config("tiny", None, {"model": {"path": str(tmp_path / "q")}}))
    assert shape.parameters == sum(p.numel() for p in vlm.model.parameters())
    assert shape.layers[1][0] == (64 // 8 // 2) ** 2  # image tokens after 2x2 merging
