"""Processor loading, with image-only variants of the processors that also build a video (or
audio) part.

The stock processors of Qwen2-VL, Qwen2.5-VL, Qwen3-VL / Qwen3.5, InternVL, LLaVA-OneVision,
SmolVLM and Gemma 4 build a video processor, which needs torchvision (Gemma 4 an audio feature
extractor too). pebench never feeds video or audio, so where torchvision is missing (a CPU-only
install) `image_only(stock)` gives the same processor without those parts; a GPU install with
torchvision uses the stock one. Which families need it is one of their facts
(`pebench.models.families`).
"""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

from transformers import AutoConfig, AutoProcessor
from transformers.processing_utils import ProcessorMixin

from pebench.core.errors import PebenchError

ABSENT_PARTS = ("video_processor", "feature_extractor")
_IMAGE_ONLY: dict[type, type] = {}


class _DropAbsentParts(ProcessorMixin):
    """Sits between a stock processor and ProcessorMixin in the method order: the stock
    `__init__` passes its video part (None here) on, and this drops it before ProcessorMixin
    checks the parts against the image-only class's (image processor and tokenizer)."""

    def __init__(self, *args, **kwargs):
        args = tuple(a for a in args if a is not None)
        kwargs = {k: v for k, v in kwargs.items() if not (k in ABSENT_PARTS and v is None)}
        ProcessorMixin.__init__(self, *args, **kwargs)


class NoVideo:
    """Stands in for the absent video processor where a stock processor reads its defaults
    while rendering a chat template (SmolVLM: frames and fps, unused without a video)."""

    num_frames = None
    fps = None


def _init_without(stock: type, absent: list[str]):
    """An `__init__` with `stock.__init__`'s named parameters but the `absent` parts, calling it
    with those parts None. Written out (not `*args, **kwargs`): ProcessorMixin reads the parts
    from its signature, and saves and reloads the settings its code names (image_seq_length, ...)."""
    params = [p for name, p in inspect.signature(stock.__init__).parameters.items()
              if name != "self" and name not in absent and p.kind is p.POSITIONAL_OR_KEYWORD]
    defaults = {p.name: None if p.default is p.empty else p.default for p in params}
    names = [p.name for p in params]
    source = (f"def __init__(self, {''.join(f'{n}=_defaults[{n!r}], ' for n in names)}**kwargs):\n"
              f"    _stock.__init__(self, {''.join(f'{n}={n}, ' for n in names)}"
              f"{''.join(f'{a}=None, ' for a in absent)}**kwargs)\n")
    scope = {"_defaults": defaults, "_stock": stock}
    exec(source, scope)  # noqa: S102 - source built from the stock signature's parameter names only
    return scope["__init__"]


def image_only(stock: type) -> type:
    """`stock`'s processor class without its video / audio parts, saved under the stock class
    name (so a torchvision install loads what this one saves with AutoProcessor)."""
    if stock in _IMAGE_ONLY:
        return _IMAGE_ONLY[stock]
    absent = [p for p in ABSENT_PARTS if p in inspect.signature(stock.__init__).parameters]
    __init__ = _init_without(stock, absent)

    def to_dict(self) -> dict:
        out = stock.to_dict(self)
        out["processor_class"] = stock.__name__
        return out

    body = {"__init__": __init__, "to_dict": to_dict}
    if "video_processor" in absent:
        body["video_processor"] = NoVideo()
    cls = type(f"ImageOnly{stock.__name__}", (stock, _DropAbsentParts), body)
    _IMAGE_ONLY[stock] = cls
    return cls


def torchvision_available() -> bool:
    return importlib.util.find_spec("torchvision") is not None


def processor_class(stock: type) -> type:
    """The class to build a `stock` processor with here: itself where torchvision is installed
    or it has no video part, else its image-only variant."""
    needs = any(p in inspect.signature(stock.__init__).parameters for p in ABSENT_PARTS)
    return image_only(stock) if needs and not torchvision_available() else stock


def load_processor(path: str | Path, trust_remote_code: bool = False):
    """The processor saved in `path`: the stock AutoProcessor, or for a family whose processor
    has a video part, without torchvision, its image-only variant. Raises PebenchError if
    neither loads."""
    from pebench.models.family import family_for_type

    model_type = AutoConfig.from_pretrained(path, local_files_only=True, trust_remote_code=trust_remote_code).model_type
    family = family_for_type(model_type)
    if family is not None and family.processor is not None:
        loader = processor_class(family.processor_class()).from_pretrained
    else:
        loader = AutoProcessor.from_pretrained
    try:
        return loader(path, local_files_only=True, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise PebenchError(f"cannot load the processor from {path}: {str(exc).splitlines()[0]}") from None
