"""`pebench plan` against measurement: peak memory of one training step and of one evaluation
checkpoint (the trained weights gathered into a whole model, as when FSDP training ends or the
trajectory probe evaluates mid-unlearning) of a randomly initialised LLaVA-shaped model of a few
hundred MB, on the CPU, through pebench's own lifecycle and training loop, beside the
planner's total for the same setup. Prints JSON, one row per setup (target: planned within 20%
of measured).

Memory is the process's resident set: its peak (`VmHWM`, reset through `/proc/self/clear_refs`
before each phase, after returning freed memory to the system) minus the resident set before
the start model is built. Large tensors are allocated with mmap (`MALLOC_MMAP_THRESHOLD_`), so
freeing one returns it.

    python benchmarks/memory_plan.py [--hidden 1024] [--layers 6] [--batch 4]

Setups: one process, full fine-tuning; one process, LoRA; two processes (gloo), FSDP full
fine-tuning (a checkpoint there holds a whole gathered copy beside the shards).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ENV = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "OMP_NUM_THREADS": "1"}
SETUPS = {"single-full": (1, False), "single-lora": (1, True), "fsdp-full": (2, False)}


def resident(field: str) -> int:
    """A `/proc/self/status` field (VmRSS, VmHWM) in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> None:
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")


def run_config(hidden: int, layers: int, batch: int, lora: bool):
    from pebench.config import load_config

    return load_config("tiny", None, {
        "model": {"name": "tiny-llava", "text_hidden": hidden, "text_layers": layers, "heads": 16, "vision_hidden": 256,
                  "vision_layers": 2, "image_size": 64, "patch_size": 8, "lora": {"enabled": lora, "dropout": 0.0}},
        "finetune": {"batch_size": batch}, "unlearn": {"batch_size": 1}})


def child(name: str, hidden: int, layers: int, batch: int, out: Path) -> None:
    """One setup in this process (or in each process of a launch): measure, write JSON (rank 0)."""
    import torch
    from PIL import Image

    from pebench.core import distributed
    from pebench.models import build_model
    from pebench.models.encoded import Encoded
    from pebench.models.lifecycle import model_lifecycle
    from pebench.train import Stream, train
    from pebench.train.plan import Setup, memory, model_shape

    processes, lora = SETUPS[name]
    if processes > 1:
        os.environ["PEBENCH_STRATEGY"] = "fsdp"
    distributed.init()
    torch.set_num_threads(1)
    cfg = run_config(hidden, layers, batch, lora)
    before = resident("VmRSS")
    start = build_model(cfg.model, ["This is A B.", "A red wall with a chair."], 0)
    shape = model_shape(start, cfg)
    prompt = start.encode("bench", Image.new("RGB", (64, 64)), "Describe the scene in detail.")
    answer = [5 + i % 200 for i in range(cfg.eval.scene_tokens)]  # as long as the longest evaluated answer
    example = {"answer": Encoded(prompt.input_ids + answer, [-100] * len(prompt.input_ids) + answer, prompt.vision)}
    life = model_lifecycle(cfg.model)
    peaks = {}

    def checkpoint(step, logs):
        if step == 0:
            peaks["train"] = resident("VmHWM") - before
            reset_peak()
            with life.snapshot(model) as whole:
                whole.nll(whole.collate([example["answer"]]))
            peaks["checkpoint"] = resident("VmHWM") - before

    reset_peak()
    model = life.trainable(start, "bench")
    train(model.model, lambda b: (model.nll(b["train"]["answer"]), {}),
          {"train": Stream([([example] * batch, batch)], model.collate, "bench")}, steps=1, lr=1e-4, on_step=checkpoint)
    planned = memory(shape, Setup(processes, "fsdp" if processes > 1 else "ddp", lora, "float32", False), cfg)
    if distributed.rank() == 0:
        measured = max(peaks.values())
        out.write_text(json.dumps({
            "setup": name, "processes": processes, "parameters": shape.parameters,
            "measured_gib": {k: round(v / 2**30, 3) for k, v in peaks.items()},
            "planned_gib": {k: round(v / 2**30, 3) for k, v in planned.items()},
            "planned_over_measured": round(planned["total"] / measured, 3)}))


def launch(name: str, args, out: Path) -> dict:
    processes = SETUPS[name][0]
    script = [str(Path(__file__).resolve()), "--child", name, "--hidden", str(args.hidden), "--layers", str(args.layers),
              "--batch", str(args.batch), "--out", str(out)]
    if processes > 1:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}",
                   f"--master_port={port}", *script]
    else:
        command = [sys.executable, *script]
    subprocess.run(command, check=True, env=ENV, capture_output=True, timeout=1800)
    return json.loads(out.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--child", choices=sorted(SETUPS))
    ap.add_argument("--out", type=Path)
    ap.add_argument("--json", type=Path, help="also write the result here")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.hidden, args.layers, args.batch, args.out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        rows = [launch(name, args, Path(tmp) / f"{name}.json") for name in SETUPS]
    result = {"benchmark": "memory_plan", "hidden": args.hidden, "layers": args.layers, "batch": args.batch,
              "rows": rows, "within_20_percent": all(0.8 <= r["planned_over_measured"] <= 1.2 for r in rows)}
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
