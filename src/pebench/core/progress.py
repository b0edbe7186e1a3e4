"""Progress reporting: rich progress bars with rate and ETA, or silence (`--quiet`)."""

from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from typing import Iterator, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

log = logging.getLogger("pebench")


class Task(Protocol):
    def advance(self, n: int = 1) -> None: ...


class Reporter:
    """Shows one progress bar per long step and prints stage messages."""

    def __init__(self, quiet: bool = False, console: Console | None = None):
        self.quiet = quiet
        self.console = console or Console(stderr=True)

    def info(self, message: str) -> None:
        log.info(message)
        if not self.quiet:
            self.console.print(message)

    @contextmanager
    def task(self, description: str, total: int, unit: str = "it") -> Iterator[Task]:
        """A progress bar for `total` units of work (nothing on screen when quiet); the start
        and the duration go to the log."""
        log.info("%s (%d %s)", description, total, unit)
        start = time.perf_counter()
        if self.quiet:
            yield _NullTask()
        else:
            columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                       _RateColumn(unit), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
            with Progress(*columns, console=self.console, transient=False) as progress:
                tid = progress.add_task(description, total=total)
                yield _RichTask(progress, tid)
        log.info("%s done in %.1f s", description, time.perf_counter() - start)


class _RateColumn(TextColumn):
    def __init__(self, unit: str):
        super().__init__("")
        self.unit = unit

    def render(self, task):  # type: ignore[override]
        from rich.text import Text

        speed = task.finished_speed or task.speed
        return Text(f"{speed:7.1f} {self.unit}/s" if speed else f"      ? {self.unit}/s")


class _RichTask:
    def __init__(self, progress: Progress, tid):
        self.progress, self.tid = progress, tid

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.tid, n)


class _NullTask:
    def advance(self, n: int = 1) -> None:
        pass


def progress_callback(task: Task):
    """Adapt a Task to a `progress(done, total)` callback that reports cumulative counts."""
    state = {"done": 0}

    def progress(done: int, _total: int) -> None:
        task.advance(done - state["done"])
        state["done"] = done

    return progress


def quiet_libraries() -> None:
    """Offline, and no progress bars or info lines from datasets and transformers."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import datasets
    import transformers

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    transformers.logging.set_verbosity_error()
