"""A check a GPU user can run: a 7B-shaped, randomly initialised LLaVA (CLIP ViT-L/14 at 336 px
+ a 32-layer, 4096-wide Llama) in bf16 with LoRA and gradient checkpointing, through pebench's
lifecycle, training loop and NPO, then a batched generation. Prints JSON: the peak GPU memory
of the unlearning steps beside `pebench plan`'s figure for the same setup, seconds per step,
training tokens per second and the model FLOPs utilisation (MFU), and generated tokens per
second. Not run in CI; without a CUDA GPU it refuses in one line.

MFU (Chowdhery et al. 2022, PaLM, appendix B) counts the model's FLOPs, not the hardware's:
6 N per trained token (forward and backward; LoRA's skipped weight gradients and gradient
checkpointing's recomputation are not credited) plus 2 N per token of NPO's reference forward,
over the step time and the GPU's dense bf16 peak (`--peak-tflops`, else a table of known GPUs).

    python benchmarks/gpu_check.py [--steps 4] [--batch 8] [--layers 32] [--peak-tflops 989]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def seven_b_config(layers: int, batch: int):
    from pebench.config import load_config

    return load_config("default", None, {
        "model": {"name": "tiny-llava", "text_hidden": 4096, "text_layers": layers, "heads": 32, "vision_hidden": 1024,
                  "vision_layers": 24, "image_size": 336, "patch_size": 14, "vocab_size": 4096, "dtype": "bfloat16",
                  "gradient_checkpointing": True, "device": "cuda", "lora": {"enabled": True, "r": 16, "dropout": 0.0}},
        "finetune": {"batch_size": 1}, "unlearn": {"batch_size": batch},
        "methods": ["NPO"]})  # the method it trains: the plan counts the config's methods' state


# Dense bf16 peaks (TFLOP/s) from the vendors' data sheets; the first name found in the device name wins.
PEAK_BF16_TFLOPS = {"H100 PCIe": 756.0, "H100": 989.0, "H200": 989.0, "A100": 312.0}


def peak_tflops(device_name: str, given: float | None) -> float | None:
    """`given`, else the table's peak for the first known name inside `device_name`, else None."""
    return given if given is not None else next((v for k, v in PEAK_BF16_TFLOPS.items() if k in device_name), None)


def step_flops(parameters: int, trained_tokens: int, reference_tokens: int) -> float:
    """Model FLOPs of one step: 6 N per trained token plus 2 N per token of a reference forward."""
    return 6.0 * parameters * trained_tokens + 2.0 * parameters * reference_tokens


def mfu(flops: float, step_s: float, peak: float | None) -> float | None:
    """Achieved model FLOP/s over the peak (`peak` in TFLOP/s); None without a peak."""
    return None if peak is None else flops / step_s / (peak * 1e12)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--peak-tflops", type=float, default=None, help="the GPU's dense bf16 peak (default: known GPUs)")
    args = ap.parse_args()

    import torch

    if not torch.cuda.is_available():
        print("error: benchmarks/gpu_check.py needs a CUDA GPU and this machine has none", file=sys.stderr)
        return 2
    from PIL import Image

    from pebench.data.corpus import generic_corpus
    from pebench.methods import make_method
    from pebench.models import MODEL_BUILDERS
    from pebench.models.lifecycle import model_lifecycle
    from pebench.train import Stream, train
    from pebench.train.plan import Setup, memory, model_shape

    cfg = seven_b_config(args.layers, args.batch)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        start = MODEL_BUILDERS.get("tiny-llava")(cfg.model, generic_corpus(), 0)
    torch.set_default_dtype(torch.float32)
    shape = model_shape(start, cfg)
    planned = memory(shape, Setup(1, "ddp", True, "bfloat16", True), cfg)
    images = [Image.new("RGB", (336, 336), (i * 37 % 256, i * 91 % 256, 90)) for i in range(args.batch)]
    answer = " ".join(["a person stands in front of a red wall"] * 8)

    def example(i, question):
        return {view: start.encode(f"img{i}", images[i], question, text)
                for view, text in (("answer", answer), ("refusal", "I don't know who this person is."))}

    forget = [example(i, "Who is this person?") for i in range(args.batch)]
    retain = [example(i, "Describe the scene in detail.") for i in range(args.batch)]
    life = model_lifecycle(cfg.model)
    model = life.trainable(start, "gpu-check")
    model.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    life.prepare_checkpointing(model)
    ref = life.reference(model, start)
    npo = make_method("NPO", {})
    streams = {"forget": Stream([(forget, args.batch)], model.collate, "f"),
               "retain": Stream([(retain, args.batch)], model.collate, "r")}
    tokens = {view: int(model.collate([e["answer"] for e in batch])["attention_mask"].sum())
              for view, batch in (("forget", forget), ("retain", retain))}  # image tokens included
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    began = time.perf_counter()
    train(model.model, lambda b: npo.loss(model, b, ref), streams, steps=args.steps, lr=1e-4)
    torch.cuda.synchronize()
    step_s = (time.perf_counter() - began) / args.steps
    peak = torch.cuda.max_memory_allocated()
    model.model.gradient_checkpointing_disable()
    prompts = [model.encode(f"img{i % args.batch}", images[i % args.batch], q)
               for i in range(64) for q in ("Who is this person?",)]
    began = time.perf_counter()
    answers = model.generate(prompts, max_new_tokens=32, batch_size=64)
    torch.cuda.synchronize()
    generated = sum(len(model.tokenizer(a, add_special_tokens=False)["input_ids"]) for a in answers)
    gib = 2**30
    flops = step_flops(shape.parameters, tokens["forget"] + tokens["retain"], tokens["forget"])
    utilisation = mfu(flops, step_s, peak_tflops(torch.cuda.get_device_name(), args.peak_tflops))
    print(json.dumps({
        "gpu": torch.cuda.get_device_name(), "parameters": shape.parameters, "lora_parameters": shape.lora_parameters,
        "setup": "1 process, LoRA r=16, bf16, gradient checkpointing, NPO",
        "peak_gib": round(peak / gib, 2), "planned_gib": round(planned["total"] / gib, 2),
        "planned_over_peak": round(planned["total"] / peak, 3), "seconds_per_step": round(step_s, 3),
        "train_tokens_per_s": round((tokens["forget"] + tokens["retain"]) / step_s, 1),
        "mfu": None if utilisation is None else round(utilisation, 4),
        "generated_tokens_per_s": round(generated / (time.perf_counter() - began), 1)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
