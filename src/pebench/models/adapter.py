"""`VLM`: one interface over any Hugging Face image-text-to-text model and its processor.

It renders prompts with the model's own chat template, encodes (image, question, answer)
triples with loss on the answer tokens only, collates batches (right-padded for training,
left-padded for generation), runs batched KV-cached greedy generation, and computes
per-token log-probs of answers. The tiny default and a 7B LLaVA / Qwen2-VL go through the
same code.
"""

from __future__ import annotations

import functools
import inspect
import os
from pathlib import Path
from typing import Callable, Sequence

import torch
from PIL import Image

from pebench.core import distributed
from pebench.core.errors import PebenchError
from pebench.core.io import atomic_path
from pebench.models.encoded import Encoded
from pebench.models.family import base_model
from pebench.models.turns import stop_at_turn_end
from pebench.models.prefix_generation import generate_shared, shared_prefix_length, shares_prefixes

os.environ.setdefault("HF_HUB_OFFLINE", "1")


TOKEN_TYPE_KEYS = ("mm_token_type_ids", "token_type_ids")


@functools.lru_cache(maxsize=None)
def _types_key(model_class: type) -> str | None:
    params = inspect.signature(model_class.forward).parameters
    return next((k for k in TOKEN_TYPE_KEYS if k in params), None)


def _pad(seq: list[int], value: int, n: int, left: bool) -> list[int]:
    return [value] * n + seq if left else seq + [value] * n


