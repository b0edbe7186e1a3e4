"""Gemma 3: the family's facts, and `tiny-gemma3`, a real `Gemma3ForConditionalGeneration`
(SigLIP vision tower, average-pooled to a fixed number of soft tokens, + Gemma 3 text model with
sliding and global attention layers) built from a config, with the stock template's shape.

Quirks pebench handles: turns end with `<end_of_turn>` while the tokenizer's EOS is `<eos>` (the
generation config stops at both, and labels end with `<end_of_turn>`); the template writes the
BOS itself (the prompt is tokenised without adding another); the processor returns
`token_type_ids`, which the model needs to let image tokens attend to each other both ways, in
training as in generation (so no shared-prefix generation).
"""

from __future__ import annotations

import torch

from pebench.config import ModelConfig
from pebench.models.adapter import VLM
from pebench.models.builders import MODEL_BUILDERS, set_generation_ids, train_tokenizer
from pebench.models.family import Family, PaperModel, register_family

# google/gemma-3-12b-it: SigLIP so400m at 896 px pooled to 256 soft tokens + the Gemma 3 12B decoder.
GEMMA3_12B = PaperModel("gemma-3-12b", "google/gemma-3-12b-it", dict(
    text_config=dict(hidden_size=3840, intermediate_size=15360, num_hidden_layers=48, num_attention_heads=16,
                     num_key_value_heads=8, head_dim=256, query_pre_attn_scalar=256, sliding_window=1024,
                     vocab_size=262208),
    vision_config=dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
                       image_size=896, patch_size=14, vision_use_head=False),
    mm_tokens_per_image=256), image_tokens=256)

register_family(Family(
    "gemma3", ("gemma3",), "Gemma3ForConditionalGeneration", "Gemma3Processor", vision="vision_tower",
    decoder_layer="Gemma3DecoderLayer", paper=(GEMMA3_12B,), tiny=("tiny-gemma3",),
    image_tokens="<start_of_image> expanded to a fixed number of pooled soft tokens (256), image tokens "
                 "attend both ways (token_type_ids)",
    differences="turns end with <end_of_turn> (EOS is <eos>); the template writes the BOS; needs token_type_ids; "
                "no shared-prefix generation"))

GEMMA_NAMED = {"image_token": "<image_soft_token>", "boi_token": "<start_of_image>", "eoi_token": "<end_of_image>"}
GEMMA_TURNS = ["<start_of_turn>", "<end_of_turn>"]
# Gemma 3's chat template without the system-prompt branch.
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "<start_of_turn>{{ role }}\n{% if message['content'] is string %}{{ message['content'] | trim }}{% else %}"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}<start_of_image>"
    "{% elif item['type'] == 'text' %}{{ item['text'] | trim }}{% endif %}{% endfor %}{% endif %}"
    "<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def gemma_tokenizer(corpus: list[str], vocab_size: int, named: dict[str, str]):
    """The tiny tokenizer with Gemma's turn markers and named image tokens."""
    tok = train_tokenizer(corpus, vocab_size, named=named)
    tok.add_special_tokens({"additional_special_tokens": [*named.values(), *GEMMA_TURNS]})
    return tok


def gemma_text(cfg: ModelConfig, tok) -> dict:
    """A tiny Gemma text model: one sliding-window layer, then global ones."""
    head_dim = cfg.text_hidden // cfg.heads
    return dict(vocab_size=len(tok), hidden_size=cfg.text_hidden, intermediate_size=4 * cfg.text_hidden,
                num_hidden_layers=cfg.text_layers, num_attention_heads=cfg.heads, num_key_value_heads=cfg.heads // 2,
                head_dim=head_dim, max_position_embeddings=1024, sliding_window=64,
                layer_types=["sliding_attention"] + ["full_attention"] * (cfg.text_layers - 1),
                pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)


@MODEL_BUILDERS.register("tiny-gemma3")
def build_tiny_gemma3(cfg: ModelConfig, corpus: list[str], seed: int) -> VLM:
    """A tiny Gemma 3 from `cfg`: (image_size / patch_size / 2)^2 soft tokens per image."""
    from transformers import (Gemma3Config, Gemma3ForConditionalGeneration, Gemma3ImageProcessorPil, Gemma3Processor,
                              SiglipVisionConfig)

    tok = gemma_tokenizer(corpus, cfg.vocab_size, GEMMA_NAMED)
    ids = tok.convert_tokens_to_ids
    text = gemma_text(cfg, tok)
    text["query_pre_attn_scalar"] = text["head_dim"]
    vision = SiglipVisionConfig(hidden_size=cfg.vision_hidden, intermediate_size=4 * cfg.vision_hidden,
                                num_hidden_layers=cfg.vision_layers, num_attention_heads=cfg.heads,
                                image_size=cfg.image_size, patch_size=cfg.patch_size, vision_use_head=False)
    soft_tokens = (cfg.image_size // cfg.patch_size // 2) ** 2
    config = Gemma3Config(text_config=text, vision_config=vision, mm_tokens_per_image=soft_tokens,
                          boi_token_index=ids("<start_of_image>"), eoi_token_index=ids("<end_of_image>"),
                          image_token_index=ids("<image_soft_token>"), tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = Gemma3ForConditionalGeneration(config)
    set_generation_ids(model, tok, eos=[tok.eos_token_id, ids("<end_of_turn>")])
    image_processor = Gemma3ImageProcessorPil(size={"height": cfg.image_size, "width": cfg.image_size})
    processor = Gemma3Processor(image_processor=image_processor, tokenizer=tok, chat_template=GEMMA_TEMPLATE,
                                image_seq_length=soft_tokens)
    return VLM(model, processor)
