"""Qwen2-VL and Qwen2.5-VL: the family's facts, and `tiny-qwen2-vl` / `tiny-qwen2.5-vl`, real
`Qwen2VLForConditionalGeneration` / `Qwen2_5_VLForConditionalGeneration` models (ViT with 2x2
patch merging + Qwen2 text model with multimodal RoPE) built from configs, with Qwen's chat
template, for tests and CPU runs."""

from __future__ import annotations

import torch

from pebench.config import ModelConfig
from pebench.models.adapter import VLM
from pebench.models.builders import MODEL_BUILDERS, set_generation_ids, train_tokenizer
from pebench.models.family import Family, PaperModel, register_family
from pebench.models.processors import image_only

# Qwen/Qwen2-VL-7B-Instruct: a 675M ViT (2x2 merge) + Qwen2-7B; 448 px -> (448 / 28)^2 tokens.
QWEN2_VL_7B = PaperModel("qwen2-vl-7b", "Qwen/Qwen2-VL-7B-Instruct", dict(
    text_config=dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                     num_key_value_heads=4, vocab_size=152064,
                     rope_scaling={"type": "mrope", "mrope_section": [16, 24, 24]}),
    vision_config=dict(depth=32, embed_dim=1280, hidden_size=3584, num_heads=16, mlp_ratio=4, patch_size=14,
                       spatial_merge_size=2, temporal_patch_size=2)), image_tokens=256)

register_family(Family(
    "qwen2-vl", ("qwen2_vl",), "Qwen2VLForConditionalGeneration", "Qwen2VLProcessor", vision="visual",
    projector="visual.merger", decoder_layer="Qwen2VLDecoderLayer", paper=(QWEN2_VL_7B,), tiny=("tiny-qwen2-vl",),
    image_tokens="one <|image_pad|> per 2x2 merged patches at the image's own resolution (min/max pixels)",
    differences="M-RoPE (3-D positions): no shared-prefix generation; video processor needs torchvision "
                "(image-only variant without it); turns end with <|im_end|>"))
register_family(Family(
    "qwen2.5-vl", ("qwen2_5_vl",), "Qwen2_5_VLForConditionalGeneration", "Qwen2_5_VLProcessor", vision="visual",
    projector="visual.merger", decoder_layer="Qwen2_5_VLDecoderLayer", tiny=("tiny-qwen2.5-vl",),
    image_tokens="as Qwen2-VL; windowed attention in the vision tower",
    differences="as Qwen2-VL"))

QWEN_SPECIALS = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
# Qwen2-VL's chat template without the system prompt and video branches.
QWEN_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n{% else %}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'text' %}{{ content['text'] }}"
    "{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _qwen_tokenizer(corpus: list[str], vocab_size: int):
    tok = train_tokenizer(corpus, vocab_size)
    tok.add_special_tokens({"additional_special_tokens": ["<image>", *QWEN_SPECIALS]})
    tok.eos_token = "<|im_end|>"
    return tok


def _build(cfg: ModelConfig, corpus: list[str], seed: int, version: str) -> VLM:
    from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor, Qwen2VLConfig,
                              Qwen2VLForConditionalGeneration, Qwen2VLImageProcessorPil, Qwen2VLProcessor)

    tok = _qwen_tokenizer(corpus, cfg.vocab_size)
    ids = tok.convert_tokens_to_ids
    head_dim = cfg.text_hidden // cfg.heads
    quarter = head_dim // 8  # mrope sections (temporal, height, width) sum to head_dim / 2
    text = dict(vocab_size=len(tok), hidden_size=cfg.text_hidden, intermediate_size=4 * cfg.text_hidden,
                num_hidden_layers=cfg.text_layers, num_attention_heads=cfg.heads, num_key_value_heads=cfg.heads,
                max_position_embeddings=1024, tie_word_embeddings=False, pad_token_id=tok.pad_token_id,
                bos_token_id=tok.bos_token_id, eos_token_id=ids("<|im_end|>"),
                rope_scaling={"type": "mrope", "mrope_section": [head_dim // 2 - 2 * quarter, quarter, quarter]})
    merge = 2
    vision = dict(depth=cfg.vision_layers, hidden_size=cfg.vision_hidden, num_heads=cfg.heads, patch_size=cfg.patch_size,
                  spatial_merge_size=merge, temporal_patch_size=2, in_channels=3)
    tokens = dict(image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
                  vision_start_token_id=ids("<|vision_start|>"), vision_end_token_id=ids("<|vision_end|>"))
    if version == "2":
        vision.update(embed_dim=cfg.vision_hidden, hidden_size=cfg.text_hidden, mlp_ratio=4)
        config, model_cls, proc_cls = Qwen2VLConfig(text_config=text, vision_config=vision, **tokens), \
            Qwen2VLForConditionalGeneration, image_only(Qwen2VLProcessor)
    else:
        vision.update(intermediate_size=4 * cfg.vision_hidden, out_hidden_size=cfg.text_hidden,
                      fullatt_block_indexes=[cfg.vision_layers - 1], window_size=4 * cfg.patch_size * merge)
        config, model_cls, proc_cls = Qwen2_5_VLConfig(text_config=text, vision_config=vision, **tokens), \
            Qwen2_5_VLForConditionalGeneration, image_only(Qwen2_5_VLProcessor)
    torch.manual_seed(seed)
    model = model_cls(config)
    set_generation_ids(model, tok, eos=ids("<|im_end|>"))
    pixels = cfg.image_size * cfg.image_size
    image_processor = Qwen2VLImageProcessorPil(size={"shortest_edge": pixels, "longest_edge": pixels},
                                               patch_size=cfg.patch_size, merge_size=merge, temporal_patch_size=2)
    return VLM(model, proc_cls(image_processor=image_processor, tokenizer=tok, chat_template=QWEN_TEMPLATE))


@MODEL_BUILDERS.register("tiny-qwen2-vl")
def build_tiny_qwen2_vl(cfg: ModelConfig, corpus: list[str], seed: int) -> VLM:
    """A tiny Qwen2-VL from `cfg` (an `image_size` image gives (image_size / patch_size / 2)^2 tokens)."""
    return _build(cfg, corpus, seed, "2")


@MODEL_BUILDERS.register("tiny-qwen2.5-vl")
def build_tiny_qwen2_5_vl(cfg: ModelConfig, corpus: list[str], seed: int) -> VLM:
    """A tiny Qwen2.5-VL from `cfg` (windowed vision attention, SwiGLU vision MLP)."""
    return _build(cfg, corpus, seed, "2.5")
