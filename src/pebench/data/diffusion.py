"""The `flux` renderer: photoreal images from a local diffusers text-to-image pipeline (Flux as
in the paper: 40 steps, guidance 2.5, true CFG 3.5, 512 px), seeded per image, plus an identity
check that re-renders images in which a person does not look like their other images.

The identity check embeds each image of a person with a local CLIP model and compares it with
the mean embedding of that person's other images; images below `verify_threshold` are
rendered again with the next seed, up to `max_attempts` renders per image. What remains
failing is recorded in the dataset's build.json (`source.identity_check`).
"""

from __future__ import annotations

import hashlib
import io
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from pebench.config import DataConfig, DiffusionConfig
from pebench.core.errors import PebenchError
from pebench.data.render import RENDERERS, SceneSpec

if TYPE_CHECKING:  # torch is imported where it is used, so registering this renderer stays cheap
    import torch


def image_seed(spec: SceneSpec, attempt: int) -> int:
    """A 63-bit generator seed from the image's seed string and the attempt number."""
    return int.from_bytes(hashlib.sha256(f"{spec.seed}:{attempt}".encode()).digest()[:8], "big") >> 1


def identity_outliers(embeddings: dict[int, torch.Tensor], threshold: float) -> dict[int, list[int]]:
    """Per person (key: [n, d] image embeddings), the rows whose cosine similarity to the mean
    of the person's *other* images is below `threshold`. A person with one image has none."""
    import torch

    out: dict[int, list[int]] = {}
    for person, emb in embeddings.items():
        if len(emb) < 2:
            continue
        emb = torch.nn.functional.normalize(emb.float(), dim=-1)
        others = (emb.sum(0, keepdim=True) - emb) / (len(emb) - 1)
        sims = torch.nn.functional.cosine_similarity(emb, others, dim=-1)
        bad = [i for i, s in enumerate(sims.tolist()) if s < threshold]
        if bad:
            out[person] = bad
    return out


class ClipIdentity:
    """Image embeddings from a local CLIP model directory (safetensors only, nothing downloaded)."""

    def __init__(self, path: str | Path, device: "torch.device"):
        from transformers import CLIPModel

        try:
            from transformers import CLIPImageProcessorPil as Processor
        except ImportError:  # pragma: no cover - transformers 4.x
            from transformers import CLIPImageProcessor as Processor
        try:
            self.model = CLIPModel.from_pretrained(path, local_files_only=True, use_safetensors=True).to(device).eval()
            self.processor = Processor.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise PebenchError(f"cannot load the identity-check model from {path}: {str(exc).splitlines()[0]}") from None
        self.device = device

    def embed(self, images: list[Image.Image]) -> "torch.Tensor":
        import torch

        pixels = self.processor(images=images, return_tensors="pt")["pixel_values"].to(self.device)
        with torch.inference_mode():
            out = self.model.get_image_features(pixel_values=pixels)
        return (out if isinstance(out, torch.Tensor) else out.pooler_output).float().cpu().clone()


class FluxRenderer:
    """Renders SceneSpec prompts with a diffusers pipeline; `verify_and_regenerate` runs the identity check."""

    def __init__(self, cfg: DiffusionConfig):
        if not cfg.model:
            raise PebenchError("renderer flux needs data.diffusion.model: a local diffusers pipeline directory")
        if cfg.verify and not cfg.verify_model:
            raise PebenchError("data.diffusion.verify needs data.diffusion.verify_model (a local CLIP directory), "
                               "or set verify: false")
        self.cfg, self.batch_size = cfg, cfg.batch_size
        from pebench.core import distributed

        self.device = distributed.device(cfg.device)
        self._pipe = None

    @property
    def pipe(self):
        if self._pipe is None:
            import torch

            try:
                from diffusers import DiffusionPipeline
            except ImportError:
                raise PebenchError("renderer flux needs diffusers: pip install 'pebench[diffusion]'") from None

            try:
                self._pipe = DiffusionPipeline.from_pretrained(self.cfg.model, local_files_only=True, use_safetensors=True,
                                                               torch_dtype=getattr(torch, self.cfg.dtype))
            except (OSError, ValueError) as exc:
                raise PebenchError(f"cannot load the diffusion pipeline from {self.cfg.model}: "
                                   f"{str(exc).splitlines()[0]}") from None
            self._pipe.to(self.device)
            self._pipe.set_progress_bar_config(disable=True)
        return self._pipe

    def render_many(self, specs: list[SceneSpec], size: int, attempt: int = 0) -> list[Image.Image]:
        """One image per spec (seeded by spec and attempt, so a batch gives what one-by-one gives)."""
        import torch

        cfg = self.cfg
        generators = [torch.Generator("cpu").manual_seed(image_seed(s, attempt)) for s in specs]
        out = self.pipe(prompt=[s.prompt for s in specs], negative_prompt=[cfg.negative_prompt] * len(specs),
                        num_inference_steps=cfg.steps, guidance_scale=cfg.guidance, true_cfg_scale=cfg.true_gs,
                        height=size, width=size, max_sequence_length=cfg.max_sequence_length, generator=generators)
        return [img.convert("RGB") for img in out.images]

    def __call__(self, spec: SceneSpec, size: int) -> Image.Image:
        return self.render_many([spec], size)[0]

    def verify_and_regenerate(self, specs: list[SceneSpec], pngs: list[bytes], size: int) -> dict:
        """Re-render (in place in `pngs`) images whose person is not recognisable; returns a summary."""
        from pebench.data.render import png_bytes

        cfg = self.cfg
        if not cfg.verify:
            return {"verified": False}
        checker = ClipIdentity(cfg.verify_model, self.device)
        rows = defaultdict(list)
        for i, spec in enumerate(specs):
            if spec.person_id >= 0:
                rows[spec.person_id].append(i)
        embeddings = {p: checker.embed([Image.open(io.BytesIO(pngs[i])) for i in idx]) for p, idx in rows.items()}
        regenerated: set[int] = set()
        failing: list[int] = []
        for attempt in range(1, cfg.max_attempts + 1):
            failing = sorted(rows[p][j] for p, bad in identity_outliers(embeddings, cfg.verify_threshold).items() for j in bad)
            if not failing or attempt == cfg.max_attempts:
                break
            for start in range(0, len(failing), self.batch_size):
                part = failing[start : start + self.batch_size]
                images = self.render_many([specs[i] for i in part], size, attempt)
                new = checker.embed(images)
                for i, img, e in zip(part, images, new):
                    pngs[i] = png_bytes(img)
                    p = specs[i].person_id
                    embeddings[p][rows[p].index(i)] = e
                regenerated.update(part)
        return {"verified": True, "checked": sum(len(v) for v in rows.values()), "regenerated": len(regenerated),
                "failed": [specs[i].seed.split(":", 1)[1] for i in failing], "threshold": cfg.verify_threshold,
                "max_attempts": cfg.max_attempts}


@RENDERERS.register("flux")
def flux(cfg: DataConfig) -> FluxRenderer:
    """A diffusion renderer over `cfg.diffusion` (Flux or any diffusers text-to-image pipeline)."""
    return FluxRenderer(cfg.diffusion)
