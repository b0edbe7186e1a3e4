"""Models: an adapter over Hugging Face image-text-to-text models, and registered builders."""

from pebench.models.adapter import VLM, Encoded
from pebench.models.loading import load_vlm
from pebench.models.builders import MODEL_BUILDERS, build_model
from pebench.models import families, shipped  # noqa: F401  (register the families and builders)

__all__ = ["VLM", "Encoded", "load_vlm", "MODEL_BUILDERS", "build_model"]
