"""`pebench` run in the test's own interpreter, through the real entry point `pebench.cli.main`.

A new interpreter costs 4-7 s before the first stage (torch, transformers and matplotlib import
again, the fonts load again), which was most of the time of the tests that rerun a stored run.
Tests that need a real process (signals, a launcher, an environment of their own) start one; the
rest call this. What a run changes in the interpreter (torch's thread count, argv, the
environment it was given, the working directory, the methods a `--method-file` registered and
its module) is put back afterwards, so the next call imports a method file fresh, as a new
process would.
"""

from __future__ import annotations

import contextlib
import io
import os
import runpy
import sys
from pathlib import Path
from types import SimpleNamespace

import torch

from pebench.methods import METHODS, USER_MODULE_PREFIX


@contextlib.contextmanager
def user_methods_forgotten():
    """Afterwards, the methods a method file registered meanwhile are unregistered and every
    method file's module is gone, so the next load imports it fresh, as a new process would."""
    saved_methods = set(METHODS.names())
    try:
        yield
    finally:
        for name in set(METHODS.names()) - saved_methods:
            if METHODS.get(name).__module__.startswith(USER_MODULE_PREFIX):
                del METHODS._items[name]
        for module in [m for m in sys.modules if m.startswith(USER_MODULE_PREFIX)]:
            del sys.modules[module]


@contextlib.contextmanager
def _restored(env: dict[str, str], cwd: Path | None, threads: int | None):
    saved_env = {k: os.environ.get(k) for k in env}
    saved_argv, saved_threads, saved_cwd = sys.argv, torch.get_num_threads(), os.getcwd()
    os.environ.update(env)
    if cwd is not None:
        os.chdir(cwd)
    if threads is not None:  # as OMP_NUM_THREADS gives a new process (set here, it is read once at start-up)
        torch.set_num_threads(threads)
    try:
        with user_methods_forgotten():
            yield
    finally:
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        torch.set_num_threads(saved_threads)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def pebench_in_process(*args, env: dict[str, str] | None = None, cwd: Path | None = None,
                       threads: int | None = None) -> SimpleNamespace:
    """`pebench ARGS` as `main()` runs it: returncode (main's exit status), stdout and stderr."""
    from pebench.cli import main

    out, err = io.StringIO(), io.StringIO()
    with _restored(env or {}, cwd, threads):
        sys.argv = ["pebench", *map(str, args)]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def script_in_process(path: Path, *args, threads: int | None = 1) -> None:
    """`python PATH ARGS` in this interpreter (its `__main__` block included), one thread by
    default, as the one-process side of a comparison with a launch of one-thread processes."""
    with _restored({}, None, threads):
        sys.argv = [str(path), *map(str, args)]
        runpy.run_path(str(path), run_name="__main__")
