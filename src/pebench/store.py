"""The stage store: finished stages shared by every run directory, addressed by content.

A stage (a trained model, an evaluation, a row's probes, a sequential probe) is stored once
under its content key (`run_support.content_key`: the config values, pebench version and input
stage keys it depends on and the source of the code that computes it), so a run in a new
directory reuses every stage another run finished, and a changed input or code misses:

    datasets/<key>/      a rendered dataset (datasets files and build.json)
    models/<key>/        a model or LoRA adapter directory (safetensors) with its stage.json
    stages/<key>.json    an evaluation or probe record
    samples/<key>.jsonl  an evaluation's per-sample answers and scores

The store lives at `$PEBENCH_CACHE` (default `$XDG_CACHE_HOME/pebench`, else `~/.cache/pebench`;
`pebench run --cache DIR` or `--no-cache`). A run directory keeps its results, report and its
own copies of evaluations and samples (small), and links `dataset` and `models/<name>` into the
store.

Writes are atomic (written beside their place, then renamed), so a killed run leaves no half
stage. A stage being computed is locked (`locks/<key>.lock`, an exclusive `fcntl.flock`): a
second run that needs it waits, then reads it, so concurrent runs sharing a store never compute
one stage twice or read half of one. Locks are advisory and per machine (POSIX); a shared network
file system must support `flock`.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from pebench.errors import PebenchError
from pebench.io import read_json, write_json, write_text

KINDS = ("datasets", "models", "stages", "samples")


def default_root() -> Path:
    """`$PEBENCH_CACHE`, else the user cache directory's `pebench`."""
    if os.environ.get("PEBENCH_CACHE"):
        return Path(os.environ["PEBENCH_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pebench"


@dataclass(frozen=True)
class Entry:
    """One stored stage: its kind (datasets, models, stages, samples), key, size in bytes, last
    use, and what it is (the run directory's name for it: `finetuned`, `person/GA`)."""

    kind: str
    key: str
    bytes: int
    mtime: float
    path: Path
    label: str = ""


def _label(kind: str, path: Path) -> str:
    """What a stored stage is, from its own files (empty if they do not say)."""
    meta = {"datasets": path / "build.json", "models": path / "stage.json", "stages": path}.get(kind)
    try:
        stored = read_json(meta) if meta is not None and meta.is_file() else {}
    except PebenchError:
        return ""
    if kind == "datasets":
        return f"dataset, {stored.get('counts', {}).get('images', '?')} images"
    return stored.get("name") or stored.get("label") or ""


def _run_name(path: Path) -> str:
    """A record's name in its run directory: its path under `stages/` (`person/GA`,
    `seed-1/person/goal`), else its file name."""
    parts = path.with_suffix("").parts
    return "/".join(parts[parts.index("stages") + 1 :]) if "stages" in parts else path.stem


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


class StageStore:
    """A content-addressed store of stages at `root` (None: no store; every call is a miss)."""

    def __init__(self, root: Path | None, locking: bool = True):
        """`locking` False: `lock` is a no-op (the processes of one multi-process launch compute
        each stage together, so none may wait for another's lock)."""
        self.root = None if root is None else Path(root)
        self.locking = locking
        if self.root is not None:
            try:
                for kind in (*KINDS, "locks"):
                    (self.root / kind).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise PebenchError(f"cannot use the stage store {self.root}: {exc.strerror or exc}") from None

    @contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Hold the stage `key` exclusively (waits while another process holds it)."""
        if self.root is None or not self.locking:
            yield
            return
        with open(self.root / "locks" / f"{key}.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def remove_temporaries(self, key: str) -> None:
        """Delete what a killed write of stage `key` left (`.<key>...tmp` / `.old`); call it holding
        the stage's lock, which every write of the stage holds."""
        for kind in KINDS if self.root is not None and self.locking else ():
            for path in (self.root / kind).glob(f".{key}.*"):
                if path.name.endswith((".tmp", ".old")):
                    shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)

    # ---- datasets and models -------------------------------------------------------------
    def dataset_dir(self, key: str) -> Path | None:
        """Where dataset stage `key` is (or goes); None without a store."""
        return None if self.root is None else self.root / "datasets" / key

    def model_dir(self, key: str) -> Path | None:
        """Where model stage `key` is (or goes); None without a store."""
        return None if self.root is None else self.root / "models" / key

    def has_model(self, key: str) -> bool:
        path = self.model_dir(key)
        meta = None if path is None else path / "stage.json"
        if meta is None or not meta.is_file() or read_json(meta).get("key") != key:
            return False
        os.utime(path)  # last use, for `pebench cache prune --older-than`
        return True

    # ---- records -----------------------------------------------------------------------
    def read(self, key: str) -> dict | None:
        """The record stored under `key`, or None."""
        path = None if self.root is None else self.root / "stages" / f"{key}.json"
        if path is None or not path.is_file():
            return None
        os.utime(path)  # last use, for `pebench cache prune --older-than`
        return read_json(path)

    def samples(self, key: str) -> str | None:
        path = None if self.root is None else self.root / "samples" / f"{key}.jsonl"
        return path.read_text(encoding="utf-8") if path is not None and path.is_file() else None

    def write(self, key: str, record: dict[str, Any], samples: str | None = None) -> None:
        """Store `record` (and its samples) under `key`; the samples first, so a stored record
        always has them."""
        if self.root is None:
            return
        if samples is not None:
            write_text(self.root / "samples" / f"{key}.jsonl", samples)
        write_json(self.root / "stages" / f"{key}.json", record)

    # ---- inspection --------------------------------------------------------------------
    def entries(self) -> list[Entry]:
        """Every stored stage, newest use first."""
        if self.root is None:
            return []
        out = []
        for kind in KINDS:
            for path in (self.root / kind).iterdir():
                if not path.name.startswith("."):  # a temporary of a write in progress
                    key = path.name.split(".")[0]
                    out.append(Entry(kind, key, _size(path), path.stat().st_mtime, path, _label(kind, path)))
        return sorted(out, key=lambda e: (-e.mtime, e.kind, e.key))

    def prune(self, older_than_s: float | None = None) -> list[Entry]:
        """Delete the stages not used for `older_than_s` seconds (None: all), each under its lock."""
        now, removed = time.time(), []
        for entry in self.entries():
            if older_than_s is not None and now - entry.mtime < older_than_s:
                continue
            with self.lock(entry.key):
                shutil.rmtree(entry.path) if entry.path.is_dir() else entry.path.unlink(missing_ok=True)
            removed.append(entry)
        return removed


def stage_record(store: StageStore, path: Path, key: str, compute: Callable[[], tuple[dict, str | None]],
                 fresh: bool = False, write: bool = True, samples_path: Path | None = None) -> dict:
    """Record stage `key` (a dict with "key"): from the run directory's `path` if its key
    matches, else from the store (copied to `path`), else `compute()` -> (record, samples text),
    written to the store and to `path` (and the samples to `samples_path`). `fresh`: compute
    whatever is stored; `write` False: read only (a launch's other processes)."""
    if not fresh and path.is_file():
        stored = read_json(path)
        if stored.get("key") == key:
            return stored
    with store.lock(key):
        record = None if fresh else store.read(key)
        samples = None if record is None else store.samples(key)
        if record is None:
            store.remove_temporaries(key)
            record, samples = compute()
            record["label"] = _run_name(path)  # `pebench cache ls` shows it
            if write:
                store.write(key, record, samples)
        if write:
            if samples_path is not None and samples is not None:
                write_text(samples_path, samples)
            write_json(path, record)
    return record
