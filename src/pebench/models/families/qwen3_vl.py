"""Qwen3-VL and Qwen3.5: the families' facts, and `tiny-qwen3-vl` / `tiny-qwen3.5`, real
`Qwen3VLForConditionalGeneration` (ViT with learned position embeddings and DeepStack features
fed into early decoder layers, Qwen3 text model with interleaved M-RoPE) and
`Qwen3_5ForConditionalGeneration` (the same vision side; a hybrid decoder of Gated DeltaNet
linear-attention and full-attention layers) built from configs, for tests and CPU runs.

Qwen3.5's stock template thinks by default: pebench renders every prompt with
`enable_thinking=False` (`VLM.TEMPLATE_KWARGS`), so the generation prompt ends with the empty
think block the template writes before a final answer, and the labels are the answer alone.
"""

from __future__ import annotations

import torch

from pebench.config import ModelConfig
from pebench.models.adapter import VLM
from pebench.models.builders import MODEL_BUILDERS, set_generation_ids
from pebench.models.families.qwen2_vl import QWEN_TEMPLATE, _qwen_tokenizer
from pebench.models.family import Family, PaperModel, register_family
from pebench.models.processors import image_only

# Qwen/Qwen3-VL-8B-Instruct: a 27-layer ViT with DeepStack + Qwen3-8B; 448 px -> (448 / 32)^2 tokens.
QWEN3_VL_8B = PaperModel("qwen3-vl-8b", "Qwen/Qwen3-VL-8B-Instruct", dict(
    text_config=dict(hidden_size=4096, intermediate_size=12288, num_hidden_layers=36, num_attention_heads=32,
                     num_key_value_heads=8, head_dim=128, vocab_size=151936,
                     rope_parameters={"rope_type": "default", "rope_theta": 5000000.0, "mrope_interleaved": True,
                                      "mrope_section": [24, 20, 20]}),
    vision_config=dict(depth=27, hidden_size=1152, intermediate_size=4304, num_heads=16, patch_size=16,
                       spatial_merge_size=2, temporal_patch_size=2, out_hidden_size=4096, num_position_embeddings=2304,
                       deepstack_visual_indexes=[8, 16, 24])), image_tokens=196)

register_family(Family(
    "qwen3-vl", ("qwen3_vl",), "Qwen3VLForConditionalGeneration", "Qwen3VLProcessor", vision="visual",
    projector="visual.merger", decoder_layer="Qwen3VLTextDecoderLayer", paper=(QWEN3_VL_8B,), tiny=("tiny-qwen3-vl",),
    image_tokens="one <|image_pad|> per 2x2 merged 16-px patches; DeepStack adds vision features to early layers",
    differences="interleaved M-RoPE: no shared-prefix generation; video processor needs torchvision (image-only "
                "variant without it); turns end with <|im_end|>"))
register_family(Family(
    "qwen3.5", ("qwen3_5",), "Qwen3_5ForConditionalGeneration", "Qwen3VLProcessor", vision="visual",
    projector="visual.merger", decoder_layer="Qwen3_5DecoderLayer", tiny=("tiny-qwen3.5",),
    image_tokens="as Qwen3-VL",
    differences="hybrid Gated DeltaNet / attention decoder (LoRA also adapts the linear-attention projections "
                "only where named as q/k/v/o); the template thinks unless enable_thinking=False, which pebench passes"))

# Qwen3.5's template shape: an assistant turn after the last question carries a think block,
# and the generation prompt without thinking ends with an empty one.
QWEN35_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['role'] == 'assistant' and loop.last %}<think>\n\n</think>\n\n{% endif %}"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n{% else %}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'text' %}{{ content['text'] }}"
    "{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}{% endif %}"
)


