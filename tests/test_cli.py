"""Bad input: a one-line error, a non-zero exit, and nothing on disk lost."""

import os
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from cli_here import pebench_in_process

STORE = {"PEBENCH_CACHE": os.environ["PEBENCH_CACHE"]}  # the session's stage store (conftest)


def pebench(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "pebench", *args], capture_output=True, text=True, cwd=cwd,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", **STORE, "HOME": str(Path.home())}, timeout=300)


def pebench_here(monkeypatch, capsys, *args, cwd=None):
    """The entry point `pebench.cli.main` run in this interpreter (no 4 s start-up of a new one):
    for input that must fail before any work; the tests through `pebench` cover the real process.
    (`cli_here.pebench_in_process`, under the signature the callers here and in test_trust use.)"""
    return pebench_in_process(*args, cwd=cwd)


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
    (["run", "--seeds", "0"], "invalid config at seeds"),
    (["run", "--workers", "-1"], "invalid config at workers"),
    (["report", "no/such/run"], "has no results.json"),
    (["run", "--seed", "abc"], "Invalid value for '--seed'"),
    (["run", "--seeds", "two"], "Invalid value for '--seeds'"),
    (["run", "--frobnicate"], "No such option"),
    (["data", "build", "--persons", "many"], "Invalid value for '--persons'"),
])
def test_bad_input_fails_cleanly(tmp_path, monkeypatch, capsys, args, pattern):
    out = ["--out", str(tmp_path / "out")] if args[0] in ("run", "data") and args[1:2] != ["show"] else []
    result = pebench_here(monkeypatch, capsys, *args, *out, cwd=tmp_path)
    _one_line_error(result, pattern)
    assert not (tmp_path / "out").exists()


def test_parse_errors_exit_2_with_one_line():
    """A value the option cannot parse was a 40-line rich traceback under typer 0.29 (its vendored
    click raises exceptions the real click's classes do not match)."""
    result = pebench("run", "--seed", "abc")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    _one_line_error(result, "--seed")


def test_pretrain_refuses_to_overwrite_and_resume_needs_a_checkpoint(tmp_path, monkeypatch, capsys):
    (tmp_path / "p" / "checkpoint").mkdir(parents=True)
    _one_line_error(pebench_here(monkeypatch, capsys, "pretrain", "--out", str(tmp_path / "p"), "--steps", "1"), "--resume")
    _one_line_error(pebench_here(monkeypatch, capsys, "pretrain", "--out", str(tmp_path / "q"), "--resume"), "nothing to resume")


@pytest.mark.parametrize("yaml_text,pattern", [
    ("seed: [1]\n", "invalid config at seed"),
    ("data:\n  persons: 1\n", "invalid config at data.persons"),
    ("eval:\n  jduge: llm\n", "invalid config at eval.jduge: Extra inputs are not permitted"),
    ("unlearn:\n  lr: -1\n", "invalid config at unlearn.lr"),
    ("eval:\n  llm:\n    url: ftp://judge\n", "invalid config at eval.llm.url"),
    ("eval:\n  pope_settings: [random, hardest]\n", "invalid config at eval.pope_settings.1"),
    ("data:\n  events: 39\n  holdout_events: 3\n", "exceeds the paper's 40 events"),
    ("split:\n  forget_fraction: .nan\n", "split.forget_fraction"),
    ("- just\n- a list\n", "must hold a mapping"),
    ("seed: [\n", "is not valid YAML"),
    ("methods: [GA, Unknown]\n", "unknown method 'Unknown'"),
])
def test_bad_config_fails_before_any_work(tmp_path, monkeypatch, capsys, yaml_text, pattern):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml_text)
    _one_line_error(pebench_here(monkeypatch, capsys, "run", "--config", str(cfg), "--out", str(tmp_path / "out")), pattern)
    assert not (tmp_path / "out").exists()


