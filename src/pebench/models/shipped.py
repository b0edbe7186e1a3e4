"""The pretrained tiny base shipped inside the package (`model.name: tiny-base`, the default).

`pebench pretrain` trains it (an hour on 2 CPU cores); `ship_base` stores the result here in
float16 with a SHA-256 checksum per file, and `load_shipped_base` checks every checksum before
loading it through the same code as any local Hugging Face directory (`--model DIR`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from pebench.config import ModelConfig
from pebench.core.errors import PebenchError
from pebench.core.io import atomic_path
from pebench.models.adapter import VLM
from pebench.models.loading import load_vlm
from pebench.models.builders import MODEL_BUILDERS, place

BASE_DIR = Path(__file__).resolve().parent.parent / "assets" / "tiny-base"
CHECKSUMS = "SHA256SUMS"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify_base(path: Path = BASE_DIR) -> str:
    """Check every file against SHA256SUMS; returns the checksum of SHA256SUMS itself (the base's id)."""
    sums = path / CHECKSUMS
    if not sums.is_file():
        raise PebenchError(f"the shipped base is missing ({sums} not found); reinstall pebench")
    for line in sums.read_text(encoding="utf-8").splitlines():
        digest, name = line.split(maxsplit=1)
        file = path / name
        if not file.is_file() or _sha256(file) != digest:
            raise PebenchError(f"the shipped base is corrupt: {file} does not match its checksum; reinstall pebench")
    return _sha256(sums)


def ship_base(model_dir: Path, dest: Path = BASE_DIR) -> Path:
    """Store a pretrained model directory as the shipped base: float16 weights, checksums."""
    vlm = load_vlm(model_dir)
    vlm.model.to(torch.float16)
    with atomic_path(dest) as tmp:
        vlm.save(tmp)
        record = Path(model_dir) / "pretrain.json"
        if record.is_file():
            data = json.loads(record.read_text(encoding="utf-8"))
            data.pop("history", None)  # the loss curve stays with the pretraining run
            (tmp / "pretrain.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        lines = [f"{_sha256(f)}  {f.name}" for f in sorted(tmp.iterdir()) if f.is_file()]
        (tmp / CHECKSUMS).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dest


@MODEL_BUILDERS.register("tiny-base")
def load_shipped_base(cfg: ModelConfig, corpus: list[str], seed: int) -> VLM:
    """The shipped pretrained tiny LLaVA (float16 on disk, loaded in `cfg.dtype`)."""
    verify_base()
    return place(load_vlm(BASE_DIR, dtype=getattr(torch, cfg.dtype)), cfg)


load_shipped_base.pretrained = True  # type: ignore[attr-defined]  # no foundation stage: it arrives pretrained


def base_fingerprint(cfg: ModelConfig) -> str:
    """What a pretrained starting point's cached stages depend on: the shipped base's checksum,
    or a content fingerprint of the local checkpoint directory."""
    from pebench.core.io import dir_fingerprint

    return dir_fingerprint(cfg.path) if cfg.path else verify_base()
