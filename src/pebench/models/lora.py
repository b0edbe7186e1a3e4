"""LoRA adapters through peft: add one to a model, use the adapter-disabled model as the
reference, save the adapter (and optionally the merged model) in Hugging Face format, and
remove it again so the base model can take the next adapter."""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from pebench.config import LoraConfig
from pebench.core.errors import PebenchError
from pebench.core.io import atomic_path
from pebench.models.adapter import VLM
from pebench.models.adapter_chain import CHAIN, adapter_state, chain_of, write_chained
from pebench.models.family import LORA_LAYERS, family_of


def lora_targets(model: torch.nn.Module, cfg: LoraConfig) -> str | list[str]:
    """`cfg.target_modules`, or when unset the model family's default (for a model of no
    registered family: the projections of any module named `language_model`)."""
    if cfg.target_modules is not None:
        return cfg.target_modules
    family = family_of(model)
    return family.lora_targets if family else rf".*language_model\..*\.({LORA_LAYERS})"


def add_adapter(vlm: VLM, cfg: LoraConfig) -> VLM:
    """A VLM over `vlm.model` with a fresh LoRA adapter; only adapter weights train.

    The base model is modified in place (its target layers gain LoRA branches); `remove_adapter`
    restores it. Raises PebenchError if no module matches `cfg.target_modules`."""
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    peft_cfg = PeftLoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout,
                              target_modules=lora_targets(vlm.model, cfg), bias="none")
    try:
        model = get_peft_model(vlm.model, peft_cfg)
    except ValueError as exc:
        raise PebenchError(f"model.lora.target_modules matches no layer of this model: {str(exc).splitlines()[0]}") from None
    return vlm.with_model(model)


def remove_adapter(vlm: VLM) -> VLM:
    """The base model of a LoRA VLM with the adapter layers taken out (not merged)."""
    return vlm.with_model(vlm.model.unload())


class AdapterDisabled(torch.nn.Module):
    """Calls a peft model with its adapter disabled: the model before adaptation, without a
    second copy of the weights (the reference model of an unlearning method under LoRA)."""

    def __init__(self, peft_model):
        super().__init__()
        object.__setattr__(self, "peft_model", peft_model)  # not a submodule: no duplicated parameters
        self.config = peft_model.config

    def forward(self, *args, **kwargs):
        with self.peft_model.disable_adapter():
            return self.peft_model(*args, **kwargs)

    def parameters(self, recurse: bool = True):
        return self.peft_model.parameters(recurse)

    def get_base_model(self):
        """The wrapped transformers model (whose forward signature this one passes through)."""
        return self.peft_model.get_base_model()


def reference(vlm: VLM) -> VLM:
    """The adapter-disabled view of a LoRA VLM."""
    return vlm.with_model(AdapterDisabled(vlm.model))


def write_adapter(vlm: VLM, directory: Path, merged: bool = False) -> None:
    """Write the adapter (safetensors + adapter_config.json) and the processor into the
    existing `directory`; with `merged`, also a full merged model under `directory/merged`
    that plain transformers (or lmms-eval) loads without peft."""
    vlm.model.save_pretrained(directory, safe_serialization=True)
    vlm.processor.save_pretrained(directory)
    if merged:
        merged_copy(vlm).save(directory / "merged")


def save_adapter(vlm: VLM, path: str | Path, merged: bool = False, card: dict | None = None) -> None:
    """`write_adapter` into `path` atomically (replacing what was there); with `card` (method,
    scenario, forget targets), as one adapter over the stock base that concatenates the chain
    it was trained on (`pebench.models.adapter_chain`), with a model card."""
    with atomic_path(path) as tmp:
        write_adapter(vlm, tmp, merged)
        if card is not None:
            write_chained(vlm.model, tmp, card)


def _merged(peft_model, label: str) -> torch.nn.Module:
    """`peft_model`'s adapter merged into its (own) base, which then records the chain of
    adapters merged into it (`adapter_chain.CHAIN`)."""
    chain = [*chain_of(peft_model), adapter_state(peft_model, label)]
    model = peft_model.merge_and_unload()
    setattr(model, CHAIN, chain)
    return model


def merged_copy(vlm: VLM, label: str = "adapter") -> VLM:
    """A new plain model with the adapter merged in; `vlm` keeps its adapter."""
    return vlm.with_model(_merged(copy.deepcopy(vlm.model), label))


def plain_copy(model: torch.nn.Module, label: str = "adapter") -> torch.nn.Module:
    """A deep copy of `model` with its LoRA adapter, if it has one, merged into the weights."""
    out = copy.deepcopy(model)
    return _merged(out, label) if hasattr(out, "merge_and_unload") else out


def load_adapter(base: VLM, path: str | Path, label: str = "adapter") -> VLM:
    """A copy of `base` with the saved adapter in `path` merged into its weights."""
    from peft import PeftModel

    model = PeftModel.from_pretrained(copy.deepcopy(base.model), str(path), is_trainable=False)
    return base.with_model(_merged(model, label))
