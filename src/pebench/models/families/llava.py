"""LLaVA-1.5: the family's facts. Its tiny builders are the package's default models:
`tiny-llava` (`pebench.models.builders`, from scratch) and `tiny-base` (shipped pretrained)."""

from __future__ import annotations

from pebench.models.family import Family, PaperModel, register_family

# llava-hf/llava-1.5-7b-hf: CLIP ViT-L/14 at 336 px + Vicuna-7B (Llama).
LLAVA_15_7B = PaperModel("llava-1.5-7b", "llava-hf/llava-1.5-7b-hf", dict(
    text_config=dict(model_type="llama", hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                     num_attention_heads=32, num_key_value_heads=32, vocab_size=32064),
    vision_config=dict(model_type="clip_vision_model", hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                       num_attention_heads=16, image_size=336, patch_size=14, projection_dim=768),
    image_token_index=32000, vision_feature_layer=-2), image_tokens=576)

register_family(Family(
    "llava", ("llava",), "LlavaForConditionalGeneration", "LlavaProcessor", vision="vision_tower",
    decoder_layer="LlamaDecoderLayer", shares_prefix=True, paper=(LLAVA_15_7B,), tiny=("tiny-base", "tiny-llava"),
    image_tokens="<image> expanded to one token per CLIP patch (576 at 336 px)",
    differences="the reference family; llava-hf templates end the assistant turn with a space: pebench appends "
                "the EOS to the labels"))