def _vision(cfg: ModelConfig) -> dict:
    grid = cfg.image_size // cfg.patch_size
    return dict(depth=cfg.vision_layers, hidden_size=cfg.vision_hidden, intermediate_size=4 * cfg.vision_hidden,
                num_heads=cfg.heads, patch_size=cfg.patch_size, spatial_merge_size=2, temporal_patch_size=2,
                out_hidden_size=cfg.text_hidden, num_position_embeddings=grid * grid,
                deepstack_visual_indexes=[0])


def _text(cfg: ModelConfig, tok) -> dict:
    head_dim = cfg.text_hidden // cfg.heads
    quarter = head_dim // 8  # mrope sections (temporal, height, width) sum to head_dim / 2
    return dict(vocab_size=len(tok), hidden_size=cfg.text_hidden, intermediate_size=4 * cfg.text_hidden,
                num_hidden_layers=cfg.text_layers, num_attention_heads=cfg.heads, num_key_value_heads=cfg.heads,
                head_dim=head_dim, max_position_embeddings=1024, tie_word_embeddings=False,
                pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"),
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_interleaved": True,
                                 "mrope_section": [head_dim // 2 - 2 * quarter, quarter, quarter]})


def _build(cfg: ModelConfig, corpus: list[str], seed: int, qwen35: bool) -> VLM:
    from transformers import (Qwen2VLImageProcessorPil, Qwen3_5Config, Qwen3_5ForConditionalGeneration,
                              Qwen3VLConfig, Qwen3VLForConditionalGeneration, Qwen3VLProcessor)

    tok = _qwen_tokenizer(corpus, cfg.vocab_size)
    ids = tok.convert_tokens_to_ids
    tokens = dict(image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
                  vision_start_token_id=ids("<|vision_start|>"), vision_end_token_id=ids("<|vision_end|>"))
    text = _text(cfg, tok)
    if qwen35:
        vision = {k: v for k, v in _vision(cfg).items() if k != "deepstack_visual_indexes"}
        head_dim = text["head_dim"]
        text.update(layer_types=["linear_attention"] * (cfg.text_layers - 1) + ["full_attention"],
                    linear_key_head_dim=head_dim, linear_value_head_dim=head_dim, linear_num_key_heads=cfg.heads,
                    linear_num_value_heads=cfg.heads, full_attention_interval=cfg.text_layers,
                    rope_parameters={**text["rope_parameters"], "partial_rotary_factor": 1.0})
        config, model_cls = Qwen3_5Config(text_config=text, vision_config=vision, **tokens), Qwen3_5ForConditionalGeneration
    else:
        config, model_cls = Qwen3VLConfig(text_config=text, vision_config=_vision(cfg), **tokens), Qwen3VLForConditionalGeneration
    torch.manual_seed(seed)
    model = model_cls(config)
    set_generation_ids(model, tok, eos=ids("<|im_end|>"))
    pixels = cfg.image_size * cfg.image_size
    image_processor = Qwen2VLImageProcessorPil(size={"shortest_edge": pixels, "longest_edge": pixels},
                                               patch_size=cfg.patch_size, merge_size=2, temporal_patch_size=2)
    template = QWEN35_TEMPLATE if qwen35 else QWEN_TEMPLATE
    return VLM(model, image_only(Qwen3VLProcessor)(image_processor=image_processor, tokenizer=tok, chat_template=template))


@MODEL_BUILDERS.register("tiny-qwen3-vl")
def build_tiny_qwen3_vl(cfg: ModelConfig, corpus: list[str], seed: int) -> VLM:
    """A tiny Qwen3-VL from `cfg` (an `image_size` image gives (image_size / patch_size / 2)^2 tokens)."""
    return _build(cfg, corpus, seed, qwen35=False)


@MODEL_BUILDERS.register("tiny-qwen3.5")
def build_tiny_qwen3_5(cfg: ModelConfig, corpus: list[str], seed: int) -> VLM:
    """A tiny Qwen3.5 from `cfg`: Gated DeltaNet layers, the last one full attention."""
    return _build(cfg, corpus, seed, qwen35=True)
