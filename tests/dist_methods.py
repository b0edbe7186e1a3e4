"""Run by tests/test_distributed.py under 1 and 2 processes: every built-in unlearning method
takes a few steps (its `prepare` and `on_gradients` included) from the same tiny model on the
same batches; the main process writes each method's loss history, a checksum of its weights and
the packed bits of what a selecting method selected (MMUnlearner's saliency masks, the columns
MANU pruned), so the test can check that a launch optimises the same objective as one process
and selects the same parameters."""

import copy
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from dist_setup import tiny_setup

from pebench.core import distributed
from pebench.data.build import load_dataset_dir
from pebench.methods import METHODS, make_method
from pebench.models import VLM
from pebench.recipe.support import Encoder
from pebench.recipe.training import TrainingStages
from pebench.splits import make_split
from pebench.train import Stream, train

STEPS = 3


def streams(method, vlm, encoder, data, split, seed: str) -> dict[str, Stream]:
    """The streams the recipe gives `method` (`TrainingStages._unlearning_streams`, batches of 8):
    its forget views (mixed, or one stream per concept for a balancing method), D_r unless it
    ignores it, and the forget persons' facts for a method that keeps them (SIU)."""
    stages = TrainingStages(SimpleNamespace(data=data, encoder=encoder), io=None)  # what the streams read of a run
    return stages._unlearning_streams(method, split, 8, vlm, seed)


def selection(method, vlm: VLM) -> str | None:
    """What a selecting method selected, one bit per entry (hex of the packed bits): MMUnlearner's
    masks (which entries are salient), or the all-zero input columns of every weight matrix after
    a method that takes no step (the neurons MANU pruned)."""
    if hasattr(method, "masks"):
        chosen = {n: m.bool() for n, m in method.masks.items()}
    elif not method.trains:
        chosen = {n: (p == 0).all(dim=0) for n, p in vlm.model.named_parameters() if p.dim() == 2}
    else:
        return None
    bits = torch.cat([chosen[n].flatten() for n in sorted(chosen)])
    return np.packbits(bits.numpy()).tobytes().hex()


def run(name: str, base: VLM, encoder, data, split) -> dict:
    vlm = VLM(copy.deepcopy(base.model), base.processor)
    method = make_method(name, {})
    own = streams(method, vlm, encoder, data, split, f"prepare:both:{name}:0")
    prepared = method.prepare(vlm, lambda: {n: next(s) for n, s in own.items()}, base)
    losses, trained = [], streams(method, vlm, encoder, data, split, f"both:{name}:0")
    if method.trains:
        hook = (lambda b: method.on_gradients(vlm, b, base)) if method.edits_gradients() else None
        losses = [h["loss"] for h in train(vlm.model, lambda b: method.loss(vlm, b, base), trained,
                                           steps=STEPS, lr=1e-3, log_every=1, after_backward=hook).history]
    weights = float(sum(p.detach().double().abs().sum() for p in vlm.model.parameters()))
    return {"losses": losses, "prepared": prepared, "weights": weights, "selection": selection(method, vlm),
            "streams": sorted(trained)}


def main(data_dir: str, out: str) -> None:
    cfg, vlm, _, _, _ = tiny_setup(data_dir)
    data = load_dataset_dir(data_dir)
    split = make_split(data, "both", cfg.split, 0)
    encoder = Encoder(vlm, data)
    built_in = [name for name in METHODS.names() if METHODS.get(name).__module__.startswith("pebench.")]
    results = {name: run(name, vlm, encoder, data, split) for name in built_in}
    if distributed.is_main():
        Path(out).mkdir(parents=True, exist_ok=True)
        Path(out, "methods.json").write_text(json.dumps({"world_size": distributed.world_size(), "methods": results}))


if __name__ == "__main__":
    try:
        main(*sys.argv[1:])
    finally:
        distributed.shutdown()
