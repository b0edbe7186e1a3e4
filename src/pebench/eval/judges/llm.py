"""The `llm` judge: G-Eval style scoring by any OpenAI-compatible chat endpoint (vLLM,
OpenAI, llama.cpp server, ...).

For each answer the judge is shown the true event (name, description, keywords) and the
answer, and asked for an integer 1-5; the score is (n − 1) / 4. Requests run with a
concurrency limit and retry with exponential back-off; every judgement is cached in
`cache_dir/llm-judge.jsonl` under a hash of (model, prompt), so a rerun asks nothing twice.
If the endpoint stays unreachable the judge raises a PebenchError and the evaluation that
needed it writes nothing. The API key is read from the environment only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

from pebench.config import EvalConfig, LLMJudgeConfig
from pebench.core.errors import PebenchError
from pebench.data.events import Event
from pebench.eval.judges import JUDGES

SYSTEM = ("You are a strict evaluator of image descriptions. You rate how well a description of a picture "
          "matches a known event. Reply with a single integer from 1 to 5 and nothing else.")
PROMPT = """Event: {name}
Reference description: {description}
Key elements: {keywords}

Evaluation steps:
1. Read the description below and note which key elements of the event it mentions.
2. Check that it describes this event rather than a different scene.
3. Rate from 1 (does not describe this event at all) to 5 (clearly and specifically this event).

Description to rate: {answer}

Score (1-5):"""
_SCORE = re.compile(r"[1-5]")


def judge_prompt(answer: str, event: Event) -> str:
    """The user message the judge model sees for one answer."""
    return PROMPT.format(name=event.name, description=event.description, keywords=", ".join(event.keywords),
                         answer=answer.strip() or "(empty)")


def parse_score(text: str) -> float:
    """(n − 1) / 4 for the first digit 1-5 in the reply; PebenchError if there is none."""
    match = _SCORE.search(text)
    if not match:
        raise PebenchError(f"LLM judge reply has no score 1-5: {text[:80]!r}")
    return (int(match.group()) - 1) / 4


class JudgementCache:
    """Judgements by key, kept in a JSON-lines file appended one line per judgement.

    Appending whole lines keeps earlier judgements valid if the process dies; an incomplete
    last line is ignored on reading.
    """

    def __init__(self, path: Path | None):
        self.path = path
        self._lock = threading.Lock()
        self._items: dict[str, float] = {}
        if path and path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    self._items[row["key"]] = float(row["score"])
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue

    def get(self, key: str) -> float | None:
        return self._items.get(key)

    def put(self, key: str, score: float) -> None:
        with self._lock:
            self._items[key] = score
            if self.path:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps({"key": key, "score": score}) + "\n")


class ChatClient:
    """POSTs chat completions to an OpenAI-compatible endpoint with retries and back-off."""

    def __init__(self, cfg: LLMJudgeConfig):
        self.cfg = cfg

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.cfg.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def complete(self, system: str, user: str) -> str:
        """The assistant's reply text; PebenchError after the last retry fails."""
        body = json.dumps({"model": self.cfg.model, "temperature": 0, "max_tokens": 4,
                           "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]})
        url = f"{self.cfg.url}/chat/completions"
        delay, last = self.cfg.backoff_s, ""
        for attempt in range(self.cfg.retries + 1):
            if attempt:
                time.sleep(delay)
                delay *= 2
            request = urllib.request.Request(url, data=body.encode(), headers=self._headers(), method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.cfg.timeout_s) as response:
                    return json.loads(response.read())["choices"][0]["message"]["content"] or ""
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
                if exc.code in (400, 401, 403, 404):  # a request that cannot succeed on retry
                    break
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last = str(getattr(exc, "reason", exc))
            except (json.JSONDecodeError, KeyError, IndexError, TypeError):
                last = "malformed response"
        raise PebenchError(f"LLM judge endpoint {url} failed after {attempt + 1} tries: {last}")


@JUDGES.register("llm")
class LLMJudge:
    """G-Eval style judge against `eval.llm` (an OpenAI-compatible endpoint)."""

    def __init__(self, cfg: EvalConfig | None = None, cache_dir: Path | None = None) -> None:
        self.cfg = (cfg or EvalConfig()).llm
        self.client = ChatClient(self.cfg)
        self.cache = JudgementCache(cache_dir / "llm-judge.jsonl" if cache_dir else None)
        self.requests = 0

    def _key(self, prompt: str) -> str:
        return hashlib.sha256(json.dumps([self.cfg.model, SYSTEM, prompt]).encode()).hexdigest()

    def _judge(self, prompt: str) -> float:
        key = self._key(prompt)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        self.requests += 1
        score = parse_score(self.client.complete(SYSTEM, prompt))
        self.cache.put(key, score)
        return score

    def score(self, answers: Sequence[str], events: Sequence[Event]) -> list[float]:
        prompts = [judge_prompt(a, e) for a, e in zip(answers, events)]
        unique = list(dict.fromkeys(prompts))
        with ThreadPoolExecutor(max_workers=self.cfg.concurrency) as pool:
            scores = dict(zip(unique, pool.map(self._judge, unique)))
        return [scores[p] for p in prompts]
