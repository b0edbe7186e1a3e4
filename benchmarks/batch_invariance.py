"""Greedy answers at evaluation batch 1 against one batch of all questions, on every tiny family.

Builds each registered builder's tiny model, trains it `--steps` steps on the PEBench questions
of 12 images of the tiny preset's dataset (two questions per image), casts it to `--dtype`, and
generates each answer alone and all 24 in one batch (left padding, or the shared image prefix of
the families that run it once per batch). Prints JSON: per builder, how many answers differ (and how many were empty).

    python benchmarks/batch_invariance.py [--dtype float32|bfloat16] [--steps 15]
"""

from __future__ import annotations

import argparse
import json
import tempfile

import torch

from pebench.config import ModelConfig, load_config
from pebench.data.build import build_dataset, load_dataset_dir
from pebench.data.corpus import text_corpus
from pebench.data.qa import pebench_qas
from pebench.models import MODEL_BUILDERS
from pebench.train import Stream, train


def differing_answers(name: str, data, corpus, dtype: torch.dtype, steps: int) -> dict:
    vlm = MODEL_BUILDERS.get(name)(ModelConfig(name=name), corpus, 0)
    records = {r.image_id: r for r in data.images}
    qas = pebench_qas(data, sorted(r.image_id for r in data.of_kind("pebench"))[:12])
    examples = [{"answer": vlm.encode(q.image_id, records[q.image_id].image, q.question, q.answer)} for q in qas]
    train(vlm.model, lambda b: (vlm.nll(b["train"]["answer"]), {}), {"train": Stream([(examples, 4)], vlm.collate, "t")},
          steps=steps, lr=3e-3)
    vlm.model.to(dtype)
    prompts = [vlm.encode(q.image_id, records[q.image_id].image, q.question) for q in qas]
    alone, together = vlm.generate(prompts, 8, batch_size=1), vlm.generate(prompts, 8, batch_size=len(prompts))
    return {"answers": len(prompts), "differ": sum(a != b for a, b in zip(alone, together)),
            "empty": sum(not a for a in alone)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--steps", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = load_dataset_dir(build_dataset(load_config("tiny").data, f"{tmp}/ds"))
        corpus = text_corpus(data)
        dtype = getattr(torch, args.dtype)
        result = {name: differing_answers(name, data, corpus, dtype, args.steps) for name in MODEL_BUILDERS.names()}
    print(json.dumps({"dtype": args.dtype, "steps": args.steps, "builders": result}, indent=1))


if __name__ == "__main__":
    main()
