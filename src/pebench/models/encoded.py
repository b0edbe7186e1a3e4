"""`Encoded`: one tokenised example, as the VLM adapter makes it and generation and training
read it (its own module, so that `prefix_generation` needs nothing from the adapter)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Encoded:
    """One tokenised example: ids, labels (-100 outside the answer) and vision tensors."""

    input_ids: list[int]
    labels: list[int]
    vision: dict[str, torch.Tensor]
    # Per-token modality ids (0 = text) for models that need them (Qwen2-VL's M-RoPE).
    token_types: list[int] | None = None
    # Which image it shows: questions about one image share its prompt prefix in generation.
    image_key: str | None = None
