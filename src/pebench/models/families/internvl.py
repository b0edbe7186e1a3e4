"""InternVL (the transformers-native `InternVLForConditionalGeneration`, InternVL3 and later):
the family's facts, and `tiny-internvl`, a real InternVL (InternViT vision tower, pixel-shuffle
projector, Qwen2 text model) built from a config, with the stock template's shape.

Its image-token expansion is its own: the image is cut into tiles (plus a thumbnail when there
are several), and the template's `<IMG_CONTEXT>` becomes `<img>`, `image_seq_length` context
tokens per tile, `</img>`.
"""

from __future__ import annotations

import torch

from pebench.config import ModelConfig
from pebench.models.adapter import VLM
from pebench.models.builders import MODEL_BUILDERS, set_generation_ids, train_tokenizer
from pebench.models.families.qwen2_vl import QWEN_SPECIALS
from pebench.models.family import Family, PaperModel, register_family
from pebench.models.processors import image_only

# OpenGVLab/InternVL3-8B-hf: InternViT-300M at 448 px (256 tokens per tile; one tile for a square
# image of that size) + Qwen2.5-7B.
INTERNVL3_8B = PaperModel("internvl3-8b", "OpenGVLab/InternVL3-8B-hf", dict(
    text_config=dict(model_type="qwen2", hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                     num_attention_heads=28, num_key_value_heads=4, vocab_size=151674),
    vision_config=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                       image_size=[448, 448], patch_size=[14, 14]), tie_word_embeddings=False), image_tokens=256)

register_family(Family(
    "internvl", ("internvl",), "InternVLForConditionalGeneration", "InternVLProcessor", vision="vision_tower",
    decoder_layer="Qwen2DecoderLayer", shares_prefix=True, paper=(INTERNVL3_8B,), tiny=("tiny-internvl",),
    image_tokens="<IMG_CONTEXT> expanded to <img> + 256 tokens per 448-px tile (up to 12 tiles + thumbnail) + </img>",
    differences="tiles: the token count depends on the aspect ratio; video processor needs torchvision (image-only "
                "variant without it); turns end with <|im_end|>"))

INTERNVL_NAMED = {"start_image_token": "<img>", "end_image_token": "</img>", "context_image_token": "<IMG_CONTEXT>",
                  "video_token": "<video>"}
# InternVL3-hf's chat template without the system prompt and video branches.
INTERNVL_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}<IMG_CONTEXT>\n"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def qwen2_text(cfg: ModelConfig, tok) -> dict:
    """A tiny Qwen2 text model (InternVL's and LLaVA-OneVision's decoder)."""
    return dict(model_type="qwen2", vocab_size=len(tok), hidden_size=cfg.text_hidden, intermediate_size=4 * cfg.text_hidden,
                num_hidden_layers=cfg.text_layers, num_attention_heads=cfg.heads, num_key_value_heads=cfg.heads,
                max_position_embeddings=1024, tie_word_embeddings=False, pad_token_id=tok.pad_token_id,
                bos_token_id=tok.bos_token_id, eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"))


@MODEL_BUILDERS.register("tiny-internvl")
def build_tiny_internvl(cfg: ModelConfig, corpus: list[str], seed: int) -> VLM:
    """A tiny InternVL from `cfg`: tiles of `image_size` px, (image_size / patch_size / 2)^2 tokens each."""
    from transformers import GotOcr2ImageProcessorPil, InternVLConfig, InternVLForConditionalGeneration, InternVLProcessor

    tok = train_tokenizer(corpus, cfg.vocab_size, named=INTERNVL_NAMED)
    tok.add_special_tokens({"additional_special_tokens": [*INTERNVL_NAMED.values(), *QWEN_SPECIALS]})
    tok.eos_token = "<|im_end|>"
    vision = dict(hidden_size=cfg.vision_hidden, intermediate_size=4 * cfg.vision_hidden, num_hidden_layers=cfg.vision_layers,
                  num_attention_heads=cfg.heads, image_size=[cfg.image_size] * 2, patch_size=[cfg.patch_size] * 2)
    tokens_per_tile = (cfg.image_size // cfg.patch_size // 2) ** 2
    config = InternVLConfig(vision_config=vision, text_config=qwen2_text(cfg, tok), image_seq_length=tokens_per_tile,
                            image_token_id=tok.convert_tokens_to_ids("<IMG_CONTEXT>"), tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = InternVLForConditionalGeneration(config)
    set_generation_ids(model, tok, eos=tok.convert_tokens_to_ids("<|im_end|>"))
    image_processor = GotOcr2ImageProcessorPil(size={"height": cfg.image_size, "width": cfg.image_size},
                                               crop_to_patches=True, min_patches=1, max_patches=4)
    processor = image_only(InternVLProcessor)(image_processor=image_processor, tokenizer=tok,
                                              chat_template=INTERNVL_TEMPLATE, image_seq_length=tokens_per_tile)
    return VLM(model, processor)
