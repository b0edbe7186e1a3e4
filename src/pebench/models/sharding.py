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

VISION_TOWERS = ("vision_tower", "visual")  # LLaVA-family, Qwen2-VL


def _inner(model: torch.nn.Module) -> torch.nn.Module:
    """The transformers VLM's `.model` (under a peft wrapper: its base model's)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.model


def vision_unit(inner: torch.nn.Module) -> torch.nn.Module | None:
    """The vision tower's sharding unit: the tower (Qwen2-VL's `visual`), or for CLIP / SigLIP
    towers their encoder, which holds all but the patch embedding and two layer norms (those
    join the root unit): wrapping the CLIP tower module itself loses the hidden states that
    transformers records from its layers and LLaVA reads."""
    tower = next((getattr(inner, name) for name in VISION_TOWERS if getattr(inner, name, None) is not None), None)
    return getattr(tower, "encoder", tower)


def shard_units(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The modules sharded as units before the root: the vision tower, then each decoder layer."""
    inner = _inner(model)
    vision = vision_unit(inner)
    return [*([vision] if vision is not None else []), *inner.language_model.layers]


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


def gathered_state(model: torch.nn.Module, keys: set[str] | None = None) -> dict[str, torch.Tensor]:
    """The full (unsharded) tensors of `model`'s state dict, on every process (each DTensor is
    all-gathered in the state dict's order, which is the same on every process); only `keys`
    when given."""
    from torch.distributed.tensor import DTensor

    return {k: v.full_tensor() if isinstance(v, DTensor) else v for k, v in model.state_dict().items()
            if keys is None or k in keys}
