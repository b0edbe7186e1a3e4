"""Worker processes of one run (`pebench.recipe.workers`): claims, how many, errors, and a run
whose rows two workers share gives the numbers of a one-process run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_here import pebench_in_process

from pebench.config import RunConfig, load_config
from pebench.core.errors import PebenchError
from pebench.recipe.workers import side_by_side, usable_cpus, worker_count, worker_threads
from pebench.store import StageStore, copy_without_rows


def test_a_claimed_stage_is_not_claimed_again_until_released(tmp_path):
    store = StageStore(tmp_path / "store")
    with store.claim("abc") as first:
        with store.claim("abc") as second, store.claim("other") as other:
            assert first and not second and other
    with store.claim("abc") as again:
        assert again
    with StageStore(None).claim("abc") as a, StageStore(None).claim("abc") as b:
        assert a and b  # no store: one process computes everything


def test_a_store_copied_without_rows_keeps_its_models_only(tmp_path):
    store = StageStore(tmp_path / "store")
    store.write("row", {"metrics": {"efficacy": 1.0}}, samples="{}\n")
    (store.root / "models" / "m1").mkdir()
    (store.root / "models" / "m1" / "model.safetensors").write_bytes(b"weights")
    with store.claim("row"):
        copy_without_rows(store.root, tmp_path / "copy")
    assert not (tmp_path / "copy" / "locks").exists()  # a claim held on the original does not travel
    copy = StageStore(tmp_path / "copy")
    assert copy.read("row") is None and copy.samples("row") is None and store.read("row") is not None
    assert (copy.root / "models" / "m1" / "model.safetensors").read_bytes() == b"weights"


def test_worker_count_rules():
    cpus = usable_cpus()
    auto = RunConfig()
    assert worker_count(auto, store=True, fresh=False, launched=False, device="cpu") == (2 if cpus >= 2 else 1, None)
    assert worker_count(auto, store=True, fresh=False, launched=False, device="cuda") == (1, None)
    assert worker_count(auto, store=True, fresh=True, launched=False, device="cpu") == (1, None)
    asked = RunConfig(workers=3)
    assert worker_count(asked, store=True, fresh=False, launched=False, device="cuda") == (3, None)
    for blocked in ({"fresh": True}, {"store": False}, {"launched": True}):
        n, why = worker_count(asked, **{"store": True, "fresh": False, "launched": False, "device": "cpu", **blocked})
        assert n == 1 and why.startswith("workers: 3 asked for, running one process")
    assert load_config("tiny").workers == 1
    assert worker_threads(RunConfig(threads=3), 2) == 3 and worker_threads(RunConfig(), 2) == max(1, cpus // 2)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")
def test_a_process_pinned_to_one_core_runs_one_worker_of_one_thread():
    """`taskset -c 0 pebench run` (or a container's cpuset) on a machine of many cores: the
    workers and threads come from the cores the process may use, not from `os.cpu_count()`."""
    core = min(os.sched_getaffinity(0))
    code = ("from pebench.config import RunConfig; from pebench.recipe.workers import usable_cpus, worker_count, "
            "worker_threads; print(usable_cpus(), worker_count(RunConfig(), store=True, fresh=False, launched=False, "
            "device='cpu')[0], worker_threads(RunConfig(), 1))")
    pinned = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            preexec_fn=lambda: os.sched_setaffinity(0, {core}))
    assert pinned.returncode == 0, pinned.stderr[-2000:]
    assert pinned.stdout.split() == ["1", "1", "1"]


def test_side_by_side_returns_each_workers_result():
    with side_by_side(2, "operator:add", (40,)) as results:
        pass
    assert sorted(results) == [41, 42]  # 40 + the worker's index


def test_a_failing_worker_is_one_error():
    with pytest.raises(PebenchError, match=r"^a worker process failed: worker 1: ValueError: int\(\) base must be"):
        with side_by_side(1, "builtins:int", ("x",)):  # int("x", 1)
            pass


def _run(out: Path, cache: Path, config: str, here: bool = False) -> dict:
    """The run, in a new interpreter (its workers start from it, as a user's do) or, `here`, in this one."""
    (out.parent / f"{out.name}.yaml").write_text(config)
    args = ["run", "--preset", "tiny", "--scenarios", "person", "--methods", "GA,NPO,KL,WGA,MANU", "--out", str(out),
            "--cache", str(cache), "--quiet", "--config", str(out.parent / f"{out.name}.yaml")]
    result = (pebench_in_process(*args) if here else
              subprocess.run([sys.executable, "-m", "pebench", *args], capture_output=True, text=True, timeout=900,
                             env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((out / "results.json").read_text())


@pytest.mark.slow
def test_two_workers_give_the_numbers_of_one_process(tmp_path):
    """One process of one thread computes a run; a second store holds its models but none of its
    rows, and two one-thread workers compute the rows there: every number is the same, both
    workers computed rows, their seconds are in the run's timings and the stages' environment
    is the run's."""
    short = "foundation: {steps: 20}\nfinetune: {steps: 30}\n"  # the rows' equality needs trained models, not good ones
    one = _run(tmp_path / "one", tmp_path / "store-one", short + "workers: 1\nthreads: 1\n", here=True)
    copy_without_rows(tmp_path / "store-one", tmp_path / "store-two")
    two = _run(tmp_path / "two", tmp_path / "store-two", short + "workers: 2\nthreads: 1\n")
    assert two["scenarios"] == one["scenarios"]
    log = (tmp_path / "two" / "run.log").read_text()
    assert "[worker 1] evaluate person/" in log  # the second process computed rows (it starts some seconds late)
    assert {k for k in one["timings_s"] if k.startswith(("unlearn", "eval", "probes"))} <= set(two["timings_s"])
    assert not two["provenance"]["mixed"] and two["provenance"]["run"]["threads"] == 1
    assert not [k for k in two["timings_s"] if k.startswith(("finetuned", "goal"))]  # the models were stored
