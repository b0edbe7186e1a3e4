"""LLaVA-NeXT (LLaVA-1.6): the family's facts, and `tiny-llava-next`, a real
`LlavaNextForConditionalGeneration` (CLIP vision tower with any-resolution tiling + Llama)
built from a config, for tests and CPU runs."""

from __future__ import annotations

import torch

from pebench.config import ModelConfig
from pebench.models.adapter import VLM
from pebench.models.builders import (LLAVA_TEMPLATE, MODEL_BUILDERS, clip_vision_config, llama_text_config,
                                     set_generation_ids, train_tokenizer)
from pebench.models.family import Family, register_family

register_family(Family(
    "llava-next", ("llava_next",), "LlavaNextForConditionalGeneration", "LlavaNextProcessor", vision="vision_tower",
    decoder_layer="LlamaDecoderLayer / MistralDecoderLayer", shares_prefix=True, tiny=("tiny-llava-next",),
    image_tokens="<image> expanded to a base view plus any-resolution tiles, with a newline per tile row",
    differences="llava-hf templates end the assistant turn with a space: pebench appends the EOS to the labels"))


@MODEL_BUILDERS.register("tiny-llava-next")
def build_tiny_llava_next(cfg: ModelConfig, corpus: list[str], seed: int) -> VLM:
    """A tiny LLaVA-NeXT from `cfg`: tiles of `image_size / 2` px plus a base view per image."""
    from transformers import (LlavaNextConfig, LlavaNextForConditionalGeneration, LlavaNextImageProcessorPil,
                              LlavaNextProcessor)

    tok = train_tokenizer(corpus, cfg.vocab_size)
    tile = cfg.image_size // 2
    pinpoints = [[tile, tile], [tile, 2 * tile], [2 * tile, tile], [2 * tile, 2 * tile]]
    config = LlavaNextConfig(vision_config=clip_vision_config(cfg, tile), text_config=llama_text_config(cfg, tok),
                             image_token_index=tok.convert_tokens_to_ids("<image>"), image_grid_pinpoints=pinpoints,
                             vision_feature_select_strategy="default", vision_feature_layer=-1,
                             image_seq_length=(tile // cfg.patch_size) ** 2, tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = LlavaNextForConditionalGeneration(config)
    set_generation_ids(model, tok)
    image_processor = LlavaNextImageProcessorPil(size={"shortest_edge": tile}, crop_size={"height": tile, "width": tile},
                                                 image_grid_pinpoints=pinpoints, do_center_crop=True)
    processor = LlavaNextProcessor(image_processor=image_processor, tokenizer=tok, patch_size=cfg.patch_size,
                                   vision_feature_select_strategy="default", num_additional_image_tokens=1,
                                   chat_template=LLAVA_TEMPLATE, image_token="<image>")
    return VLM(model, processor)
