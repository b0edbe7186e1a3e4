"""A check a GPU user can run: a 7B-shaped, randomly initialised LLaVA (CLIP ViT-L/14 at 336 px
+ a 32-layer, 4096-wide Llama) in bf16 with LoRA and gradient checkpointing, through pebench's
lifecycle, training loop and NPO, then a batched generation. Prints JSON: the peak GPU memory
of the unlearning steps beside `pebench plan`'s figure for the same setup, seconds per step and
generated tokens per second. Not run in CI; without a CUDA GPU it refuses in one line.

    python benchmarks/gpu_check.py [--steps 4] [--batch 8] [--layers 32]
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
        "finetune": {"batch_size": 1}, "unlearn": {"batch_size": batch}})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--layers", type=int, default=32)
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
    print(json.dumps({
        "gpu": torch.cuda.get_device_name(), "parameters": shape.parameters, "lora_parameters": shape.lora_parameters,
        "setup": "1 process, LoRA r=16, bf16, gradient checkpointing, NPO",
        "peak_gib": round(peak / gib, 2), "planned_gib": round(planned["total"] / gib, 2),
        "planned_over_peak": round(planned["total"] / peak, 3), "seconds_per_step": round(step_s, 3),
        "generated_tokens_per_s": round(generated / (time.perf_counter() - began), 1)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
