"""How the per-dataset work grows with the number of persons: rendering, encoding every
training example once, and evaluating one row (person scenario, untrained tiny model, so every
answer runs to the token limit). Training cost per step does not depend on the dataset size
(a fixed step budget of fixed-size batches), and each method adds one fixed-size unlearning run
plus one evaluation, so the whole run is linear in methods. Prints JSON.

    python benchmarks/scaling.py [--persons 20,50,100,200]
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
    ap.add_argument("--persons", default="20,50,100,200")
    args = ap.parse_args()

    import torch

    from pebench.core.progress import quiet_libraries
    from pebench.config import load_config
    from pebench.data.build import build_dataset, load_dataset_dir
    from pebench.data.corpus import text_corpus
    from pebench.data.qa import pebench_qas
    from pebench.eval.evaluate import build_queries, evaluate
    from pebench.eval.judges import make_judge
    from pebench.models import build_model
    from pebench.splits import make_split

    quiet_libraries()
    torch.set_num_threads(os.cpu_count() or 1)
    cfg = load_config("default")
    judge = make_judge("keywords")
    rows = []
    for n in (int(x) for x in args.persons.split(",")):
        data_cfg = cfg.data.model_copy(update={"persons": n})
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            data = load_dataset_dir(build_dataset(data_cfg, f"{tmp}/ds"))
            t_data = time.perf_counter() - start
        vlm = build_model(cfg.model, text_corpus(data), 0)
        recs = {r.image_id: r for r in data.images}
        qas = pebench_qas(data, sorted(r.image_id for r in data.of_kind("pebench")))
        start = time.perf_counter()
        for q in qas:
            vlm.encode(q.image_id, recs[q.image_id].image, q.question, q.answer)
        t_encode = time.perf_counter() - start
        split = make_split(data, "person", cfg.split, 0)
        queries = build_queries(data, split, cfg.eval, 0)
        start = time.perf_counter()
        evaluate(vlm, data, split, cfg.eval, judge, 0, queries=queries)
        t_eval = time.perf_counter() - start
        rows.append({"persons": n, "pebench_images": len(data.of_kind("pebench")), "training_examples": len(qas),
                     "eval_questions": len(queries), "data_s": round(t_data, 2), "encode_s": round(t_encode, 2),
                     "eval_row_s": round(t_eval, 2)})
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
