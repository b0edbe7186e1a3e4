"""LLaVA-OneVision: the family's facts, and `tiny-llava-onevision`, a real
`LlavaOnevisionForConditionalGeneration` (SigLIP vision tower with any-resolution crops, Qwen2
text model) built from a config, with the stock template's shape."""

from __future__ import annotations

import torch

from pebench.config import ModelConfig
from pebench.models.adapter import VLM
from pebench.models.builders import MODEL_BUILDERS, set_generation_ids, train_tokenizer
from pebench.models.families.internvl import qwen2_text
from pebench.models.families.qwen2_vl import QWEN_SPECIALS
from pebench.models.family import Family, PaperModel, register_family
from pebench.models.processors import image_only

# llava-hf/llava-onevision-qwen2-7b-ov-hf: SigLIP so400m at 384 px + Qwen2-7B. A 448-px image is
# a base view and a 2x2 grid of 384-px crops: 729 + 54 x 54 + 54 row newlines tokens.
ONEVISION_7B = PaperModel("llava-onevision-7b", "llava-hf/llava-onevision-qwen2-7b-ov-hf", dict(
    text_config=dict(model_type="qwen2", hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                     num_attention_heads=28, num_key_value_heads=4, vocab_size=152128),
    vision_config=dict(model_type="siglip_vision_model", hidden_size=1152, intermediate_size=4304,
                       num_hidden_layers=26, num_attention_heads=16, image_size=384, patch_size=14,
                       vision_use_head=False)), image_tokens=3699)

register_family(Family(
    "llava-onevision", ("llava_onevision",), "LlavaOnevisionForConditionalGeneration", "LlavaOnevisionProcessor",
    vision="vision_tower", decoder_layer="Qwen2DecoderLayer", shares_prefix=True, paper=(ONEVISION_7B,),
    tiny=("tiny-llava-onevision",),
    image_tokens="<image> expanded to a base view plus any-resolution crops (anyres_max_9), 729 tokens per 384-px "
                 "view, newline tokens between rows, pooled when over the budget",
    differences="turns end with <|im_end|>; video processor needs torchvision (image-only variant without it)"))

# llava-onevision-qwen2's chat template without the system prompt and video branches.
ONEVISION_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}<image>\n{% endif %}{% endfor %}"
    "{% for content in message['content'] %}{% if content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@MODEL_BUILDERS.register("tiny-llava-onevision")
def build_tiny_llava_onevision(cfg: ModelConfig, corpus: list[str], seed: int) -> VLM:
    """A tiny LLaVA-OneVision from `cfg`: views of `image_size / 2` px."""
    from transformers import (LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration,
                              LlavaOnevisionImageProcessorPil, LlavaOnevisionProcessor, SiglipVisionConfig)

    tok = train_tokenizer(corpus, cfg.vocab_size)
    tok.add_special_tokens({"additional_special_tokens": ["<image>", "<video>", *QWEN_SPECIALS]})
    tok.eos_token = "<|im_end|>"
    tile = cfg.image_size // 2
    pinpoints = [[tile, tile], [tile, 2 * tile], [2 * tile, tile], [2 * tile, 2 * tile]]
    vision = SiglipVisionConfig(hidden_size=cfg.vision_hidden, intermediate_size=4 * cfg.vision_hidden,
                                num_hidden_layers=cfg.vision_layers, num_attention_heads=cfg.heads, image_size=tile,
                                patch_size=cfg.patch_size, vision_use_head=False)
    ids = tok.convert_tokens_to_ids
    config = LlavaOnevisionConfig(vision_config=vision, text_config=qwen2_text(cfg, tok), image_token_index=ids("<image>"),
                                  video_token_index=ids("<video>"), image_grid_pinpoints=pinpoints,
                                  vision_feature_select_strategy="full", vision_aspect_ratio="anyres_max_9")
    torch.manual_seed(seed)
    model = LlavaOnevisionForConditionalGeneration(config)
    set_generation_ids(model, tok, eos=ids("<|im_end|>"))
    image_processor = LlavaOnevisionImageProcessorPil(size={"height": tile, "width": tile}, image_grid_pinpoints=pinpoints)
    processor = image_only(LlavaOnevisionProcessor)(image_processor=image_processor, tokenizer=tok,
                                                    chat_template=ONEVISION_TEMPLATE,
                                                    num_image_tokens=(tile // cfg.patch_size) ** 2,
                                                    vision_feature_select_strategy="full")
    return VLM(model, processor)
