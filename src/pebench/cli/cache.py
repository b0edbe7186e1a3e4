"""`pebench cache ls|du|prune`: inspect and clean the stage store (`pebench.store`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from pebench.core.errors import PebenchError

cache_app = typer.Typer(no_args_is_help=True, help="Inspect and clean the stage store shared by runs.")
CacheDir = typer.Option(None, "--cache", help="the store (default $PEBENCH_CACHE, else ~/.cache/pebench)")


def _store(cache: Optional[Path]):
    from pebench.store import StageStore, default_root

    root = cache or default_root()
    if not root.is_dir():
        raise PebenchError(f"no stage store at {root}")
    return StageStore(root)


def _size(n: float) -> str:
    if n < 1024:
        return f"{n:.0f} B"
    for unit in ("KB", "MB", "GB"):
        n /= 1024
        if n < 1024 or unit == "GB":
            break
    return f"{n:.1f} {unit}"


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def parse_age(text: str) -> float:
    """'30d', '12h', '90min', '45s' -> seconds."""
    units = {"d": 86400, "h": 3600, "min": 60, "s": 1}
    for unit, size in units.items():
        number = text[: -len(unit)]
        if text.endswith(unit) and number.replace(".", "", 1).isdigit():
            return float(number) * size
    raise PebenchError(f"--older-than {text!r}: write a number and a unit (d, h, min or s), e.g. 30d")


@cache_app.command("ls")
def ls(cache: Optional[Path] = CacheDir) -> None:
    """List stored stages, most recently used first: kind, key, size, last use, what it is, and
    the run directories that use it (those still on disk)."""
    store, now = _store(cache), time.time()
    for e in store.entries():
        users = f"  (used by {', '.join(e.users)})" if e.users else ""
        typer.echo(f"{e.kind:8} {e.key}  {_size(e.bytes):>9}  used {_age(now - e.mtime):>6} ago  {e.label}{users}".rstrip())


@cache_app.command("du")
def du(cache: Optional[Path] = CacheDir) -> None:
    """Disk use of the store by kind, and in total."""
    store = _store(cache)
    entries = store.entries()
    for kind in ("datasets", "models", "stages", "samples"):
        mine = [e for e in entries if e.kind == kind]
        typer.echo(f"{kind:8} {len(mine):5} entries  {_size(sum(e.bytes for e in mine)):>9}")
    typer.echo(f"{'total':8} {len(entries):5} entries  {_size(sum(e.bytes for e in entries)):>9}  ({store.root})")


@cache_app.command("prune")
def prune(cache: Optional[Path] = CacheDir,
          older_than: Optional[str] = typer.Option(None, "--older-than", help="only stages unused this long (30d, 12h)"),
          all_: bool = typer.Option(False, "--all", help="every stage"),
          dry_run: bool = typer.Option(False, "--dry-run", help="only list what would be deleted")) -> None:
    """Delete stored stages unused for --older-than, or --all (every use counts, from the store
    or through a run directory). Runs that linked a pruned stage recompute it when rerun."""
    if (older_than is None) == (not all_):
        raise PebenchError("pass exactly one of --older-than AGE or --all")
    store = _store(cache)
    removed = store.prune(None if all_ else parse_age(older_than), dry_run=dry_run)
    if dry_run:
        for e in removed:
            typer.echo(f"would remove {e.kind:8} {e.key}  {_size(e.bytes):>9}  {e.label}".rstrip())
    verb = "would remove" if dry_run else "removed"
    count = len({e.key for e in removed})
    typer.echo(f"{verb} {count} stage{'' if count == 1 else 's'} ({_size(sum(e.bytes for e in removed))}) from {store.root}")
