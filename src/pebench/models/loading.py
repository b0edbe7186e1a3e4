"""Loading a saved model directory: safetensors only unless asked, nothing downloaded."""

from __future__ import annotations

from pathlib import Path

import torch

from pebench.core.errors import PebenchError
from pebench.models.adapter import VLM


def check_model_dir(path: Path, allow_pickle: bool = False) -> bool:
    """Raise a PebenchError unless `path` is a model directory pebench may load; returns
    whether its weights are safetensors."""
    if not path.is_dir():
        raise PebenchError(f"model directory {path} does not exist")
    safetensors = any(path.glob("*.safetensors"))
    if not safetensors and not allow_pickle:
        raise PebenchError(f"model directory {path} has no .safetensors weights; pickle checkpoints are refused "
                           "(set model.allow_pickle: true only for a checkpoint you trust)")
    return safetensors


def load_vlm(path: str | Path, trust_remote_code: bool = False, dtype: torch.dtype | None = None,
             allow_pickle: bool = False) -> VLM:
    """Load a saved model directory with AutoModelForImageTextToText / AutoProcessor.

    Only safetensors weights are accepted unless `allow_pickle` (a pickle checkpoint can run
    arbitrary code when loaded: only for files you trust); nothing is downloaded.
    """
    from transformers import AutoModelForImageTextToText

    from pebench.models.processors import load_processor

    path = Path(path)
    safetensors = check_model_dir(path, allow_pickle)
    try:
        model = AutoModelForImageTextToText.from_pretrained(
            path, local_files_only=True, use_safetensors=safetensors, trust_remote_code=trust_remote_code,
            **({"dtype": dtype} if dtype else {}))
    except (OSError, ValueError) as exc:
        raise PebenchError(f"cannot load model from {path}: {str(exc).splitlines()[0]}") from None
    return VLM(model, load_processor(path, trust_remote_code))
