"""`pebench plan`: estimated accelerator memory per process for a config's model, under DDP or
FSDP, full fine-tuning or LoRA, bf16 or fp32, with or without gradient checkpointing, and the
smallest setup that fits a given GPU.

Per process, in bytes, with P parameters, T of them trainable, N processes and d bytes per
value of the training dtype (pebench trains in the model's dtype; torch's AdamW keeps its two
moments in the parameters' dtype):

* start       P·d                 the model training starts from (the Finetuned model), whole on
                                  every process: evaluation and the next method need it, and it is
                                  the reference model of full fine-tuning (under LoRA the
                                  reference is the adapter-disabled view: no copy either way)
* trained     P·d                 the model being trained, a copy of the start (FSDP: its shards,
                                  P·d / N); under LoRA nothing with DDP (the adapter sits on the
                                  start) and P·d / N with FSDP (a sharded copy, frozen part included)
* gradients   T·d                 (FSDP: / N)
* AdamW       2·T·d               (FSDP: / N)
* gathered    P·d                 FSDP, full fine-tuning only: when training ends and at each
                                  evaluation checkpoint during unlearning, the trained weights
                                  are gathered into a whole copy of the start (one tensor at a
                                  time, so nothing more), while the shards, gradients and
                                  optimizer state are still held; under LoRA the adapter goes on
                                  the start itself. This and the activations are not held at the
                                  same time: the total counts the larger.
* method      k·T·d               the largest state one of the config's methods holds besides these
                                  (`Method.state_copies` = k: GRU's flat and averaged gradients 6,
                                  MMUnlearner's Fishers and masks 4, every other method 0; reference
                                  models are the start); a method the setup refuses (FSDP: GRU,
                                  MMUnlearner; LoRA: MMUnlearner) counts 0 there
* activations per transformer layer s·b·h·(34 + 5·a·s/h)·d/2 (Korthikanti et al., 2022,
              "Reducing Activation Recomputation in Large Transformer Models", eq. 1, written
              for 16-bit values), for the language model (s: tokens of an example) and the
              vision tower (s: the image tokens the language model receives; Qwen2-VL's tower
              runs 4× as many patches before merging them and LLaVA-NeXT's one pass per crop,
              so for those the vision term is a lower bound). With gradient checkpointing
              each layer keeps only its input, s·b·h·d, plus one layer's full activations
              while it is recomputed.

b is the number of examples whose activations one step holds on a process: the largest of
the fine-tuning batch and three unlearning batches (DPO and PO run the answer, the refusal and
the retain views before one backward), divided by N. Estimates leave out framework overhead,
the CUDA context and fragmentation (typically 1-3 GiB).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import product

import torch
from PIL import Image

from pebench.config import RunConfig
from pebench.methods import METHODS
from pebench.models import VLM, build_model
from pebench.models.family import Family, PaperModel
from pebench.models.lora import lora_targets

GIB = 2**30
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


@dataclass(frozen=True)
class Shape:
    """What the estimate needs of a model: parameter counts and the transformer shapes."""

    parameters: int
    lora_parameters: int  # trainable parameters of the config's LoRA adapter
    layers: tuple[tuple[int, int, int, int], ...]  # (tokens s, hidden h, heads a, layers L) per tower


@dataclass(frozen=True)
class Setup:
    processes: int
    strategy: str  # ddp | fsdp
    lora: bool
    dtype: str
    checkpointing: bool


def _tower(config, tokens: int) -> tuple[int, int, int, int]:
    hidden = getattr(config, "hidden_size", None) or getattr(config, "embed_dim")
    heads = getattr(config, "num_attention_heads", None) or getattr(config, "num_heads")
    layers = getattr(config, "num_hidden_layers", None) or getattr(config, "depth")
    return tokens, hidden, heads, layers


def lora_parameters(model: torch.nn.Module, target_modules: str | list[str], r: int) -> int:
    """r·(in + out) for every linear layer the targets match (as peft does: one regex matched
    whole, or a list of module-name suffixes)."""
    if isinstance(target_modules, str):
        hit = lambda name: re.fullmatch(target_modules, name)  # noqa: E731
    else:
        hit = lambda name: any(name == t or name.endswith(f".{t}") for t in target_modules)  # noqa: E731
    return sum(r * (m.in_features + m.out_features) for name, m in model.named_modules()
               if isinstance(m, torch.nn.Linear) and hit(name))


def model_shape(vlm: VLM, cfg: RunConfig) -> Shape:
    """Counts and shapes of `vlm` for `cfg`: an example's tokens are its prompt with one image
    plus the longest answer the evaluation allows."""
    vision = vlm.model.config.vision_config
    size = getattr(vision, "image_size", 336)
    prompt = vlm.encode("plan", Image.new("RGB", (size, size)), "Describe the scene in detail.")
    image_token = getattr(vlm.model.config, "image_token_id", getattr(vlm.model.config, "image_token_index", None))
    patches = sum(t == image_token for t in prompt.input_ids) or 1
    tokens = len(prompt.input_ids) + cfg.eval.scene_tokens
    return Shape(sum(p.numel() for p in vlm.model.parameters()),
                 lora_parameters(vlm.model, lora_targets(vlm.model, cfg.model.lora), cfg.model.lora.r),
                 (_tower(vlm.model.config.text_config, tokens), _tower(vision, patches)))


def load_shape(cfg: RunConfig) -> Shape:
    """The config's model, built on the meta device when it is a checkpoint (no weights read)."""
    if cfg.model.path:
        from transformers import AutoConfig, AutoModelForImageTextToText

        from pebench.models.processors import load_processor

        config = AutoConfig.from_pretrained(cfg.model.path, local_files_only=True)
        with torch.device("meta"):
            model = AutoModelForImageTextToText.from_config(config)
        return model_shape(VLM(model, load_processor(cfg.model.path)), cfg)  # image-only where torchvision is missing
    return model_shape(build_model(cfg.model, ["plan"], cfg.seed), cfg)


