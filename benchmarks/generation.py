"""Batched, left-padded, KV-cached generation vs a one-sample-at-a-time `generate` loop.

Same model, same questions; checks the answers are identical and prints both throughputs
and their ratio as JSON.

    python benchmarks/generation.py [--model RUN_DIR/models/finetuned] [--images 64]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="saved model directory (default: a freshly built tiny LLaVA)")
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=24)
    args = ap.parse_args()

    import torch

    from pebench.cli import _quiet_libraries
    from pebench.config import load_config
    from pebench.data.build import build_dataset, load_dataset_dir
    from pebench.data.qa import IDENTITY_Q, SCENE_Q, text_corpus
    from pebench.models import build_model, load_vlm

    _quiet_libraries()
    torch.set_num_threads(os.cpu_count() or 1)
    cfg = load_config("default")
    with tempfile.TemporaryDirectory() as tmp:
        data = load_dataset_dir(build_dataset(cfg.data.model_copy(update={"persons": 8, "events": 8}), f"{tmp}/ds"))
    vlm = load_vlm(args.model) if args.model else build_model(cfg.model, text_corpus(data), 0)
    recs = data.of_kind("pebench")[: args.images]
    items = [vlm.encode(r.image_id, r.image, q) for r in recs for q in (IDENTITY_Q, SCENE_Q)]

    start = time.perf_counter()
    batched = vlm.generate(items, args.max_new_tokens, args.batch_size)
    t_batched = time.perf_counter() - start
    start = time.perf_counter()
    single = [vlm.generate([it], args.max_new_tokens, 1)[0] for it in items]
    t_single = time.perf_counter() - start

    print(json.dumps({
        "questions": len(items), "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size,
        "batched_q_per_s": round(len(items) / t_batched, 1), "sequential_q_per_s": round(len(items) / t_single, 1),
        "speedup": round(t_single / t_batched, 2), "identical_answers": batched == single,
        "mismatches": sum(a != b for a, b in zip(batched, single)), "model": args.model or "tiny-llava (untrained)",
    }, indent=2))


if __name__ == "__main__":
    main()