class VLM:
    """A model + processor pair with the operations pebench needs."""

    # Passed to every chat template that reads them: hybrid thinking models (Qwen3.5) answer
    # directly, as the reference answers are written.
    TEMPLATE_KWARGS = {"enable_thinking": False}

    def __init__(self, model, processor):
        self.model = model
        self.processor = processor
        self.tokenizer = processor.tokenizer
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._prompt_cache: dict[tuple, tuple[list[int], list[int] | None]] = {}
        self._vision_cache: dict[str, dict[str, torch.Tensor]] = {}
        self._answer_cache: dict[tuple[str, str, bool], list[int]] = {}
        self.share_image_prefix = True  # off: every prompt runs whole (benchmarks/generation.py compares)
        stop_at_turn_end(self)

    def with_model(self, model) -> "VLM":
        """A VLM over `model` that shares this one's processor and encoding caches (the
        models of one run read the same images and questions, so each is encoded once)."""
        other = VLM(model, self.processor)
        other._prompt_cache, other._vision_cache, other._answer_cache = self._prompt_cache, self._vision_cache, self._answer_cache
        return other

    # ---- persistence -------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Save model (safetensors) and processor in HF format, atomically."""
        with atomic_path(path) as tmp:
            self.model.save_pretrained(tmp, safe_serialization=True)
            self.processor.save_pretrained(tmp)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # ---- text --------------------------------------------------------------------------
    def _messages(self, question: str, answer: str | None = None, image: bool = True) -> list[dict]:
        content = [{"type": "text", "text": question}]
        msgs = [{"role": "user", "content": [{"type": "image"}, *content] if image else content}]
        if answer is not None:
            msgs.append({"role": "assistant", "content": [{"type": "text", "text": answer}]})
        return msgs

    def _template_kwargs(self) -> dict:
        """TEMPLATE_KWARGS that the chat template reads (others would reach the processor)."""
        template = str(getattr(self.processor, "chat_template", "") or "")
        return {k: v for k, v in self.TEMPLATE_KWARGS.items() if k in template}

    def prompt_text(self, question: str, image: bool = True) -> str:
        """The chat-templated prompt for one image (or none) and `question`, ending where the answer starts."""
        return self.processor.apply_chat_template(self._messages(question, image=image), add_generation_prompt=True,
                                                  tokenize=False, **self._template_kwargs())

    def end_ids(self) -> set[int]:
        """Token ids that end an answer: the generation config's eos ids and the tokenizer's."""
        ids = getattr(getattr(base_model(self.model), "generation_config", None), "eos_token_id", None)
        ids = set(ids if isinstance(ids, (list, tuple)) else [] if ids is None else [ids])
        return ids | ({self.tokenizer.eos_token_id} if self.tokenizer.eos_token_id is not None else set())

    def templated_answer_ids(self, question: str, answer: str, image: bool = True) -> list[int]:
        """Token ids of `answer` and the turn end as the template continues the prompt.

        The answer is tokenised *in context* (the full templated text, minus the prompt's tokens),
        so a SentencePiece tokenizer gives the same ids as it does for the whole conversation."""
        prompt = self.prompt_text(question, image)
        full = self.processor.apply_chat_template(self._messages(question, answer, image), tokenize=False,
                                                  **self._template_kwargs())
        if not full.startswith(prompt):
            raise PebenchError("the chat template does not extend the generation prompt with the answer")
        encode = lambda text: self.tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
        prompt_ids, full_ids = encode(prompt), encode(full.rstrip())
        return full_ids[len(prompt_ids):] if full_ids[: len(prompt_ids)] == prompt_ids else encode(full[len(prompt):].rstrip())

    def answer_ids(self, question: str, answer: str, image: bool = True) -> list[int]:
        """`templated_answer_ids`, ending with a token generation stops at. Templates that end
        the assistant turn without one (llava-hf's LLaVA-1.5 / 1.6 end it with a space) get the
        EOS appended: else a model trained on these labels never learns to stop. Computed once
        per (question, answer, image) and shared by the run's models (`with_model`)."""
        key = (question, answer, image)
        if key not in self._answer_cache:
            self._answer_cache[key] = self._answer_ids(question, answer, image)
        return list(self._answer_cache[key])

    def _answer_ids(self, question: str, answer: str, image: bool) -> list[int]:
        ids = self.templated_answer_ids(question, answer, image)
        ends = self.end_ids()
        if ends and (not ids or ids[-1] not in ends):
            eos = self.tokenizer.eos_token_id
            ids = ids + [eos if eos is not None else min(ends)]
        return ids

    # ---- encoding ----------------------------------------------------------------------
    def _vision_and_prompt(self, image_id: str, image: Image.Image, question: str) -> tuple[dict, tuple]:
        vision = self._vision_cache.get(image_id)
        key = (question, image.size)
        prompt = self._prompt_cache.get(key)
        if vision is None or prompt is None:
            enc = self._process(self.prompt_text(question), [image])
            prompt = (enc["input_ids"][0].tolist(), self._types(enc))
            vision = {k: v for k, v in enc.items() if k not in ("input_ids", "attention_mask", *TOKEN_TYPE_KEYS)}
            self._vision_cache[image_id] = vision
            self._prompt_cache[key] = prompt
        return vision, prompt

    def _text_prompt(self, question: str) -> tuple[list[int], list[int] | None]:
        key = (question, None)
        if key not in self._prompt_cache:
            enc = self._process(self.prompt_text(question, image=False))
            self._prompt_cache[key] = (enc["input_ids"][0].tolist(), self._types(enc))
        return self._prompt_cache[key]

    def _process(self, prompt: str, images: list | None = None):
        """The processor's tensors for one templated prompt; a template that writes the BOS
        itself (Gemma's) is tokenised without a second one."""
        bos = self.tokenizer.bos_token
        kwargs = {"add_special_tokens": False} if bos and prompt.startswith(bos) else {}
        return self.processor(**({"images": images} if images else {}), text=[prompt], return_tensors="pt", **kwargs)

    @property
    def types_key(self) -> str | None:
        """The name under which the model reads per-token modality ids (Qwen-VL, Gemma 4:
        `mm_token_type_ids`; Gemma 3: `token_type_ids`, image tokens attending both ways)."""
        return _types_key(type(base_model(self.model)))

    def _types(self, enc) -> list[int] | None:
        """Per-token modality ids of a processed prompt, where the model reads them (the
        processor may name them either way)."""
        value = next((enc[k] for k in TOKEN_TYPE_KEYS if k in enc), None)
        return None if value is None or self.types_key is None else value[0].tolist()

    def encode(self, image_id: str, image: Image.Image | None, question: str, answer: str | None = None) -> Encoded:
        """Encode one example (`image` None: a text-only prompt, no vision tensors); vision
        tensors and prompt ids are computed once and cached."""
        if image is None:
            vision, (prompt_ids, types) = {}, self._text_prompt(question)
        else:
            vision, (prompt_ids, types) = self._vision_and_prompt(image_id, image, question)
        ans = self.answer_ids(question, answer, image is not None) if answer is not None else []
        return Encoded(prompt_ids + ans, [-100] * len(prompt_ids) + ans, vision,
                       None if types is None else types + [0] * len(ans), image_id if image is not None else None)

    def collate(self, items: Sequence[Encoded], left_pad: bool = False) -> dict[str, torch.Tensor]:
        """Pad a list of Encoded into a model batch (labels padded with -100)."""
        width = max(len(e.input_ids) for e in items)
        pad = self.tokenizer.pad_token_id
        ids, mask, labels = [], [], []
        for e in items:
            n = width - len(e.input_ids)
            ids.append(_pad(e.input_ids, pad, n, left_pad))
            mask.append(_pad([1] * len(e.input_ids), 0, n, left_pad))
            labels.append(_pad(e.labels, -100, n, left_pad))
        batch = {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask), "labels": torch.tensor(labels)}
        if items[0].token_types is not None:
            batch[self.types_key] = torch.tensor(
                [_pad(e.token_types, 0, width - len(e.token_types), left_pad) for e in items])
        for key in dict.fromkeys(k for e in items for k in e.vision):  # text-only items add no pixels
            batch[key] = torch.cat([e.vision[key] for e in items if key in e.vision], dim=0)
        return batch

    # ---- model calls -------------------------------------------------------------------
    @property
    def _keeps_logits(self) -> bool:
        """Whether the model's forward takes `logits_to_keep` (every transformers 5 VLM does)."""
        return "logits_to_keep" in inspect.signature(base_model(self.model).forward).parameters

    def to_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The batch on the model's device, floating tensors (pixels) in the model's dtype."""
        param = next(self.model.parameters())
        return {k: v.to(param.device, dtype=param.dtype) if v.is_floating_point() else v.to(param.device)
                for k, v in batch.items()}

    def answer_logits(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits [N, V], targets [N], mask [B, T-1]) at the N positions that predict an answer token.

        The vocabulary projection runs only at those positions (`logits_to_keep` as a boolean
        mask): prompt and image positions are most of a sequence and need no logits."""
        batch = self.to_device(batch)
        labels = batch.pop("labels")
        targets = labels[:, 1:]
        mask = targets != -100
        if self._keeps_logits:
            keep = torch.nn.functional.pad(mask, (0, 1))  # position t predicts token t + 1
            logits = self.model(**batch, logits_to_keep=keep).logits
        else:
            logits = self.model(**batch).logits[:, :-1][mask]
        return logits.float(), targets[mask], mask

    def nll(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean negative log-likelihood over the answer tokens of `batch` (under a multi-process
        launch: normalised by the mean token count per process, so averaged gradients are those
        of the whole batch's token mean)."""
        logits, targets, mask = self.answer_logits(batch)
        total = torch.nn.functional.cross_entropy(logits, targets, reduction="sum")
        per_process = distributed.items_per_process(mask.sum())
        return total / (mask.sum().clamp(min=1) if per_process is None else per_process)

    def token_logprobs(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-token log-probs of the labelled tokens.

        Returns (logps [B, T-1], mask [B, T-1], logits [B, T-1, V]) aligned with next-token
        targets; positions outside the answer have mask 0, log-prob 0 and logits 0.
        """
        answer_logits, targets, mask = self.answer_logits(batch)
        answer_logps = torch.log_softmax(answer_logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        logps = answer_logps.new_zeros(mask.shape).masked_scatter(mask, answer_logps)
        logits = answer_logits.new_zeros((*mask.shape, answer_logits.shape[-1]))
        logits = logits.masked_scatter(mask.unsqueeze(-1), answer_logits)
        return logps, mask, logits

    def sequence_logprob(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Sum of answer-token log-probs per example [B]."""
        logps, _, _ = self.token_logprobs(batch)
        return logps.sum(-1)

    @torch.inference_mode()
    def generate(self, items: Sequence[Encoded], max_new_tokens: int, batch_size: int = 64,
                 on_batch: Callable[[int], None] | None = None) -> list[str]:
        """Greedy answers for prompt-only Encoded items, batched (KV cache on).

        Families with an image-first template run each image's prompt prefix once per batch for
        all its questions (`prefix_generation`); others are left-padded. Under a multi-process
        launch the batches (the same ones a single process forms) are dealt out across processes
        and every process returns all answers."""
        was_training = self.model.training
        self.model.eval()
        if self._shares_prefixes:  # questions of one image side by side
            order = sorted(range(len(items)), key=lambda i: (items[i].image_key or f"#{i}", len(items[i].input_ids)))
        else:
            order = sorted(range(len(items)), key=lambda i: len(items[i].input_ids))  # less padding
        answers: dict[int, str] = {}
        batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        for idx in distributed.shard(batches):
            answers.update(zip(idx, self._generate_batch([items[i] for i in idx], max_new_tokens)))
            if on_batch:
                on_batch(len(idx) * distributed.world_size())
        if distributed.world_size() > 1:
            answers = {k: v for part in distributed.gather(answers) for k, v in part.items()}
        out = [answers[i] for i in range(len(items))]
        self.model.train(was_training)
        return out

    @property
    def _shares_prefixes(self) -> bool:
        return self.share_image_prefix and shares_prefixes(self.model)

    def _generate_batch(self, items: Sequence[Encoded], max_new_tokens: int) -> list[str]:
        prefix = shared_prefix_length(self, items) if self._shares_prefixes else 0
        if prefix:
            return generate_shared(self, items, prefix, max_new_tokens)
        batch = self.to_device(self.collate(items, left_pad=True))
        batch.pop("labels")
        gen = self.model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                  pad_token_id=self.tokenizer.pad_token_id)
        return [t.strip() for t in self.tokenizer.batch_decode(gen[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)]
