"""LLaVA-1.5: the family's facts. Its tiny builders are the package's default models:
`tiny-llava` (`pebench.models.builders`, from scratch) and `tiny-base` (shipped pretrained)."""

from __future__ import annotations

from pebench.models.family import Family, register_family

register_family(Family(
    "llava", ("llava",), "LlavaForConditionalGeneration", "LlavaProcessor", vision="vision_tower",
    decoder_layer="LlamaDecoderLayer", shares_prefix=True, tiny=("tiny-base", "tiny-llava"),
    image_tokens="<image> expanded to one token per CLIP patch (576 at 336 px)",
    differences="the reference family; llava-hf templates end the assistant turn with a space: pebench appends "
                "the EOS to the labels"))
