"""pebench's training loop against a bare PyTorch loop: same model, same pre-collated batches,
same number of steps, same optimizer and schedule, alternated in rounds (the machine is
noisy: medians of the per-round times are compared). Prints JSON with both step times and
their ratio (target ≤ 1.1).

A third loop is the bare loop with Hugging Face's own `.loss`, which projects every position
(image and prompt included) onto the vocabulary; its ratio to the bare loop is what computing
logits only at answer positions saves.

    python benchmarks/training_loop.py [--steps 30] [--rounds 3] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()

    import torch

    from pebench.core.progress import quiet_libraries
    from pebench.config import load_config
    from pebench.data.build import build_dataset, load_dataset_dir
    from pebench.data.corpus import text_corpus
    from pebench.data.qa import pebench_qas
    from pebench.methods.finetune import Finetune
    from pebench.models import build_model
    from pebench.train import train
    from pebench.train.loop import _lr_factor

    quiet_libraries()
    torch.set_num_threads(os.cpu_count() or 1)
    cfg = load_config("default")
    with tempfile.TemporaryDirectory() as tmp:
        data = load_dataset_dir(build_dataset(cfg.data.model_copy(update={"persons": 12, "events": 8}), f"{tmp}/ds"))
    vlm = build_model(cfg.model, text_corpus(data), 0)
    recs = {r.image_id: r for r in data.images}
    qas = pebench_qas(data, sorted(r.image_id for r in data.of_kind("pebench")))
    encoded = [vlm.encode(q.image_id, recs[q.image_id].image, q.question, q.answer) for q in qas]
    batches = [vlm.collate(encoded[(i * args.batch_size) % len(encoded):][: args.batch_size]) for i in range(args.steps)]
    lr, warmup = 3e-3, 5
    method = Finetune()

    def pebench_loop(model) -> float:
        stream = iter([{"answer": b} for b in batches])
        run_vlm = vlm.with_model(model)
        start = time.perf_counter()
        train(model, lambda b: method.loss(run_vlm, b, None), {"train": stream}, steps=args.steps, lr=lr, warmup=warmup)
        return time.perf_counter() - start

    def answer_loss(model, batch):
        labels = batch["labels"]
        mask = labels[:, 1:] != -100
        keep = torch.nn.functional.pad(mask, (0, 1))
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        logits = model(**inputs, logits_to_keep=keep).logits
        return torch.nn.functional.cross_entropy(logits, labels[:, 1:][mask])

    def bare_loop(model, full_logits: bool = False) -> float:
        start = time.perf_counter()
        torch.manual_seed(0)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=lr)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, warmup, args.steps))
        model.train()
        for batch in batches:
            loss = model(**batch).loss if full_logits else answer_loss(model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
        return time.perf_counter() - start

    times = {"pebench": [], "bare": [], "bare_full_logits": []}
    for _ in range(args.rounds):
        times["pebench"].append(pebench_loop(copy.deepcopy(vlm.model)))
        times["bare"].append(bare_loop(copy.deepcopy(vlm.model)))
        times["bare_full_logits"].append(bare_loop(copy.deepcopy(vlm.model), full_logits=True))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(json.dumps({
        "steps": args.steps, "batch_size": args.batch_size, "rounds": args.rounds,
        "tokens_per_batch": int(batches[0]["input_ids"].numel()), "threads": torch.get_num_threads(),
        "pebench_s_per_step": round(med["pebench"] / args.steps, 4), "bare_s_per_step": round(med["bare"] / args.steps, 4),
        "bare_full_logits_s_per_step": round(med["bare_full_logits"] / args.steps, 4),
        "overhead_ratio": round(med["pebench"] / med["bare"], 3),
        "answer_logits_speedup": round(med["bare_full_logits"] / med["bare"], 3),
        "rounds_s": {k: [round(x, 2) for x in v] for k, v in times.items()},
    }, indent=2))


if __name__ == "__main__":
    main()