def test_method_file_that_fails_to_import(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "m.py"
    bad.write_text("raise RuntimeError('nope')\n")
    _one_line_error(pebench_here(monkeypatch, capsys, "run", "--method-file", str(bad), "--out", str(tmp_path / "out")), "failed to import")
    assert not (tmp_path / "out").exists()


def test_out_that_is_a_file_or_unwritable(tmp_path, monkeypatch, capsys):
    target = tmp_path / "file.txt"
    target.write_text("precious")
    _one_line_error(pebench_here(monkeypatch, capsys, "run", "--preset", "tiny", "--out", str(target)), "is not a directory")
    assert target.read_text() == "precious"
    _one_line_error(pebench_here(monkeypatch, capsys, "run", "--preset", "tiny", "--out", "/proc/pebench-run"), "cannot write")


def test_full_disk_leaves_no_partial_dataset(tmp_path):
    """A write that fails half-way (the file-size limit stands in for a full disk) is an error,
    and the dataset already there is kept whole."""
    import resource
    import signal

    out = tmp_path / "ds"
    ok = pebench("data", "build", "--preset", "tiny", "--out", str(out), "--persons", "3", "--events", "2")
    assert ok.returncode == 0, ok.stderr
    before = _snapshot(out)

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    result = subprocess.run([sys.executable, "-m", "pebench", "data", "build", "--preset", "tiny", "--out", str(out),
                             "--force", "--quiet"], capture_output=True, text=True, preexec_fn=limit, timeout=300,
                            env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", **STORE})
    _one_line_error(result, "cannot write")
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no temporary left beside it


def test_pickle_checkpoints_are_refused(tmp_path, tiny_vlm, monkeypatch, capsys):
    import torch

    model_dir = tmp_path / "model"
    tiny_vlm.model.config.save_pretrained(model_dir)
    tiny_vlm.processor.save_pretrained(model_dir)
    torch.save(tiny_vlm.model.state_dict(), model_dir / "pytorch_model.bin")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"model:\n  path: {model_dir}\n")
    _one_line_error(pebench_here(monkeypatch, capsys, "run", "--preset", "tiny", "--config", str(cfg), "--out", str(tmp_path / "out")),
                    "pickle checkpoints are refused")
    assert not (tmp_path / "out").exists()


def test_a_misspelled_method_hyperparameter_fails_before_any_work(tmp_path, monkeypatch, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("unlearn:\n  overrides:\n    NPO: {bta: 0.5}\n")
    out = tmp_path / "out"
    _one_line_error(pebench_here(monkeypatch, capsys, "run", "--preset", "tiny", "--config", str(cfg), "--out", str(out),
                                 "--methods", "GA,NPO"),
                    "unlearn.overrides.NPO.bta: NPO has no setting 'bta'")
    assert not (out / "dataset").exists() and not (out / "models").exists()


def test_corrupt_dataset_dir_is_named(tmp_path, tiny_data_dir, monkeypatch, capsys):
    import shutil

    bad = tmp_path / "ds"
    shutil.copytree(tiny_data_dir, bad)
    (bad / "persons.parquet").write_bytes(b"not parquet at all")
    before = _snapshot(bad)
    result = pebench_here(monkeypatch, capsys, "run", "--preset", "tiny", "--data", str(bad), "--out", str(tmp_path / "run"))
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


def test_run_refuses_a_directory_with_another_config(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text('{"seed": 99}')
    before = _snapshot(out)
    _one_line_error(pebench_here(monkeypatch, capsys, "run", "--preset", "tiny", "--out", str(out)), "different config")
    assert _snapshot(out) == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "precious.txt").write_text("keep me")
    _one_line_error(pebench_here(monkeypatch, capsys, "run", "--preset", "tiny", "--out", str(other)), "not empty")
    assert (other / "precious.txt").read_text() == "keep me"


def test_a_method_the_configuration_cannot_run_is_refused_before_anything_is_written(tmp_path, monkeypatch, capsys):
    """Issue 44: MANU under LoRA was refused after config.json was written, so the corrected rerun
    into the same --out was refused too; now nothing is written and the error names the way out.
    (MANU itself runs under LoRA now, on a pruned full copy; MMUnlearner's gradient steps cannot.)"""
    out = tmp_path / "r"
    result = pebench_here(monkeypatch, capsys, "run", "--preset", "tiny", "--lora", "--methods", "GA,MMUnlearner", "--out", str(out))
    _one_line_error(result, "method MMUnlearner edits weights in a way a LoRA adapter cannot hold; drop it from `methods`")
    assert not out.exists()
    sequential = ("--scenarios", "both", "--config", str(tmp_path / "seq.yaml"))
    (tmp_path / "seq.yaml").write_text("probes: {sequential: true}\n")
    result = pebench_here(monkeypatch, capsys, "run", "--preset", "tiny", "--lora", "--methods", "GA,MANU", "--out", str(out), *sequential)
    _one_line_error(result, "method MANU runs on a full copy under LoRA, which the sequential requests' adapters cannot")
    assert not out.exists()


@pytest.mark.parametrize("env, message", [
    ({"ACCELERATE_USE_DEEPSPEED": "true"}, "error: DeepSpeed is not supported: pebench shards models with PyTorch FSDP2 "
                                           "(use configs/accelerate/fsdp.yaml; ZeRO-3 and FSDP shard the same state)"),
    ({"ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "1"},
     "error: only FSDP version 2 is supported (set fsdp_version: 2, as configs/accelerate/fsdp.yaml does)"),
    ({"PEBENCH_STRATEGY": "zero3"}, "error: PEBENCH_STRATEGY must be one of ddp, fsdp, not 'zero3'")])
def test_an_unsupported_sharding_launch_is_refused_not_ignored(tmp_path, monkeypatch, capsys, env, message):
    for name, value in {**env, "WORLD_SIZE": "1"}.items():
        monkeypatch.setenv(name, value)
    result = pebench_here(monkeypatch, capsys, "run", "--preset", "tiny", "--out", str(tmp_path / "r"))
    assert result.returncode == 2 and result.stderr.strip() == message
    assert not (tmp_path / "r").exists()
