"""The stage store: records and models shared across run directories, atomic and locked."""

import json
import os
import subprocess
import sys
import time

import pytest
from cli_here import pebench_in_process

from pebench.core.io import link, write_json
from pebench.store import StageStore, stage_record


def _compute(calls: list, value: int):
    def compute():
        calls.append(value)
        return {"key": "k1", "value": value}, '{"answer": "x"}\n'
    return compute


def test_a_record_is_computed_once_and_read_by_other_run_directories(tmp_path):
    store, calls = StageStore(tmp_path / "store"), []
    a, b = tmp_path / "a" / "stages" / "GA.json", tmp_path / "b" / "stages" / "GA.json"
    first = stage_record(store, a, "k1", _compute(calls, 1), samples_path=tmp_path / "a" / "GA.jsonl")
    again = stage_record(store, a, "k1", _compute(calls, 2))
    other = stage_record(store, b, "k1", _compute(calls, 3), samples_path=tmp_path / "b" / "GA.jsonl")
    assert first == again == other == {"key": "k1", "value": 1, "label": "GA"} and calls == [1]
    assert json.loads(b.read_text()) == first and (tmp_path / "b" / "GA.jsonl").read_text() == '{"answer": "x"}\n'
    fresh = stage_record(store, b, "k1", _compute(calls, 4), fresh=True)
    assert fresh["value"] == 4 and store.read("k1")["value"] == 4  # --fresh recomputes and replaces the stored one
    assert stage_record(StageStore(None), tmp_path / "c.json", "k1", _compute(calls, 5))["value"] == 5  # no store
    assert stage_record(store, a, "k2", lambda: ({"key": "k2"}, None))["key"] == "k2"  # another key misses


def test_a_read_only_process_writes_nothing(tmp_path):
    store = StageStore(tmp_path / "store")
    stage_record(store, tmp_path / "run" / "x.json", "k1", _compute([], 1), write=False)
    assert not (tmp_path / "run").exists() and store.read("k1") is None


_WORKER = """
import json, sys, time
from pathlib import Path
from pebench.store import StageStore, stage_record
root, out, log = map(Path, sys.argv[1:4])
def compute():
    with open(log, "a") as f:
        f.write("computed\\n")
    time.sleep(1.0)  # the other process asks meanwhile
    return {"key": "shared", "by": out.name}, None
print(json.dumps(stage_record(StageStore(root), out / "stage.json", "shared", compute)))
"""


@pytest.mark.slow
def test_two_processes_needing_one_stage_compute_it_once(tmp_path):
    log = tmp_path / "log"
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(tmp_path / "store"), str(tmp_path / name), str(log)],
                              stdout=subprocess.PIPE, text=True) for name in ("one", "two")]
    outputs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert log.read_text() == "computed\n"  # the second waited on the lock, then read the first's record
    assert outputs[0] == outputs[1] and outputs[0]["by"] in ("one", "two")


def test_killed_writes_leave_temporaries_that_the_next_writer_removes(tmp_path):
    store = StageStore(tmp_path / "store")
    junk = [tmp_path / "store" / "models" / ".k1.abc.tmp", tmp_path / "store" / "stages" / ".k1.json.x.tmp"]
    junk[0].mkdir()
    junk[1].write_text("half")
    other = tmp_path / "store" / "stages" / ".k2.json.y.tmp"
    other.write_text("another stage's write in progress")
    stage_record(store, tmp_path / "run.json", "k1", _compute([], 1))
    assert not any(p.exists() for p in junk) and other.exists()
    assert sorted((e.kind, e.key) for e in store.entries()) == [("samples", "k1"), ("stages", "k1")]


def test_a_link_replaces_a_stale_directory(tmp_path):
    target, path = tmp_path / "store" / "models" / "k1", tmp_path / "run" / "models" / "finetuned"
    target.mkdir(parents=True)
    (target / "stage.json").write_text('{"key": "k1"}')
    path.mkdir(parents=True)
    (path / "old.bin").write_text("stale")
    link(path, target)
    assert path.is_symlink() and (path / "stage.json").is_file() and not (target / "old.bin").exists()
    link(path, target)  # again: idempotent
    assert path.resolve() == target.resolve()
    import shutil

    shutil.rmtree(target)  # pruned from the store: the run's link dangles until the stage is made again
    assert path.is_symlink() and not (path / "stage.json").is_file()
    remade = tmp_path / "store" / "models" / "k2"
    remade.mkdir()
    link(path, remade)
    assert path.resolve() == remade.resolve()


