"""Generated blocks in hand-written files: the text between a BEGIN and an END marker is
written by a script from what it states (a run's files, the CLI, the family registry, the
planner), and the script's `--check` fails, in the tests, when a file differs."""

from __future__ import annotations

import sys
from pathlib import Path

from pebench.core.io import write_text


def replace_block(text: str, begin: str, end: str, block: str, where: str | Path) -> str:
    """`text` with everything from `begin` to `end` (markers included) replaced by `block`."""
    if begin not in text or end not in text:
        raise SystemExit(f"error: {where} has no {begin!r} … {end!r} markers")
    head, rest = text.split(begin, 1)
    return head + block + rest.split(end, 1)[1]


def sync(expected: dict[Path, str], check: bool, how: str) -> int:
    """Write each file whose text differs from `expected`; with `check`, write nothing and
    fail (exit status 1, one `error:` line saying `how` to update them) if any differs."""
    stale = [path for path, text in expected.items() if path.read_text(encoding="utf-8") != text]
    if check:
        if stale:
            print(f"error: {', '.join(p.name for p in stale)} differ from what they state ({how})", file=sys.stderr)
            return 1
        return 0
    for path in stale:
        write_text(path, expected[path])
        print(f"wrote {path}")
    return 0
