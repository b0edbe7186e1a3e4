"""Gemma 4: the family's facts, and `tiny-gemma4`, a real `Gemma4ForConditionalGeneration`
(a vision encoder over variable-resolution patches, pooled to soft tokens, + the Gemma 4 text
model with per-layer inputs and sliding / global attention) built from a config, with the stock
template's shape.

Quirks pebench handles: turns open with `<|turn>` and end with `<turn|>` while the tokenizer's
EOS is `<eos>`; the template writes the BOS itself; the processor (which also builds audio and
video parts: image-only without torchvision) returns `mm_token_type_ids`, with which image
tokens attend to each other both ways.
"""

from __future__ import annotations

import torch

from pebench.config import ModelConfig
from pebench.models.adapter import VLM
from pebench.models.builders import MODEL_BUILDERS, set_generation_ids
from pebench.models.families.gemma3 import gemma_text, gemma_tokenizer
from pebench.models.family import Family, register_family
from pebench.models.processors import image_only

register_family(Family(
    "gemma4", ("gemma4",), "Gemma4ForConditionalGeneration", "Gemma4Processor", vision="vision_tower",
    projector="embed_vision", decoder_layer="Gemma4TextDecoderLayer", tiny=("tiny-gemma4",),
    image_tokens="<|image|> expanded to boi + a resolution-dependent number of pooled soft tokens (max 70-1120) "
                 "+ eoi, attending both ways (mm_token_type_ids)",
    differences="turns are <|turn>role ... <turn|> (EOS is <eos>); the template writes the BOS; audio and video "
                "parts need torchvision (image-only variant without it); no shared-prefix generation"))

# The stock tokenizer names its audio tokens too (the processor checks them even for images).
GEMMA4_NAMED = {"image_token": "<|image|>", "boi_token": "<|image>", "eoi_token": "<image|>",
                "audio_token": "<|audio|>", "boa_token": "<|audio>", "eoa_token": "<audio|>"}
# Gemma 4's chat template without the system, tool and thinking branches.
GEMMA4_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "<|turn>{{ role }}\n{% if message['content'] is string %}{{ message['content'] | trim }}{% else %}"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}<|image|>"
    "{% elif item['type'] == 'text' %}{{ item['text'] | trim }}{% endif %}{% endfor %}{% endif %}"
    "<turn|>\n{% endfor %}{% if add_generation_prompt %}<|turn>model\n{% endif %}"
)


@MODEL_BUILDERS.register("tiny-gemma4")
def build_tiny_gemma4(cfg: ModelConfig, corpus: list[str], seed: int) -> VLM:
    """A tiny Gemma 4 from `cfg`: `patch_size` patches pooled 2x2 into soft tokens."""
    from transformers import Gemma4Config, Gemma4ForConditionalGeneration, Gemma4ImageProcessorPil, Gemma4Processor

    tok = gemma_tokenizer(corpus, cfg.vocab_size, GEMMA4_NAMED)
    tok.add_special_tokens({"additional_special_tokens": ["<|turn>", "<turn|>"]})
    ids = tok.convert_tokens_to_ids
    text = gemma_text(cfg, tok)
    text.update(vocab_size_per_layer_input=len(tok), hidden_size_per_layer_input=16, global_head_dim=text["head_dim"])
    vision = dict(hidden_size=cfg.vision_hidden, intermediate_size=4 * cfg.vision_hidden,
                  num_hidden_layers=cfg.vision_layers, num_attention_heads=cfg.heads, num_key_value_heads=cfg.heads,
                  head_dim=cfg.vision_hidden // cfg.heads, patch_size=cfg.patch_size, pooling_kernel_size=2,
                  position_embedding_size=4 * cfg.image_size // cfg.patch_size)
    config = Gemma4Config(text_config=text, vision_config=vision, audio_config=None,
                          boi_token_id=ids("<|image>"), eoi_token_id=ids("<image|>"), image_token_id=ids("<|image|>"),
                          tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = Gemma4ForConditionalGeneration(config)
    set_generation_ids(model, tok, eos=[tok.eos_token_id, ids("<turn|>")])
    image_processor = Gemma4ImageProcessorPil(patch_size=cfg.patch_size, pooling_kernel_size=2, max_soft_tokens=70)
    processor = image_only(Gemma4Processor)(image_processor=image_processor, tokenizer=tok,
                                            chat_template=GEMMA4_TEMPLATE, image_seq_length=70)
    return VLM(model, processor)