def _age(store: StageStore, key: str, seconds: float) -> None:
    """Make stage `key` look last used `seconds` ago (its files and its use record)."""
    stale = time.time() - seconds
    for path in store.root.glob(f"*/{key}*"):
        os.utime(path, (stale, stale))
    write_json(store.root / "uses" / f"{key}.json", {"last_use": stale, "users": {}})


def test_prune_by_age_and_all(tmp_path):
    store = StageStore(tmp_path / "store")
    for key in ("old", "new"):
        stage_record(store, tmp_path / f"{key}.json", key, lambda k=key: ({"key": k}, "s\n"))
    _age(store, "old", 3 * 86400)
    assert [(e.kind, e.key) for e in store.prune(older_than_s=86400, dry_run=True)] == [("stages", "old"), ("samples", "old")]
    assert store.read("old") is not None  # a dry run deletes nothing
    removed = store.prune(older_than_s=86400)
    assert sorted((e.kind, e.key) for e in removed) == [("samples", "old"), ("stages", "old")]
    assert store.read("new") is not None and store.read("old") is None
    assert len(store.prune()) == 2 and store.entries() == []


def _cli(*args):
    return pebench_in_process(*args)


@pytest.mark.slow
def test_cache_commands_list_measure_and_prune(tmp_path):
    store = StageStore(tmp_path / "store")
    stage_record(store, tmp_path / "a.json", "abc123", lambda: ({"key": "abc123", "pad": "x" * 2000}, "s\n"))
    listed = _cli("cache", "ls", "--cache", str(tmp_path / "store"))
    assert listed.returncode == 0 and "stages" in listed.stdout and "abc123" in listed.stdout
    assert " ago  a  (used by " in listed.stdout.splitlines()[0]  # what the stage is, and which run directory uses it
    du = _cli("cache", "du", "--cache", str(tmp_path / "store"))
    assert du.returncode == 0 and "total        2 entries" in du.stdout and "KB" in du.stdout
    for bad, message in ((("--older-than", "soon"), "--older-than 'soon'"), ((), "exactly one of")):
        result = _cli("cache", "prune", "--cache", str(tmp_path / "store"), *bad)
        assert result.returncode == 2 and result.stderr.startswith("error:") and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert store.read("abc123") is not None  # refused: nothing removed
    kept = _cli("cache", "prune", "--cache", str(tmp_path / "store"), "--older-than", "1d")
    assert kept.returncode == 0 and "removed 0 stages" in kept.stdout
    dry = _cli("cache", "prune", "--cache", str(tmp_path / "store"), "--all", "--dry-run")
    assert dry.returncode == 0 and "would remove 1 stage (" in dry.stdout and "would remove stages   abc123" in dry.stdout
    assert store.read("abc123") is not None
    gone = _cli("cache", "prune", "--cache", str(tmp_path / "store"), "--all")
    assert gone.returncode == 0 and "removed 1 stage (" in gone.stdout and store.entries() == []
    missing = _cli("cache", "ls", "--cache", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "no stage store at" in missing.stderr


@pytest.mark.slow
def test_an_unusable_store_is_refused_before_any_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = _cli("run", "--preset", "tiny", "--out", str(tmp_path / "run"), "--cache", str(blocker / "store"))
    assert result.returncode == 2 and result.stderr.startswith("error: cannot use the stage store")
    assert not (tmp_path / "run").exists()
    both = _cli("run", "--preset", "tiny", "--out", str(tmp_path / "run"), "--cache", str(tmp_path), "--no-cache")
    assert both.returncode == 2 and "exclude each other" in both.stderr and not (tmp_path / "run").exists()


@pytest.mark.parametrize("age, seconds", [("30d", 30 * 86400), ("12h", 43200), ("90min", 5400), ("1.5s", 1.5)])
def test_ages_parse(age, seconds):
    from pebench.cli.cache import parse_age

    assert parse_age(age) == seconds
