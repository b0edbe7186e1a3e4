"""How a run makes, keeps and lets go of the models it trains, full copies or LoRA adapters,
behind one interface, so that the training stages never branch on LoRA.

* `trainable(base, seed)`: the model to train from `base` (a deep copy, or `base` with a fresh
  adapter, seeded from `seed`: peft draws adapter weights from torch's global generator);
* `reference(trained, base)`: the frozen model an unlearning method compares against (`base`
  itself, or the adapter-disabled view: no second copy of the weights);
* `write(vlm, directory)` / `load(base, path)`: a stored stage (the whole model, or only the
  adapter, merged into a copy of `base` when loaded);
* `finish(vlm)`: the stage's model once stored (itself, or a merged copy, `base` getting its
  own weights back);
* `release(vlm, directory)`: done with an evaluated unlearnt model (under LoRA its adapter is
  saved to `directory`, when given, and taken off the base model);
* `carry_on(vlm)`: the model a next sequential request starts from.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import torch

from pebench.config import LoraConfig, ModelConfig
from pebench.models.adapter import VLM
from pebench.models.builders import load_model_dir
from pebench.models.lora import (add_adapter, load_adapter, merged_copy, plain_copy, reference, remove_adapter,
                                 save_adapter, write_adapter)


class FullCopies:
    """Full fine-tuning: every trained model is a copy of the model it starts from."""

    def __init__(self, model_cfg: ModelConfig):
        self.model_cfg = model_cfg

    def trainable(self, base: VLM, seed: str) -> VLM:
        return base.with_model(copy.deepcopy(base.model))

    def reference(self, trained: VLM, base: VLM) -> VLM:
        return base

    def prepare_checkpointing(self, vlm: VLM) -> None:
        pass

    def write(self, vlm: VLM, directory: Path) -> None:
        vlm.save(directory)

    def load(self, base: VLM, path: Path) -> VLM:
        return base.with_model(load_model_dir(path, self.model_cfg).model)

    def finish(self, vlm: VLM) -> VLM:
        return vlm

    def release(self, vlm: VLM, directory: Path | None) -> None:
        pass

    def carry_on(self, vlm: VLM) -> VLM:
        return vlm


class LoraAdapters(FullCopies):
    """LoRA: every trained model is an adapter on the model it starts from; only adapters are
    stored, and a stage's model is the base with its adapter merged in."""

    def __init__(self, model_cfg: ModelConfig):
        super().__init__(model_cfg)
        self.lora: LoraConfig = model_cfg.lora

    def trainable(self, base: VLM, seed: str) -> VLM:
        torch.manual_seed(int(hashlib.sha256(seed.encode()).hexdigest()[:15], 16))
        return add_adapter(base, self.lora)

    def reference(self, trained: VLM, base: VLM) -> VLM:
        return reference(trained)

    def prepare_checkpointing(self, vlm: VLM) -> None:
        vlm.model.enable_input_require_grads()  # frozen embeddings would otherwise cut the graph

    def write(self, vlm: VLM, directory: Path) -> None:
        write_adapter(vlm, directory)

    def load(self, base: VLM, path: Path) -> VLM:
        return load_adapter(base, path)

    def finish(self, vlm: VLM) -> VLM:
        merged = merged_copy(vlm)
        remove_adapter(vlm)
        return merged

    def release(self, vlm: VLM, directory: Path | None) -> None:
        if directory is not None:
            save_adapter(vlm, directory, merged=self.lora.save_merged)
        remove_adapter(vlm)

    def carry_on(self, vlm: VLM) -> VLM:
        model = vlm.with_model(plain_copy(vlm.model))
        remove_adapter(vlm)  # the adapter sat on the previous model; the merged copy goes on
        return model


def model_lifecycle(model_cfg: ModelConfig) -> FullCopies:
    """The lifecycle `model.lora.enabled` selects."""
    return LoraAdapters(model_cfg) if model_cfg.lora.enabled else FullCopies(model_cfg)
