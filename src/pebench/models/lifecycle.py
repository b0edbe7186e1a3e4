"""How a run makes, keeps and lets go of the models it trains, full copies or LoRA adapters,
behind one interface, so that the training stages never branch on LoRA.

* `trainable(base, seed)`: the model to train from `base` (a deep copy, or `base` with a fresh
  adapter, seeded from `seed`: peft draws adapter weights from torch's global generator);
* `reference(trained, base)`: the frozen model an unlearning method compares against (`base`
  itself, or the adapter-disabled view: no second copy of the weights);
* `trained(vlm)`: the model once training is over, as evaluation and storage take it (itself;
  under FSDP, the shards gathered into a whole model on every process);
* `snapshot(vlm)`: a context giving the model to evaluate in the middle of training;
* `write(vlm, directory)` / `load(base, path)`: a stored stage (the whole model, or only the
  adapter, merged into a copy of `base` when loaded);
* `finish(vlm)`: the stage's model once stored (itself, or a merged copy, `base` getting its
  own weights back);
* `release(vlm, directory)`: done with an evaluated unlearnt model (under LoRA its adapter is
  saved to `directory`, when given, and taken off the base model);
* `carry_on(vlm)`: the model a next sequential request starts from.

`Sharded` wraps either under the FSDP strategy (`pebench.models.sharding`).
"""

from __future__ import annotations

import copy
import hashlib
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch

from pebench.config import LoraConfig, ModelConfig
from pebench.core import distributed
from pebench.core.io import atomic_path
from pebench.core.progress import log
from pebench.models.adapter import VLM
from pebench.models.adapter_chain import CHAIN
from pebench.models.builders import load_model_dir
from pebench.models.lora import add_adapter, load_adapter, merged_copy, plain_copy, reference, remove_adapter, save_adapter, write_adapter
from pebench.models.sharding import copy_gathered, local_share, shard_model


class FullCopies:
    """Full fine-tuning: every trained model is a copy of the model it starts from."""

    copies = True  # `trainable` leaves `base` untouched

    def __init__(self, model_cfg: ModelConfig):
        self.model_cfg = model_cfg

    def trainable(self, base: VLM, seed: str) -> VLM:
        return base.with_model(copy.deepcopy(base.model))

    def reference(self, trained: VLM, base: VLM) -> VLM:
        return base

    def prepare_checkpointing(self, vlm: VLM) -> None:
        pass

    def trained(self, vlm: VLM) -> VLM:
        return vlm

    @contextmanager
    def snapshot(self, vlm: VLM) -> Iterator[VLM]:
        yield vlm

    def write(self, vlm: VLM, directory: Path) -> None:
        vlm.save(directory)

    def load(self, base: VLM, path: Path, label: str = "") -> VLM:
        return base.with_model(load_model_dir(path, self.model_cfg).model)

    def finish(self, vlm: VLM, label: str = "") -> VLM:
        return vlm

    def release(self, vlm: VLM, directory: Path | None, card: dict | None = None) -> None:
        pass

    def carry_on(self, vlm: VLM) -> VLM:
        return vlm


class LoraAdapters(FullCopies):
    """LoRA: every trained model is an adapter on the model it starts from; only adapters are
    stored, and a stage's model is the base with its adapter merged in."""

    copies = False  # `trainable` puts the adapter on `base` itself

    def __init__(self, model_cfg: ModelConfig):
        super().__init__(model_cfg)
        self.lora: LoraConfig = model_cfg.lora

    def trainable(self, base: VLM, seed: str) -> VLM:
        # peft draws the adapter's initial weights from torch's global generator: seed a fork of
        # it, so making an adapter (also for each FSDP snapshot) never moves the training's RNG.
        with torch.random.fork_rng():
            torch.manual_seed(int(hashlib.sha256(seed.encode()).hexdigest()[:15], 16))
            return add_adapter(base, self.lora)

    def reference(self, trained: VLM, base: VLM) -> VLM:
        return reference(trained)

    def prepare_checkpointing(self, vlm: VLM) -> None:
        vlm.model.enable_input_require_grads()  # frozen embeddings would otherwise cut the graph

    def write(self, vlm: VLM, directory: Path) -> None:
        write_adapter(vlm, directory)

    def load(self, base: VLM, path: Path, label: str = "adapter") -> VLM:
        return load_adapter(base, path, label)

    def finish(self, vlm: VLM, label: str = "adapter") -> VLM:
        merged = merged_copy(vlm, label)
        remove_adapter(vlm)
        return merged

    def release(self, vlm: VLM, directory: Path | None, card: dict | None = None) -> None:
        """Save the adapter to `directory` (with `card`: as one adapter over the stock base that
        loads by the standard route, `models.adapter_chain`), then take it off its base."""
        if directory is not None:
            save_adapter(vlm, directory, merged=self.lora.save_merged, card=card or {})
        remove_adapter(vlm)

    def carry_on(self, vlm: VLM) -> VLM:
        model = vlm.with_model(plain_copy(vlm.model, "sequential request"))
        remove_adapter(vlm)  # the adapter sat on the previous model; the merged copy goes on
        return model


