"""Greedy generation that runs each image's prompt prefix once for every question asked of it.

With an image-first chat template (LLaVA's `USER: <image>\\n{question} ASSISTANT:`) all prompts
about one image begin with the same tokens: the template's opening and the image's tokens. A
batch here runs that prefix once per distinct image (vision tower, projector and the language
model over the image tokens), copies its KV cache to each question of that image
(`Cache.batch_select_indices`), and generates from the question tokens on. The question tokens
follow the prefix after masked padding (padding in the middle, not on the left); generation
takes positions from the attention mask, so each question sees exactly the positions and
context of the left-padded batch and the answers are the same (tested).

Only families with an image-first template and 1-D positions share prefixes (their fact
`shares_prefix`); Qwen-VL's M-RoPE keeps per-batch position offsets from the prefill, and
Gemma's image tokens attend to each other both ways (token types), so those take the plain
left-padded path, as does a batch in which every image is asked once.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

import torch
import transformers.generation.utils as generation_utils

from pebench.models.encoded import Encoded
from pebench.models.family import family_of


class VLM(Protocol):
    """What generation needs of `pebench.models.adapter.VLM` (named here, not imported: the
    adapter imports this module)."""

    model: Any
    tokenizer: Any
    device: torch.device

    def to_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]: ...

# transformers renamed generate's `past_key_values` to `cache` (the old name warns until 6.0).
_CACHE_KWARG = "cache" if "cache" in getattr(generation_utils, "ALL_CACHE_NAMES", ()) else "past_key_values"


def shares_prefixes(model) -> bool:
    """Whether `model`'s family can share an image's prompt prefix between questions."""
    family = family_of(model)
    return family is not None and family.shares_prefix


def _common_prefix(seqs: Sequence[Sequence[int]]) -> int:
    first, n = seqs[0], min(len(s) for s in seqs)
    return next((i for i in range(n) if any(s[i] != first[i] for s in seqs)), n)


def shared_prefix_length(vlm: VLM, items: Sequence[Encoded]) -> int:
    """Tokens every prompt of `items` shares, image tokens included; 0 when there is nothing to
    share (every image asked once: a separate prefill would only add a call) or it cannot be
    shared (another family, an image token after the shared part, a prompt with nothing after it)."""
    keys = [e.image_key for e in items]
    if None in keys or len(set(keys)) == len(items):  # a text-only prompt, or no image asked twice
        return 0
    config = vlm.model.config
    image_token = getattr(config, "image_token_id", getattr(config, "image_token_index", None))
    if not shares_prefixes(vlm.model) or image_token is None or items[0].token_types is not None:
        return 0
    length = _common_prefix([e.input_ids for e in items])
    length = min(length, min(len(e.input_ids) for e in items) - 1)  # generation needs one uncached token
    if length <= 0 or any(image_token in e.input_ids[length:] for e in items):
        return 0
    return length


@torch.inference_mode()
def generate_shared(vlm: VLM, items: Sequence[Encoded], prefix: int, max_new_tokens: int) -> list[str]:
    """Greedy answers for `items` (prompt-only), running the `prefix` tokens once per distinct image.

    Items show the same image when they carry the same `image_key`."""
    keys = [e.image_key for e in items]
    images = list(dict.fromkeys(keys))
    first = {k: items[keys.index(k)] for k in images}
    prefix_ids = torch.tensor([first[k].input_ids[:prefix] for k in images])
    vision = {name: torch.cat([first[k].vision[name] for k in images]) for name in items[0].vision}
    prefill = vlm.model(**vlm.to_device({"input_ids": prefix_ids, "attention_mask": torch.ones_like(prefix_ids), **vision}),
                        use_cache=True)
    cache = getattr(prefill, "cache", None) or prefill.past_key_values
    row = {k: r for r, k in enumerate(images)}
    cache.batch_select_indices(torch.tensor([row[k] for k in keys], device=vlm.device))
    width = max(len(e.input_ids) for e in items) - prefix
    pad = vlm.tokenizer.pad_token_id
    ids, mask = [], []
    for e in items:
        question, gap = e.input_ids[prefix:], width - (len(e.input_ids) - prefix)
        ids.append(e.input_ids[:prefix] + [pad] * gap + question)
        mask.append([1] * prefix + [0] * gap + [1] * len(question))
    ids_t = torch.tensor(ids, device=vlm.device)
    gen = vlm.model.generate(input_ids=ids_t, attention_mask=torch.tensor(mask, device=vlm.device),
                             max_new_tokens=max_new_tokens, do_sample=False, num_beams=1, pad_token_id=pad,
                             **{_CACHE_KWARG: cache})
    return [t.strip() for t in vlm.tokenizer.batch_decode(gen[:, ids_t.shape[1]:], skip_special_tokens=True)]
