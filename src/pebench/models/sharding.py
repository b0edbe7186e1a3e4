"""FSDP2 parameter sharding (`torch.distributed.fsdp.fully_shard`) for training under a
multi-process launch with the FSDP strategy.

Each decoder layer of the language model is one sharding unit and the vision tower another
(`vision_unit`; one all-gather each per forward); the root unit holds the rest (embeddings,
projector, output head). Every parameter is split on its first dimension across processes, so each process keeps
1/N of the parameters, gradients and optimizer state of the model being trained; forward and
backward gather a unit's parameters just in time and free them after use, and gradients are
reduce-scattered (averaged) instead of all-reduced. Works the same on gloo (CPU) and NCCL.
"""

from __future__ import annotations

import torch

from pebench.models.family import family_of


def _inner(model: torch.nn.Module) -> torch.nn.Module:
    """The transformers VLM's `.model` (under a peft wrapper: its base model's)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.model


def vision_unit(tower: torch.nn.Module | None) -> torch.nn.Module | None:
    """The vision tower's sharding unit: the tower (Qwen-VL's `visual`), or for CLIP / SigLIP /
    InternViT towers their encoder, which holds all but the patch embedding and a few norms
    (those join the root unit): wrapping the CLIP tower module itself loses the hidden states
    that transformers records from its layers and LLaVA reads."""
    if tower is None:
        return None
    inner = getattr(tower, "vision_model", tower)  # SigLIP / Idefics3 towers wrap a transformer
    return getattr(inner, "encoder", tower)


def shard_units(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The modules sharded as units before the root: the vision tower, then each decoder layer
    (where the model's family says they are; LLaVA's names for a model of no registered family)."""
    inner = _inner(model)
    family = family_of(model)
    tower = getattr(inner, family.vision if family else "vision_tower", None)
    language = getattr(inner, family.language if family else "language_model")
    vision = vision_unit(tower)
    return [*([vision] if vision is not None else []), *language.layers]


def shard_model(model: torch.nn.Module) -> torch.nn.Module:
    """Shard `model` in place across the process group (its parameters become DTensors)."""
    from torch.distributed.fsdp import fully_shard

    for unit in shard_units(model):
        fully_shard(unit)
    fully_shard(model)
    return model


def local_share(model: torch.nn.Module) -> float:
    """The fraction of the model's parameter elements this process holds."""
    from torch.distributed.tensor import DTensor

    local = sum((p.to_local() if isinstance(p, DTensor) else p).numel() for p in model.parameters())
    return local / sum(p.numel() for p in model.parameters())


def copy_gathered(sharded: torch.nn.Module, whole: torch.nn.Module, keys: set[str]) -> None:
    """Copy the full tensors of `sharded`'s state named `keys` into `whole`'s, one tensor at a
    time: each is all-gathered (in the state dict's order, the same on every process), copied
    and freed before the next, so no second whole copy of the weights is ever held. Raises if
    `whole` lacks one of them (the two would not be the same architecture)."""
    from torch.distributed.tensor import DTensor

    target = whole.state_dict()
    for name, value in sharded.state_dict().items():
        if name not in keys:
            continue
        if name not in target:
            raise RuntimeError(f"gathered a weight the whole model does not have: {name}")
        with torch.no_grad():
            target[name].copy_(value.full_tensor() if isinstance(value, DTensor) else value)
