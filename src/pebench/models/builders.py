"""Registered model builders: a name -> function(ModelConfig, corpus) -> VLM.

`tiny-llava` builds a real `LlavaForConditionalGeneration` (CLIP vision tower + Llama text
model) from a config, with a byte-level BPE tokenizer trained on the benchmark's texts.
Nothing is downloaded. A local HF directory (`model.path`) is loaded instead of built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from pebench.config import ModelConfig
from pebench.core import distributed
from pebench.core.registry import Registry
from pebench.models.adapter import VLM
from pebench.models.loading import load_vlm

MODEL_BUILDERS: Registry[Callable[[ModelConfig, list[str], int], VLM]] = Registry("model")

SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<image>"]
# LLaVA's layout: the image comes first, then the question. Every question asked of one image
# then shares the image's prefix (and its KV cache), which evaluation can encode once.
LLAVA_TEMPLATE = (
    "{% for m in messages %}{% if m['role']=='user' %}USER: "
    "{% for c in m['content'] %}{% if c['type']=='image' %}<image>{{ '\\n' }}{% endif %}{% endfor %}"
    "{% for c in m['content'] %}{% if c['type']=='text' %}{{ c['text'] }}{{ '\\n' }}{% endif %}{% endfor %}"
    "{% else %}ASSISTANT: {% for c in m['content'] %}{{ c['text'] }}{% endfor %}</s>{{ '\\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


def train_tokenizer(corpus: list[str], vocab_size: int, named: dict[str, str] | None = None):
    """A byte-level BPE tokenizer trained on `corpus` (deterministic), as a HF fast tokenizer;
    `named`: extra special tokens the family's processor reads by name (`image_token`: ...)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B",
                                                       special_tokens=[("<s>", tok.token_to_id("<s>"))])
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                 pad_token="<pad>", model_input_names=["input_ids", "attention_mask"],
                                 **({"extra_special_tokens": named} if named else {}))
    hf.add_special_tokens({"additional_special_tokens": ["<image>"]})
    return hf


def llama_text_config(cfg: ModelConfig, tok):
    """The Llama text model of the tiny LLaVA families, sized by `cfg`."""
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=len(tok), hidden_size=cfg.text_hidden, intermediate_size=4 * cfg.text_hidden,
                       num_hidden_layers=cfg.text_layers, num_attention_heads=cfg.heads, num_key_value_heads=cfg.heads,
                       max_position_embeddings=512, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                       eos_token_id=tok.eos_token_id, tie_word_embeddings=False)


def clip_vision_config(cfg: ModelConfig, image_size: int):
    """The CLIP vision tower of the tiny LLaVA families, sized by `cfg`, for `image_size` px inputs."""
    from transformers import CLIPVisionConfig

    return CLIPVisionConfig(hidden_size=cfg.vision_hidden, intermediate_size=4 * cfg.vision_hidden,
                            num_hidden_layers=cfg.vision_layers, num_attention_heads=cfg.heads,
                            image_size=image_size, patch_size=cfg.patch_size, projection_dim=cfg.vision_hidden)


def set_generation_ids(model, tok, eos: int | list[int] | None = None) -> None:
    """Make `generate` use the tokenizer's pad / bos ids and stop at `eos` (default: the tokenizer's)."""
    gen = model.generation_config
    gen.pad_token_id, gen.bos_token_id = tok.pad_token_id, tok.bos_token_id
    gen.eos_token_id = tok.eos_token_id if eos is None else eos


@MODEL_BUILDERS.register("tiny-llava")
def build_tiny_llava(cfg: ModelConfig, corpus: list[str], seed: int) -> VLM:
    """A tiny LLaVA (CLIP vision + Llama) from `cfg`, randomly initialised with `seed`."""
    from transformers import LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    try:
        from transformers import CLIPImageProcessorPil as ImageProcessor  # transformers 5 without torchvision
    except ImportError:  # pragma: no cover - transformers 4.x
        from transformers import CLIPImageProcessor as ImageProcessor

    tok = train_tokenizer(corpus, cfg.vocab_size)
    config = LlavaConfig(vision_config=clip_vision_config(cfg, cfg.image_size), text_config=llama_text_config(cfg, tok),
                         image_token_index=tok.convert_tokens_to_ids("<image>"),
                         image_seq_length=(cfg.image_size // cfg.patch_size) ** 2, vision_feature_select_strategy="default",
                         vision_feature_layer=-1, pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    set_generation_ids(model, tok)
    image_processor = ImageProcessor(size={"shortest_edge": cfg.image_size},
                                     crop_size={"height": cfg.image_size, "width": cfg.image_size},
                                     do_center_crop=True, do_convert_rgb=True)
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tok, patch_size=cfg.patch_size,
                               vision_feature_select_strategy="default", num_additional_image_tokens=1,
                               chat_template=LLAVA_TEMPLATE, image_token="<image>")
    return VLM(model, processor)


def place(vlm: VLM, cfg: ModelConfig) -> VLM:
    """Move the model to `cfg.device` and `cfg.dtype` (in place); returns `vlm`."""
    vlm.model.to(device=distributed.device(cfg.device), dtype=getattr(torch, cfg.dtype))
    return vlm


def load_model_dir(path: str | Path, cfg: ModelConfig) -> VLM:
    """A saved model directory loaded in `cfg.dtype` and placed on `cfg.device`."""
    vlm = load_vlm(path, trust_remote_code=cfg.trust_remote_code, dtype=getattr(torch, cfg.dtype),
                   allow_pickle=cfg.allow_pickle)
    return place(vlm, cfg)


def starts_pretrained(cfg: ModelConfig) -> bool:
    """Whether the model arrives pretrained (a local checkpoint, or a builder marked `pretrained`,
    such as the shipped base), so no foundation stage is trained."""
    return bool(cfg.path) or getattr(MODEL_BUILDERS.get(cfg.name), "pretrained", False)


def build_model(cfg: ModelConfig, corpus: list[str], seed: int) -> VLM:
    """The foundation model to start from: a local directory if `cfg.path`, else a registered builder."""
    if cfg.path:
        return load_model_dir(cfg.path, cfg)
    return place(MODEL_BUILDERS.get(cfg.name)(cfg, corpus, seed), cfg)
