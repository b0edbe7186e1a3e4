"""Where a chat template ends the assistant's turn, and generation stopping there.

Families end a turn differently: Qwen with `<|im_end|>`, Gemma with `<end_of_turn>` (while its
tokenizer's EOS is `<eos>`), SmolVLM with `<end_of_utterance>`, llava-hf's LLaVA with a space.
Labels end with the template's own turn end (`VLM.answer_ids`), and generation must stop at
that token: a checkpoint whose generation config does not list it would run past every answer,
so `stop_at_turn_end` adds it.
"""

from __future__ import annotations

from typing import Any

from pebench.core.errors import PebenchError
from pebench.core.progress import log
from pebench.models.family import base_model

PROBE_ANSWER = "Yes."


def turn_end_ids(vlm: Any) -> list[int]:
    """The token ids the chat template writes right after an answer (trailing whitespace
    left out): e.g. `[<|im_end|>]`, `[<end_of_turn>]`, or `[]` for a template that ends the turn
    with a space."""
    ids = vlm.templated_answer_ids("Is there a cat in the image?", PROBE_ANSWER)
    decode = lambda part: vlm.tokenizer.decode(part, skip_special_tokens=False).strip()  # noqa: E731
    cut = next((k for k in range(len(ids), -1, -1) if decode(ids[:k]) == PROBE_ANSWER), None)
    return [] if cut is None else ids[cut:]


def stop_at_turn_end(vlm: Any) -> None:
    """Add the template's turn-end token to the generation config's EOS ids where it is missing."""
    if not getattr(vlm.processor, "chat_template", None):
        return
    try:
        tail = turn_end_ids(vlm)
    except PebenchError:
        return  # a template that cannot continue its prompt: `answer_ids` says so when used
    special = set(vlm.tokenizer.all_special_ids)
    end = next((t for t in tail if t in special), None)
    if end is None or end in vlm.end_ids():
        return
    gen = base_model(vlm.model).generation_config
    ids = gen.eos_token_id
    gen.eos_token_id = [*(ids if isinstance(ids, (list, tuple)) else [] if ids is None else [ids]), end]
    log.info("generation stops at %r too: the chat template ends a turn with it", vlm.tokenizer.decode([end]))
