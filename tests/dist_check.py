"""Run by tests/test_distributed.py under 1 and 2 processes: trains a tiny LLaVA for a few steps
through pebench's loop and streams, generates answers, and (main process) writes the final
weights, the loss history, the answers and the world size for comparison."""

import json
import sys
from pathlib import Path

from dist_setup import tiny_setup
from safetensors.torch import save_file

from pebench.core import distributed
from pebench.train import Stream, train


def main(data_dir: str, out: str) -> None:
    cfg, vlm, records, qas, examples = tiny_setup(data_dir)
    stream = Stream([(examples, 16)], vlm.collate, "dist-check")
    result = train(vlm.model, lambda b: (vlm.nll(b["train"]["answer"]), {}), {"train": stream}, steps=12, lr=3e-3,
                   log_every=1)
    prompts = [vlm.encode(q.image_id, records[q.image_id].image, q.question) for q in qas[:40]]
    answers = vlm.generate(prompts, 8, batch_size=8)
    if distributed.is_main():
        Path(out).mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in vlm.model.state_dict().items()}, f"{out}/weights.safetensors")
        Path(out, "run.json").write_text(json.dumps({"world_size": distributed.world_size(), "answers": answers,
                                                     "losses": [h["loss"] for h in result.history]}))


if __name__ == "__main__":
    try:
        main(*sys.argv[1:])
    finally:
        distributed.shutdown()
