"""Evaluation generation three ways: shared image prefixes, left-padded batches, one at a time.

All three answer the evaluation's own queries (identity, scene and POPE questions of one
scenario, with the evaluation's token limits) with the same model:

* `shared_prefix`: the evaluation's code path (`answer_queries`): batched, and each image's
  prompt prefix (template opening + image tokens) runs once for all questions of it;
* `batched`: the same batches, every prompt left-padded and run whole;
* `sequential`: `generate` once per question, as peer benchmarks do.

Prints the throughputs, the speed-ups over sequential and whether every answer is identical
to the sequential ones, as JSON.

    python benchmarks/generation.py [--model RUN_DIR/models/finetuned] [--data RUN_DIR/dataset]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="saved model directory (default: a freshly built tiny LLaVA)")
    ap.add_argument("--data", help="dataset directory (default: the default dataset, built in a temp dir)")
    ap.add_argument("--scenario", default="person", choices=["person", "event", "both"])
    ap.add_argument("--queries", type=int, default=0, help="answer a seeded sample of this many queries (0: all)")
    ap.add_argument("--batch-size", type=int, default=None, help="default: eval.batch_size")
    args = ap.parse_args()

    import torch

    from pebench.core.progress import quiet_libraries
    from pebench.config import load_config
    from pebench.data.build import build_dataset, load_dataset_dir
    from pebench.data.corpus import text_corpus
    from pebench.eval.evaluate import answer_queries, build_queries, token_limit
    from pebench.models import build_model, load_vlm
    from pebench.splits import make_split

    quiet_libraries()
    torch.set_num_threads(os.cpu_count() or 1)
    cfg = load_config("default")
    if args.batch_size:
        cfg = cfg.model_copy(update={"eval": cfg.eval.model_copy(update={"batch_size": args.batch_size})})
    with tempfile.TemporaryDirectory() as tmp:
        data = load_dataset_dir(args.data or build_dataset(cfg.data, f"{tmp}/ds"))
    vlm = load_vlm(args.model) if args.model else build_model(cfg.model, text_corpus(data), 0)
    split = make_split(data, args.scenario, cfg.split, cfg.seed)
    queries = build_queries(data, split, cfg.eval, cfg.seed)
    all_kinds = {k: sum(q.qa.kind == k for q in queries) for k in ("identity", "scene", "pope")}
    if args.queries:
        queries = random.Random(0).sample(queries, min(args.queries, len(queries)))  # the evaluation's mix of kinds

    for q in queries:  # inputs are computed once per dataset in a run; both sides start from them
        vlm.encode(q.record.image_id, q.record.image, q.qa.question)

    def timed(share: bool) -> tuple[list[str], float]:
        vlm.share_image_prefix = share
        answer_queries(vlm, queries[:8], cfg.eval)  # warm-up
        start = time.perf_counter()
        answers = answer_queries(vlm, queries, cfg.eval)
        return answers, time.perf_counter() - start

    shared, t_shared = timed(True)
    batched, t_batched = timed(False)
    start = time.perf_counter()
    single = []
    for q in queries:
        item = vlm.encode(q.record.image_id, q.record.image, q.qa.question)
        single.append(vlm.generate([item], token_limit(q.qa.kind, cfg.eval), 1)[0])
    t_single = time.perf_counter() - start

    kinds = {k: sum(q.qa.kind == k for q in queries) for k in ("identity", "scene", "pope")}
    unique = len({(q.record.image_id, q.qa.question) for q in queries})
    print(json.dumps({
        "queries": len(queries), "unique_image_questions": unique, "kinds": kinds, "evaluation_kinds": all_kinds,
        "batch_size": cfg.eval.batch_size, "threads": torch.get_num_threads(),
        "q_per_s": {"shared_prefix": round(len(queries) / t_shared, 1), "batched": round(len(queries) / t_batched, 1),
                    "sequential": round(len(queries) / t_single, 1)},
        "speedup_over_sequential": {"shared_prefix": round(t_single / t_shared, 2), "batched": round(t_single / t_batched, 2)},
        "shared_prefix_over_batched": round(t_batched / t_shared, 2),
        "mismatches_vs_sequential": {"shared_prefix": sum(a != b for a, b in zip(shared, single)),
                                     "batched": sum(a != b for a, b in zip(batched, single))},
        "model": args.model or "tiny-llava (untrained)",
    }, indent=2))


if __name__ == "__main__":
    main()
