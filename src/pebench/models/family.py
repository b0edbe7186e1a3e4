"""What pebench must know of each model family, in one place (`Family`, registered in `FAMILIES`).

A family is one image-text-to-text architecture of transformers (a `model_type`, or a few that
share their layout). Its facts say where the vision tower, the projector and the decoder sit
(FSDP units, modality-aware methods, LoRA targets), how images become tokens (whether prompts
about one image can share their prefix in generation), which processor class it has (and so
whether it needs the image-only variant without torchvision) and what differs from LLaVA.
Each family is one file in `pebench/models/families/` with its facts and its tiny builder.
"""

from __future__ import annotations

from dataclasses import dataclass

from pebench.core.registry import Registry

LORA_LAYERS = "q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj"


@dataclass(frozen=True)
class PaperModel:
    """A published checkpoint of the family, for its paper-scale config (`configs/<name>.yaml`)
    and the planner's figures written into that file's comments (`scripts/family_configs.py`)."""

    name: str  # the config file's name, e.g. qwen3-vl-8b
    hub_id: str  # where the weights are published
    config: dict  # keyword arguments of the family's transformers config class, as its config.json has them
    image_tokens: int  # tokens one image of the config's `data.image_size` becomes, for the language model


@dataclass(frozen=True)
class Family:
    name: str
    model_types: tuple[str, ...]  # the `config.model_type` values of the family
    model_class: str  # the transformers class `AutoModelForImageTextToText` loads
    processor: str | None  # the transformers processor class (None: AutoProcessor's own choice)
    vision: str  # attribute of the inner model (`model.model`) holding the vision tower
    projector: str = "multi_modal_projector"  # attribute of the inner model: vision -> text projector
    language: str = "language_model"  # attribute of the inner model holding the decoder (its `.layers`)
    decoder_layer: str = ""  # the decoder layer class (one FSDP unit each)
    image_tokens: str = ""  # how an image becomes tokens
    shares_prefix: bool = False  # image-first template and 1-D positions: prompts share an image's prefix
    tiny: tuple[str, ...] = ()  # the tiny builders made from a config (`pebench list`)
    differences: str = ""  # what differs from LLaVA, for the docs' family table
    paper: tuple[PaperModel, ...] = ()  # published checkpoints with a paper-scale config

    @property
    def lora_targets(self) -> str:
        """The default LoRA targets: the decoder's attention and MLP projections (the vision
        tower stays frozen, as LLaVA's and Qwen-VL's own LoRA recipes do)."""
        return rf".*{self.language}\..*\.({LORA_LAYERS})"

    @property
    def vision_parts(self) -> tuple[str, ...]:
        """Name parts of the vision side of the model: the tower and the projector."""
        return (self.vision, self.projector)

    def config_class(self) -> type:
        import transformers

        return getattr(transformers, self.model_class.replace("ForConditionalGeneration", "Config"))

    def processor_class(self) -> type:
        import transformers

        return getattr(transformers, self.processor)


FAMILIES: Registry[Family] = Registry("model family")


def register_family(family: Family) -> Family:
    return FAMILIES.register(family.name)(family)


def family_for_type(model_type: str) -> Family | None:
    """The registered family with `model_type`, if any."""
    return next((f for f in FAMILIES.values() if model_type in f.model_types), None)


def base_model(model):
    """The transformers model under a peft wrapper or an adapter-disabled view."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def family_of(model) -> Family | None:
    """The family of a transformers model (or a peft-wrapped one), if registered."""
    return family_for_type(base_model(model).config.model_type)


def vision_parts() -> tuple[str, ...]:
    """The vision-side name parts of every registered family."""
    return tuple(dict.fromkeys(part for f in FAMILIES.values() for part in f.vision_parts))
