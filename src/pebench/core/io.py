"""Atomic file writes: a file is written to a temporary name beside it, then renamed.

A reader therefore never sees a half-written file, and a failed write leaves the old
file (if any) untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from pebench.core.errors import PebenchError


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it onto `path`.

    Works for files and directories. On error the temporary is removed and `path` is
    left as it was.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PebenchError(f"cannot create directory {path.parent}: {exc.strerror}") from None
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as exc:
        raise PebenchError(f"cannot write in {path.parent}: {exc.strerror or exc}") from None
    target = tmp / path.name
    try:
        try:
            yield target
        except OSError as exc:  # a full disk, a file-size limit, a vanished directory ...
            raise PebenchError(f"cannot write {path}: {exc.strerror or exc}") from None
        if path.is_dir() and not path.is_symlink():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(target, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(target, path)
    except OSError as exc:
        raise PebenchError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def link(path: str | os.PathLike, target: str | os.PathLike) -> None:
    """Make `path` a symbolic link to the directory `target`, replacing what was there (a stale
    directory or link); the link is made beside it and renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.link.tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(Path(target).resolve(), tmp, target_is_directory=True)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    os.replace(tmp, path)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write `obj` as indented, key-sorted JSON to `path` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read JSON from `path`, turning a missing or corrupt file into a PebenchError."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PebenchError(f"{path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PebenchError(f"{path} is not valid JSON ({exc})") from None


def dir_fingerprint(path: str | os.PathLike, small: int = 1 << 20) -> str:
    """A content fingerprint of a directory tree: every file's relative path, size and mtime,
    plus the bytes of each file up to `small` bytes (configs, tokenizers, question files).
    Large weight files are covered by size and mtime, which any rewrite changes."""
    import hashlib

    root = Path(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        stat = file.stat()
        digest.update(f"{file.relative_to(root).as_posix()}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
        if stat.st_size <= small:
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]
