"""Train only the foundation stage and report what it learned (Real names, POPE, scenes).

Used to size the foundation stage of the default preset:

    python scripts/foundation_probe.py --steps 500 --object-scale 1.0
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--world-train", type=int, default=400)
    ap.add_argument("--preset", default="default")
    args = ap.parse_args()

    import torch

    from pebench.core.progress import quiet_libraries
    from pebench.config import load_config
    from pebench.data.build import build_dataset, load_dataset_dir
    from pebench.data.corpus import text_corpus
    from pebench.data.qa import foundation_qas, identity_qa, scene_qa, world_eval_qas
    from pebench.eval.text import names_person, pope_scores, rouge_l
    from pebench.methods.finetune import Finetune
    from pebench.models import build_model
    from pebench.recipe.pipeline import Encoder
    from pebench.train import Stream, train

    quiet_libraries()
    torch.set_num_threads(os.cpu_count() or 1)
    cfg = load_config(args.preset, overrides={"data": {"world_train_images": args.world_train}})
    with tempfile.TemporaryDirectory() as tmp:
        data = load_dataset_dir(build_dataset(cfg.data, f"{tmp}/ds"))
    vlm = build_model(cfg.model, text_corpus(data), cfg.seed)
    enc = Encoder(vlm, data)
    examples = enc.examples(foundation_qas(data, cfg.seed))
    start = time.perf_counter()
    train(vlm.model, lambda b: Finetune().loss(vlm, b, None),
          {"train": Stream([(examples, args.batch_size)], vlm.collate, "f")}, steps=args.steps, lr=args.lr, warmup=30)
    t_train = time.perf_counter() - start

    def ask(recs_qas):
        items = [vlm.encode(r.image_id, r.image, q.question) for r, q in recs_qas]
        return vlm.generate(items, 40, 64)

    out = {"steps": args.steps, "train_s": round(t_train, 1), "examples": len(examples)}
    for role in ("train", "eval"):
        real = data.of_kind("real", role)
        ans = ask([(r, identity_qa(data, r)) for r in real])
        out[f"real_{role}_name_acc"] = sum(names_person(a, data.person(r.person_id).name) for a, r in zip(ans, real)) / len(real)
        ans = ask([(r, scene_qa(data, r)) for r in real])
        out[f"real_{role}_rouge"] = sum(rouge_l(a, scene_qa(data, r).answer) for a, r in zip(ans, real)) / len(real)
    world = {r.image_id: r for r in data.of_kind("world", "eval")}
    qas = world_eval_qas(data, cfg.seed)
    ans = ask([(world[q.image_id], q) for q in qas])
    out["pope_eval"] = pope_scores(ans, [q.answer == "Yes." for q in qas])
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
