"""The stage store: finished stages shared by every run directory, addressed by content.

A stage (a trained model, an evaluation, a row's probes, a sequential probe) is stored once
under its content key (`recipe.keys.content_key`: the config values, pebench version and input
stage keys it depends on and the source of the code that computes it), so a run in a new
directory reuses every stage another run finished, and a changed input or code misses:

    datasets/<key>/      a rendered dataset (datasets files and build.json)
    models/<key>/        a model or LoRA adapter directory (safetensors) with its stage.json
    stages/<key>.json    an evaluation or probe record
    samples/<key>.jsonl  an evaluation's per-sample answers and scores
    uses/<key>.json      when the stage was last used, and by which run directories

Every use refreshes the stage's last use, whether the stage is read from the store or from a
run directory that holds (or links) it, so `pebench cache prune --older-than 30d` keeps what a
daily rerun uses. A stage's files go together: prune deletes a record with its samples (the
record first), never one without the other.

The store lives at `$PEBENCH_CACHE` (default `$XDG_CACHE_HOME/pebench`, else `~/.cache/pebench`;
`pebench run --cache DIR` or `--no-cache`). A run directory keeps its results, report and its
own copies of evaluations and samples (small), and links `dataset` and `models/<name>` into the
store.

Writes are atomic (written beside their place, then renamed), so a killed run leaves no half
stage. A stage being computed is locked (`locks/<key>.lock`, an exclusive `fcntl.flock`): a
second run that needs it waits, then reads it, so concurrent runs sharing a store never compute
one stage twice or read half of one. The worker processes of one run share out its stages with
non-blocking claims (`claim`). Locks are advisory and per machine (POSIX); a shared network
file system must support `flock`.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator

from pebench.core.errors import PebenchError
from pebench.core.io import read_json, write_json, write_text

KINDS = ("datasets", "models", "stages", "samples")
USES = "uses"


def default_root() -> Path:
    """`$PEBENCH_CACHE`, else the user cache directory's `pebench`."""
    if os.environ.get("PEBENCH_CACHE"):
        return Path(os.environ["PEBENCH_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pebench"


@dataclass(frozen=True)
class Entry:
    """One stored file or directory of a stage: its kind (datasets, models, stages, samples),
    key, size in bytes, the stage's last use, what it is (the run directory's name for it:
    `finetuned`, `person/GA`) and the run directories that used it."""

    kind: str
    key: str
    bytes: int
    mtime: float
    path: Path
    label: str = ""
    users: tuple[str, ...] = ()


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


def run_name(path: Path) -> str:
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
                for kind in (*KINDS, USES, "locks"):
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

    @contextmanager
    def claim(self, key: str) -> Iterator[bool]:
        """Try to take the work of stage `key` for this process without waiting: yields True when
        no other process has claimed it (held until the block ends), False when one has. Worker
        processes of one run (`pebench.recipe.workers`) share out stages this way; a claim is a
        separate lock from `lock`'s, which the stage's own write still takes. With no store or
        no locking every claim succeeds."""
        if self.root is None or not self.locking:
            yield True
            return
        with open(self.root / "locks" / f"claim-{key}.lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def remove_temporaries(self, key: str) -> None:
        """Delete what a killed write of stage `key` left (`.<key>...tmp` / `.old`); call it holding
        the stage's lock, which every write of the stage holds."""
        for kind in KINDS if self.root is not None and self.locking else ():
            for path in (self.root / kind).glob(f".{key}.*"):
                if path.name.endswith((".tmp", ".old")):
                    shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)

    # ---- last use ------------------------------------------------------------------------
    def touch(self, key: str, used_at: Path | None = None) -> None:
        """Record a use of stage `key` now, by the run directory holding `used_at` (a file or
        directory of the run: its `stages/...`, `models/<name>` or `dataset`)."""
        if self.root is None:
            return
        users = self.uses(key)["users"]
        if used_at is not None:
            users[str(run_directory(Path(used_at)))] = time.time()
        write_json(self.root / USES / f"{key}.json", {"last_use": time.time(), "users": users})

    def uses(self, key: str) -> dict:
        """{"last_use": seconds since the epoch (0 if never recorded), "users": {run directory: time}}."""
        path = None if self.root is None else self.root / USES / f"{key}.json"
        try:
            stored = read_json(path) if path is not None and path.is_file() else {}
        except PebenchError:
            stored = {}
        return {"last_use": float(stored.get("last_use", 0.0)), "users": dict(stored.get("users", {}))}

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
        return meta is not None and meta.is_file() and read_json(meta).get("key") == key

    # ---- records -----------------------------------------------------------------------
    def read(self, key: str) -> dict | None:
        """The record stored under `key`, or None."""
        path = None if self.root is None else self.root / "stages" / f"{key}.json"
        if path is None or not path.is_file():
            return None
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
        """Every stored stage file or directory, most recently used stage first."""
        if self.root is None:
            return []
        out, uses = [], {}
        for kind in KINDS:
            for path in (self.root / kind).iterdir():
                if not path.name.startswith("."):  # a temporary of a write in progress
                    key = path.name.split(".")[0]
                    used = uses.setdefault(key, self.uses(key))
                    last = max(path.stat().st_mtime, used["last_use"])
                    out.append(Entry(kind, key, _size(path), last, path, _label(kind, path),
                                     tuple(sorted(u for u in used["users"] if Path(u).is_dir()))))
        last_use: dict[str, float] = {}
        for e in out:  # a stage's files share its last use
            last_use[e.key] = max(last_use.get(e.key, 0.0), e.mtime)
        out = [replace(e, mtime=last_use[e.key]) for e in out]
        return sorted(out, key=lambda e: (-e.mtime, e.key, KINDS.index(e.kind)))

    def prune(self, older_than_s: float | None = None, dry_run: bool = False) -> list[Entry]:
        """Delete the stages not used for `older_than_s` seconds (None: all), each whole under its
        lock: the record before its samples, so no record is ever left without them. `dry_run`:
        only say what would go."""
        now, removed = time.time(), []
        by_key: dict[str, list[Entry]] = {}
        for entry in self.entries():
            if older_than_s is None or now - entry.mtime >= older_than_s:
                by_key.setdefault(entry.key, []).append(entry)
        for key, entries in by_key.items():
            if not dry_run:
                with self.lock(key):
                    for entry in sorted(entries, key=lambda e: PRUNE_ORDER.index(e.kind)):
                        shutil.rmtree(entry.path) if entry.path.is_dir() else entry.path.unlink(missing_ok=True)
                    (self.root / USES / f"{key}.json").unlink(missing_ok=True)
            removed.extend(entries)
        return removed


PRUNE_ORDER = ("stages", "samples", "models", "datasets")


def run_directory(path: Path) -> Path:
    """The run directory a file of a run belongs to: the parent of the `stages/`, `samples/` or
    `models/` folder it is in (at most four levels up: `stages/seed-1/person/goal.json`), else
    the folder holding it (`RUN/dataset`)."""
    parts = Path(os.path.abspath(path)).parts
    for i in range(len(parts) - 2, max(0, len(parts) - 5), -1):
        if parts[i] in ("stages", "samples", "models"):
            return Path(*parts[:i])
    return Path(*parts[:-1])


def stage_record(store: StageStore, path: Path, key: str, compute: Callable[[], tuple[dict, str | None]],
                 fresh: bool = False, write: bool = True, samples_path: Path | None = None,
                 provenance: dict | None = None) -> dict:
    """Record stage `key` (a dict with "key"): from the run directory's `path` if its key
    matches (and its samples are there, when it has any), else from the store (copied to
    `path`), else `compute()` -> (record, samples text), written to the store and to `path`
    (and the samples to `samples_path`) with `provenance` (the environment it was computed in).
    A stored record whose samples are gone counts as missing. `fresh`: compute whatever is
    stored; `write` False: read only (a launch's other processes)."""
    wants_samples = samples_path is not None
    if not fresh and path.is_file() and (not wants_samples or samples_path.is_file()):
        stored = read_json(path)
        if stored.get("key") == key:
            if write:
                store.touch(key, path)
            return stored
    with store.lock(key):
        record = None if fresh else store.read(key)
        samples = None if record is None else store.samples(key)
        if record is not None and wants_samples and samples is None:
            record = None  # its samples were pruned: a run directory must not get a record without them
        if record is None:
            store.remove_temporaries(key)
            record, samples = compute()
            record["label"] = run_name(path)  # `pebench cache ls` shows it
            if provenance is not None:
                record["provenance"] = provenance
            if write:
                store.write(key, record, samples)
        if write:
            store.touch(key, path)
            if samples_path is not None and samples is not None:
                write_text(samples_path, samples)
            write_json(path, record)
    return record
