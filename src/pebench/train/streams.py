"""Seeded, endless batch streams over pre-encoded examples.

An example is a dict of *views* (e.g. {"answer": Encoded, "refusal": Encoded}); a stream
yields, per step, one collated batch per view from the same drawn examples. A stream can
mix several pools in fixed per-batch shares (e.g. PEBench data plus replayed foundation
data). Under a multi-process launch every process draws the same examples and keeps its
share (every world_size-th), so together they see the single-process batch.
"""

from __future__ import annotations

import random
from typing import Callable, Iterator, Sequence

import torch

from pebench.core import distributed
from pebench.core.errors import PebenchError
from pebench.models.adapter import Encoded

Example = dict[str, Encoded]


class _Cycler:
    def __init__(self, items: Sequence[Example], rng: random.Random):
        self.items, self.rng, self.order = items, rng, []

    def take(self, n: int) -> list[Example]:
        out = []
        while len(out) < n:
            if not self.order:
                self.order = list(range(len(self.items)))
                self.rng.shuffle(self.order)
            out.append(self.items[self.order.pop()])
        return out


class Stream:
    """Yields dicts view -> collated batch; `parts` is a list of (examples, count per batch)."""

    def __init__(self, parts: list[tuple[Sequence[Example], int]], collate: Callable[[list[Encoded]], dict],
                 seed: str):
        parts = [(items, n) for items, n in parts if n > 0]
        if not parts or any(not items for items, _ in parts):
            raise PebenchError("a training stream has no examples (check the split and config sizes)")
        if sum(n for _, n in parts) < distributed.world_size():
            raise PebenchError(f"a batch of {sum(n for _, n in parts)} examples cannot be split across "
                               f"{distributed.world_size()} processes; raise the batch size")
        rng = random.Random(seed)
        self._parts = [(_Cycler(items, random.Random(rng.random())), n) for items, n in parts]
        self._collate = collate

    def __iter__(self) -> Iterator[dict[str, dict[str, torch.Tensor]]]:
        return self

    def __next__(self) -> dict[str, dict[str, torch.Tensor]]:
        drawn = distributed.shard([ex for cyc, n in self._parts for ex in cyc.take(n)])
        return {view: self._collate([ex[view] for ex in drawn]) for view in drawn[0]}
