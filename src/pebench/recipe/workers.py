"""Worker processes: one run's rows computed side by side on one machine.

On a CPU the stages use a second thread unevenly (measured on 2 cores, one process alone
against two side by side): fine-tuning runs twice as fast on two threads as on one, and two
one-thread processes gain nothing on it; two one-thread processes unlearn 1.23x as fast as one
of two threads, and compute whole rows about 1.07x as fast (`benchmarks/workers.py`). So the
main process trains the models with every core (`Pipeline.side_by_side`) and then `workers`
processes of cores/workers threads compute the rows, sharing the stage store: each walks the
run's scenarios and computes the rows no other worker has claimed (`StageStore.claim`),
waiting only for a Goal evaluation another is computing. When all are done the main process
walks the recipe once more and finds every stage stored, so results.json, the tables and the
report are written as in one process.

Numbers do not depend on which worker computed which row: every worker runs the same number
of threads (the thread count changes only the last bits of a CPU reduction, and is recorded in
each stage's provenance). There is one process, as before, under `--fresh` (a worker could not
tell a stage stored by this run from an older one), without a stage store (nowhere to share
stages), under a multi-process launch (its processes already share each stage) and on a GPU
unless asked.
"""

from __future__ import annotations

import importlib
import multiprocessing
import multiprocessing.connection
import os
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from pebench.config import RunConfig
from pebench.core.errors import PebenchError


def usable_cpus() -> int:
    """The cores this process may run on: its CPU affinity (`taskset`, a container's cpuset, a
    test worker pinned to its share), which `os.cpu_count()` ignores, else every core."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # no affinity on macOS and Windows
        return os.cpu_count() or 1


def worker_count(cfg: RunConfig, *, store: bool, fresh: bool, launched: bool, device: str) -> tuple[int, str | None]:
    """(processes to run, why fewer than `cfg.workers` asked for, or None). `cfg.workers` 0 is
    automatic: two on a CPU with at least two usable cores, else one."""
    cpus = usable_cpus()
    wanted = cfg.workers or (2 if device == "cpu" and cpus >= 2 else 1)
    blocker = ("--fresh recomputes every stage" if fresh else "there is no stage store to share stages through"
               if not store else "a multi-process launch shares each stage already" if launched else None)
    if wanted > 1 and blocker:
        return 1, (f"workers: {cfg.workers} asked for, running one process: {blocker}" if cfg.workers > 1 else None)
    return wanted, None


def worker_threads(cfg: RunConfig, workers: int) -> int:
    """torch threads of each worker: `cfg.threads`, else the usable cores shared out."""
    return cfg.threads or max(1, usable_cpus() // workers)


def _exit_with_parent() -> None:
    """End this worker when the process that started it ends (killed, say): a worker left
    behind would go on computing, and claiming, stages of a run that is over."""
    multiprocessing.connection.wait([multiprocessing.parent_process().sentinel])
    os._exit(1)


def _entry(target: str, args: tuple, index: int, conn) -> None:
    """A worker process: `target(*args, index)` (`target`: "module:function"), its result or its
    error sent back."""
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    try:
        module, function = target.split(":")
        conn.send(("ok", getattr(importlib.import_module(module), function)(*args, index)))
    except PebenchError as exc:
        conn.send(("error", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - reported by the main process as one error line
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


@contextmanager
def side_by_side(others: int, target: str, args: tuple) -> Iterator[list[Any]]:
    """Start `others` worker processes running `target(*args, index)` (`target`:
    "module:function"; index 1..others; the caller is worker 0 and does its own share inside
    the block), and on leaving the block wait for them and fill the yielded list with their
    results. A worker's failure becomes this process's `PebenchError`; a failure here stops
    the workers."""
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked torch threads or locks
    started = []
    for index in range(1, others + 1):
        receive, send = spawn.Pipe(duplex=False)
        process = spawn.Process(target=_entry, args=(target, args, index, send), name=f"pebench-worker-{index}")
        process.start()
        send.close()
        started.append((index, process, receive))
    results: list[Any] = []
    try:
        yield results
    except BaseException:
        for _, process, _ in started:
            process.terminate()
            process.join()
        raise
    failures = []
    for index, process, receive in started:
        try:
            status, value = receive.recv()
        except EOFError:  # killed without a word (out of memory, a signal)
            status, value = "error", "it stopped without a result"
        process.join()
        if status == "ok" and process.exitcode == 0:
            results.append(value)
        else:
            failures.append(f"worker {index}: {value if status == 'error' else f'exit code {process.exitcode}'}")
    if failures:
        raise PebenchError("a worker process failed: " + "; ".join(failures))
