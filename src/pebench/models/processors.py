"""Processor loading, including image-only Qwen2-VL / Qwen2.5-VL processors.

The stock Qwen2-VL processors also build a video processor, which needs torchvision. pebench
never feeds video, so where torchvision is missing (e.g. a CPU-only install) the same
processor is used without its video part; a GPU install with torchvision uses the stock one.
"""

from __future__ import annotations

from pathlib import Path

from transformers import AutoConfig, AutoProcessor, Qwen2_5_VLProcessor, Qwen2VLProcessor
from transformers.processing_utils import ProcessorMixin

from pebench.core.errors import PebenchError


class _ImageOnly:
    """Mixin: a Qwen-VL processor with the image processor and tokenizer only (no video)."""

    stock_name = ""

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        self.image_token = getattr(tokenizer, "image_token", None) or "<|image_pad|>"
        self.video_token = getattr(tokenizer, "video_token", None) or "<|video_pad|>"
        self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
        self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
        ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

    def to_dict(self) -> dict:
        # Saved under the stock class name, so a GPU install with torchvision loads it with AutoProcessor.
        out = super().to_dict()
        out["processor_class"] = self.stock_name
        return out


class ImageOnlyQwen2VLProcessor(_ImageOnly, Qwen2VLProcessor):
    stock_name = "Qwen2VLProcessor"


class ImageOnlyQwen2_5_VLProcessor(_ImageOnly, Qwen2_5_VLProcessor):
    stock_name = "Qwen2_5_VLProcessor"


IMAGE_ONLY = {"qwen2_vl": ImageOnlyQwen2VLProcessor, "qwen2_5_vl": ImageOnlyQwen2_5_VLProcessor}


def torchvision_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torchvision") is not None


def load_processor(path: str | Path, trust_remote_code: bool = False):
    """The processor saved in `path`: the stock AutoProcessor, or for Qwen-VL families without
    torchvision, the image-only variant. Raises PebenchError if neither loads."""
    model_type = AutoConfig.from_pretrained(path, local_files_only=True, trust_remote_code=trust_remote_code).model_type
    if model_type in IMAGE_ONLY and not torchvision_available():
        loader = IMAGE_ONLY[model_type].from_pretrained
    else:
        loader = AutoProcessor.from_pretrained
    try:
        return loader(path, local_files_only=True, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise PebenchError(f"cannot load the processor from {path}: {str(exc).splitlines()[0]}") from None
