"""Idefics3 and SmolVLM: the families' facts, and `tiny-idefics3` / `tiny-smolvlm`, real
`Idefics3ForConditionalGeneration` / `SmolVLMForConditionalGeneration` models (SigLIP-style
vision model, pixel-shuffle connector, Llama text model) built from configs, with the stock
template's shape.

Quirks pebench handles: images are split into tiles plus a global view, each tile written as
`<fake_token_around_image><row_i_col_j>` + image tokens; turns end with `<end_of_utterance>`
(which the generation config must stop at); the generation prompt ends with `Assistant:` and
the answer starts with a space; the decoder sits under `text_model`, not `language_model`
(FSDP units, LoRA targets).
"""

from __future__ import annotations

import torch

from pebench.config import ModelConfig
from pebench.models.adapter import VLM
from pebench.models.builders import MODEL_BUILDERS, llama_text_config, set_generation_ids, train_tokenizer
from pebench.models.family import Family, PaperModel, register_family
from pebench.models.processors import image_only

_DIFFERENCES = ("turns end with <end_of_utterance>; 'Assistant:' then a space before the answer; decoder under "
                "text_model; image tiles with row/column tokens, so the token count depends on the image size")
# HuggingFaceM4/Idefics3-8B-Llama3: SigLIP so400m at 364 px (169 tokens per tile) + Llama 3 8B; a
# 448-px image is 2x2 tiles and a global view.
IDEFICS3_8B = PaperModel("idefics3-8b", "HuggingFaceM4/Idefics3-8B-Llama3", dict(
    text_config=dict(model_type="llama", hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                     num_attention_heads=32, num_key_value_heads=8, vocab_size=128259),
    vision_config=dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
                       image_size=364, patch_size=14), scale_factor=2), image_tokens=5 * 169)
# HuggingFaceTB/SmolVLM2-2.2B-Instruct: SigLIP so400m at 384 px (81 tokens per tile) + SmolLM2-1.7B.
SMOLVLM2_2B = PaperModel("smolvlm2-2.2b", "HuggingFaceTB/SmolVLM2-2.2B-Instruct", dict(
    text_config=dict(model_type="llama", hidden_size=2048, intermediate_size=8192, num_hidden_layers=24,
                     num_attention_heads=32, num_key_value_heads=32, vocab_size=49280),
    vision_config=dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
                       image_size=384, patch_size=14), scale_factor=3), image_tokens=5 * 81)

register_family(Family(
    "idefics3", ("idefics3",), "Idefics3ForConditionalGeneration", "Idefics3Processor", vision="vision_model",
    projector="connector", language="text_model", decoder_layer="LlamaDecoderLayer", shares_prefix=True,
    paper=(IDEFICS3_8B,), tiny=("tiny-idefics3",),
    image_tokens="<image> expanded per tile: <fake_token_around_image><row_i_col_j> + 169 tokens, then a global view",
    differences=_DIFFERENCES))
register_family(Family(
    "smolvlm", ("smolvlm",), "SmolVLMForConditionalGeneration", "SmolVLMProcessor", vision="vision_model",
    projector="connector", language="text_model", decoder_layer="LlamaDecoderLayer", shares_prefix=True,
    paper=(SMOLVLM2_2B,), tiny=("tiny-smolvlm",),
    image_tokens="as Idefics3 (64 tokens per 512-px tile in SmolVLM2)",
    differences=_DIFFERENCES + "; video processor needs torchvision (image-only variant without it)"))

IDEFICS_SPECIALS = ["<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>",
                    *(f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7))]
# SmolVLM-Instruct's chat template.
IDEFICS_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{ line['text'] }}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)


def _build(cfg: ModelConfig, corpus: list[str], seed: int, smol: bool) -> VLM:
    import transformers as tf

    prefix = "SmolVLM" if smol else "Idefics3"
    tok = train_tokenizer(corpus, cfg.vocab_size)
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", *IDEFICS_SPECIALS]})
    scale = 2
    vision = dict(hidden_size=cfg.vision_hidden, intermediate_size=4 * cfg.vision_hidden, num_hidden_layers=cfg.vision_layers,
                  num_attention_heads=cfg.heads, image_size=cfg.image_size, patch_size=cfg.patch_size)
    eou = tok.convert_tokens_to_ids("<end_of_utterance>")
    config = getattr(tf, f"{prefix}Config")(vision_config=vision, text_config=llama_text_config(cfg, tok).to_dict(),
                                            image_token_id=tok.convert_tokens_to_ids("<image>"), scale_factor=scale,
                                            pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    model = getattr(tf, f"{prefix}ForConditionalGeneration")(config)
    set_generation_ids(model, tok, eos=[tok.eos_token_id, eou])
    image_processor = getattr(tf, f"{prefix}ImageProcessorPil")(
        do_image_splitting=True, size={"longest_edge": 2 * cfg.image_size}, max_image_size={"longest_edge": cfg.image_size})
    stock = getattr(tf, f"{prefix}Processor")
    processor = (image_only(stock) if smol else stock)(
        image_processor=image_processor, tokenizer=tok, chat_template=IDEFICS_TEMPLATE,
        image_seq_len=(cfg.image_size // cfg.patch_size // scale) ** 2)
    return VLM(model, processor)


@MODEL_BUILDERS.register("tiny-idefics3")
def build_tiny_idefics3(cfg: ModelConfig, corpus: list[str], seed: int) -> VLM:
    """A tiny Idefics3 from `cfg`: tiles of `image_size` px plus a global view."""
    return _build(cfg, corpus, seed, smol=False)


@MODEL_BUILDERS.register("tiny-smolvlm")
def build_tiny_smolvlm(cfg: ModelConfig, corpus: list[str], seed: int) -> VLM:
    """A tiny SmolVLM from `cfg`: tiles of `image_size` px plus a global view."""
    return _build(cfg, corpus, seed, smol=True)
