"""Models: an adapter over Hugging Face image-text-to-text models, and registered builders."""

from pebench.models.adapter import VLM, Encoded, load_vlm
from pebench.models.builders import MODEL_BUILDERS, build_model
from pebench.models import shipped, tiny_llava_next, tiny_qwen2_vl  # noqa: F401  (register the builders)

__all__ = ["VLM", "Encoded", "load_vlm", "MODEL_BUILDERS", "build_model"]