PROMPT_TEXT_TOKENS = 32  # a chat template's turn markers and the longest question, besides the image


def paper_shape(family: Family, paper: PaperModel, cfg: RunConfig) -> Shape:
    """Counts and shapes of a published checkpoint from its dimensions alone (built on the meta
    device: no weights, no files): an example is the image's tokens, the template and question,
    and the longest answer the evaluation allows."""
    from transformers import AutoModelForImageTextToText

    config = family.config_class()(**paper.config)
    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(config)
    targets = cfg.model.lora.target_modules if cfg.model.lora.target_modules is not None else family.lora_targets
    tokens = paper.image_tokens + PROMPT_TEXT_TOKENS + cfg.eval.scene_tokens
    return Shape(sum(p.numel() for p in model.parameters()), lora_parameters(model, targets, cfg.model.lora.r),
                 (_tower(config.text_config, tokens), _tower(config.vision_config, paper.image_tokens)))


def activation_bytes(s: int, b: float, h: int, a: int, layers: int, d: int, checkpointing: bool) -> float:
    """Korthikanti et al. (2022) eq. 1 per layer, scaled from 16-bit to d bytes (see module docstring)."""
    per_layer = s * b * h * (34 + 5 * a * s / h) * d / 2
    return layers * s * b * h * d + per_layer if checkpointing else layers * per_layer


def method_state_copies(cfg: RunConfig, setup: Setup) -> int:
    """The largest `state_copies` among the config's registered methods that `setup` can run."""
    runnable = [METHODS.get(m) for m in cfg.methods if m in METHODS]
    runnable = [m for m in runnable if (m.supports_sharding or setup.strategy != "fsdp") and (m.supports_lora or not setup.lora)]
    return max((m.state_copies for m in runnable), default=0)


def memory(shape: Shape, setup: Setup, cfg: RunConfig) -> dict[str, float]:
    """Bytes per process of each term, and their total."""
    d, n = DTYPE_BYTES[setup.dtype], setup.processes
    shard = n if setup.strategy == "fsdp" else 1
    trainable = shape.lora_parameters if setup.lora else shape.parameters
    batch = max(cfg.finetune.batch_size, 3 * cfg.unlearn.batch_size) / n
    copied = setup.strategy == "fsdp" or not setup.lora
    out = {"start": shape.parameters * d, "trained": shape.parameters * d / shard if copied else 0.0,
           "gradients": trainable * d / shard, "optimizer": 2 * trainable * d / shard,
           "activations": sum(activation_bytes(s, batch, h, a, layers, d, setup.checkpointing)
                              for s, h, a, layers in shape.layers),
           "method": method_state_copies(cfg, setup) * trainable * d,
           "gathered": shape.parameters * d if setup.strategy == "fsdp" and not setup.lora else 0.0}
    held = sum(v for k, v in out.items() if k not in ("activations", "gathered"))
    out["total"] = held + max(out["activations"], out["gathered"])
    return out


def setups(processes: tuple[int, ...] = (1, 2, 4, 8)) -> list[Setup]:
    """Every setup, smallest first: fewer processes, DDP before FSDP, full before LoRA, no
    checkpointing before checkpointing (faster), bf16 before fp32."""
    out = []
    for n, strategy, lora, checkpointing, dtype in product(processes, ("ddp", "fsdp"), (False, True), (False, True),
                                                          ("bfloat16", "float32")):
        if strategy == "fsdp" and n == 1:
            continue
        out.append(Setup(n, strategy, lora, dtype, checkpointing))
    return out


def smallest_fit(shape: Shape, cfg: RunConfig, gpu_bytes: float) -> tuple[Setup, dict[str, float]] | None:
    """The first setup of `setups()` whose total fits `gpu_bytes`, with its terms."""
    for setup in setups():
        terms = memory(shape, setup, cfg)
        if terms["total"] <= gpu_bytes:
            return setup, terms
    return None
