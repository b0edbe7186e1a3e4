"""Several launch scripts in one launch: `dist_many.py SCRIPT ARGS... --- SCRIPT ARGS...` runs
each script's `main(*ARGS)` in turn in every process, then leaves the process group once. A
launch costs the launcher's and each process's start-up (torch and transformers imported again,
about 7 s), so tests/test_distributed.py launches its DDP scripts together."""

import importlib
import itertools
import sys
from pathlib import Path

from pebench.core import distributed


def parts(argv: list[str]) -> list[list[str]]:
    """`argv` cut at each `---`."""
    return [list(group) for sep, group in itertools.groupby(argv, lambda a: a == "---") if not sep]


if __name__ == "__main__":
    try:
        for script, *args in parts(sys.argv[1:]):
            importlib.import_module(Path(script).stem).main(*args)  # this script's folder is on sys.path
    finally:
        distributed.shutdown()
