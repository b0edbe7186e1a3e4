"""docs/extending.md runs as written: its Python blocks, in order, in a fresh interpreter (the
examples register into the global registries, which other tests must not see)."""

import os
import re
import subprocess
import sys
from pathlib import Path

STORE = {"PEBENCH_CACHE": os.environ["PEBENCH_CACHE"]}  # the session's stage store (conftest)

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def test_every_example_of_the_extending_guide_runs():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 5
    result = subprocess.run([sys.executable, "-c", "\n".join(blocks)], capture_output=True, text=True, timeout=300,
                            env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", **STORE})
    assert result.returncode == 0, result.stderr[-3000:]