class PrunedCopies(FullCopies):
    """Under LoRA, a method that takes no gradient step but edits base weights (MANU's pruning):
    its model is a full copy of the start, edited, and stored whole (safetensors, with the model
    card a LoRA row's adapter carries) where the other rows store adapters; nothing is merged."""

    def trainable(self, base: VLM, seed: str) -> VLM:
        vlm = super().trainable(base, seed)
        if hasattr(vlm.model, CHAIN):  # the adapters merged into the start no longer rebuild it once edited
            delattr(vlm.model, CHAIN)
        return vlm

    def release(self, vlm: VLM, directory: Path | None, card: dict | None = None) -> None:
        if directory is not None:
            with atomic_path(directory) as tmp:
                vlm.model.save_pretrained(tmp, safe_serialization=True)
                vlm.processor.save_pretrained(tmp)
                (tmp / "pebench.json").write_text(json.dumps({**(card or {}), "stored": "full checkpoint"}, indent=1) + "\n",
                                                  encoding="utf-8")


class Sharded:
    """Either lifecycle above with the model being trained sharded across processes (FSDP2).

    The trained model is a sharded twin of its start: a copy (full fine-tuning) or a copy with
    the adapter (LoRA: the frozen weights are sharded too). Each process holds 1/N of its
    parameters, gradients and optimizer state. Everything outside training sees whole models:
    `trained` gathers the twin's trained weights into the inner lifecycle's own model on every
    process, which then evaluates, stores and merges as without sharding. The reference model
    of full fine-tuning is the Finetuned model every process already holds whole (it is needed
    whole for evaluation anyway; sharding it as well would save (N-1)/N of one model at the cost
    of an all-gather per reference forward); under LoRA it is the twin with its adapter
    disabled, sharded like the twin."""

    def __init__(self, inner: FullCopies):
        self.inner = inner
        self._starts: dict[int, tuple[VLM, str]] = {}  # id of a sharded twin -> (its start, its seed)

    def __getattr__(self, name: str):  # write, load, finish, release, carry_on: on whole models
        return getattr(self.inner, name)

    def trainable(self, base: VLM, seed: str) -> VLM:
        start = base if self.inner.copies else base.with_model(copy.deepcopy(base.model))
        twin = self.inner.trainable(start, seed)
        shard_model(twin.model)
        log.info("training %s sharded: this process holds %.1f%% of the parameters", seed,
                 100 * local_share(twin.model))
        self._starts[id(twin.model)] = (base, seed)
        return twin

    def reference(self, trained: VLM, base: VLM) -> VLM:
        return self.inner.reference(trained, base)

    def prepare_checkpointing(self, vlm: VLM) -> None:
        self.inner.prepare_checkpointing(vlm)

    def trained(self, vlm: VLM) -> VLM:
        base, seed = self._starts.pop(id(vlm.model))
        return self._whole(vlm, base, seed)

    @contextmanager
    def snapshot(self, vlm: VLM) -> Iterator[VLM]:
        base, seed = self._starts[id(vlm.model)]
        whole = self._whole(vlm, base, seed)
        try:
            yield whole
        finally:
            if not self.inner.copies:
                remove_adapter(whole)  # the snapshot's adapter sat on `base`

    def _whole(self, twin: VLM, base: VLM, seed: str) -> VLM:
        """The inner lifecycle's model for `base` (a copy, or `base` with an adapter) holding
        the twin's trained weights, gathered from every process (frozen ones equal `base`'s)."""
        trained = {name for name, p in twin.model.named_parameters() if p.requires_grad}
        whole = self.inner.trainable(base, seed)
        copy_gathered(twin.model, whole.model, trained)
        return whole


def model_lifecycle(model_cfg: ModelConfig) -> FullCopies | Sharded:
    """The lifecycle `model.lora.enabled` selects, sharded under the FSDP strategy."""
    inner = LoraAdapters(model_cfg) if model_cfg.lora.enabled else FullCopies(model_cfg)
    return Sharded(inner) if distributed.strategy() == "fsdp" else inner


def method_lifecycle(run: FullCopies | Sharded, model_cfg: ModelConfig, supports_lora: bool) -> FullCopies | Sharded:
    """The run's lifecycle, or for a method a LoRA adapter cannot hold (which then takes no
    gradient step: the run's checks refuse the others) a pruned full copy."""
    return PrunedCopies(model_cfg) if model_cfg.lora.enabled and not supports_lora else run
