"""Bad input: a one-line error, a non-zero exit, and nothing on disk lost."""

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest


def pebench(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "pebench", *args], capture_output=True, text=True, cwd=cwd,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}, timeout=300)


def _snapshot(path: Path) -> dict:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.rglob("*")) if p.is_file()}


def _one_line_error(result, pattern):
    assert result.returncode != 0
    lines = [l for l in result.stderr.strip().splitlines() if l.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and pattern in lines[0], lines[0]


@pytest.mark.parametrize("args,pattern", [
    (["run", "--methods", "GA,Forgetron"], "unknown method 'Forgetron'"),
    (["run", "--scenarios", "person,places"], "scenarios"),
    (["run", "--forget-fraction", "0"], "split.forget_fraction"),
    (["run", "--forget-fraction", "1.5"], "split.forget_fraction"),
    (["run", "--preset", "galactic"], "unknown preset"),
    (["run", "--judge", "oracle"], "unknown judge"),
    (["run", "--config", "missing.yaml"], "does not exist"),
    (["run", "--data", "no/such/dir"], "does not exist"),
    (["run", "--method-file", "no_such_method.py"], "does not exist"),
    (["data", "show", "no/such/dir"], "does not exist"),
])
def test_bad_input_fails_cleanly(tmp_path, args, pattern):
    result = pebench(*args, "--out", str(tmp_path / "out")) if args[0] == "run" else pebench(*args, cwd=tmp_path)
    _one_line_error(result, pattern)
    assert not (tmp_path / "out").exists()


def test_corrupt_dataset_dir_is_named(tmp_path, tiny_data_dir):
    import shutil

    bad = tmp_path / "ds"
    shutil.copytree(tiny_data_dir, bad)
    (bad / "persons.parquet").write_bytes(b"not parquet at all")
    before = _snapshot(bad)
    result = pebench("run", "--preset", "tiny", "--data", str(bad), "--out", str(tmp_path / "run"))
    _one_line_error(result, "persons.parquet")
    assert _snapshot(bad) == before


def test_data_build_and_show(tmp_path):
    out = tmp_path / "ds"
    result = pebench("data", "build", "--preset", "tiny", "--out", str(out), "--persons", "3", "--events", "2")
    assert result.returncode == 0, result.stderr
    assert (out / "images.parquet").is_file() and (out / "README.md").is_file()
    before = _snapshot(out)
    again = pebench("data", "build", "--out", str(out))
    _one_line_error(again, "already exists")
    assert _snapshot(out) == before
    shown = pebench("data", "show", str(out), "--out", str(tmp_path / "sheet.png"))
    assert shown.returncode == 0, shown.stderr
    assert (tmp_path / "sheet.png").stat().st_size > 1000
    assert "persons: 3" in shown.stdout


def test_run_refuses_a_directory_with_another_config(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text('{"seed": 99}')
    before = _snapshot(out)
    _one_line_error(pebench("run", "--preset", "tiny", "--out", str(out)), "different config")
    assert _snapshot(out) == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "precious.txt").write_text("keep me")
    _one_line_error(pebench("run", "--preset", "tiny", "--out", str(other)), "not empty")
    assert (other / "precious.txt").read_text() == "keep me"
