"""Helpers the `pebench` commands share."""

from __future__ import annotations

from typing import Optional


def comma_list(value: Optional[str]) -> Optional[tuple[str, ...]]:
    return None if value is None else tuple(v.strip() for v in value.split(",") if v.strip())


def nested_overrides(**pairs) -> dict:
    """Nested overrides from dotted keys, skipping unset (None) values."""
    out: dict = {}
    for dotted, value in pairs.items():
        if value is None:
            continue
        node = out
        *parents, leaf = dotted.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out
