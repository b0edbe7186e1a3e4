"""The quantization attack: quantize an unlearned model's weights, then measure Efficacy and
Retain again. Zhang et al. (ICLR 2025, "Catastrophic Failure of LLM Unlearning via
Quantization") found 4-bit quantization restores much of what gradient-based unlearning
removed, because the unlearning updates are small next to the quantization step.

Simulated weight-only quantization, per output channel, symmetric round-to-nearest: for row
w of a linear layer's weight, with q_max = 2^(b-1) - 1,

    s = max|w| / q_max,   ŵ = s · clamp(round(w / s), -q_max, q_max)

so each row takes at most 2^b - 1 distinct values. Weights stay in floating point (quantize,
then dequantize): the arithmetic of a b-bit kernel without needing one on every device. Every
linear layer is quantized except the output head, as weight-only schemes (GPTQ, AWQ,
bitsandbytes) do.
"""

from __future__ import annotations

import torch

from pebench.models.lora import plain_copy

KEEP_FULL_PRECISION = ("lm_head",)


def quantize_rows(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """`weight` [out, in] quantized per row to `bits` bits and dequantized (same dtype)."""
    q_max = 2 ** (bits - 1) - 1
    w = weight.float()
    scale = w.abs().amax(dim=1, keepdim=True).clamp(min=torch.finfo(torch.float32).tiny) / q_max
    return ((w / scale).round().clamp(-q_max, q_max) * scale).to(weight.dtype)


@torch.no_grad()
def quantized_copy(model: torch.nn.Module, bits: int) -> torch.nn.Module:
    """A copy of `model` (LoRA merged) with every linear weight but the output head quantized to `bits`."""
    out = plain_copy(model)
    for name, module in out.named_modules():
        if isinstance(module, torch.nn.Linear) and not name.endswith(KEEP_FULL_PRECISION):
            module.weight.copy_(quantize_rows(module.weight, bits))
    return out
