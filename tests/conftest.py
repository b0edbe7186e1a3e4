import os


def _pin_to_this_workers_cores() -> None:
    """Under pytest-xdist (`-n 2` in pyproject's addopts) each worker process runs on its own
    share of the cores, and so does every process it starts (affinity is inherited): a run sizes
    its threads from the usable cores (`recipe.workers.usable_cpus`), so two workers on 2 cores
    run one thread each rather than four threads thrashing on two cores. The tiny models gain
    little from a second thread (1.13x on a paper-config run), so two one-thread workers finish
    the suite in about 0.6 of the time of one process of two threads."""
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if count < 2 or not worker.startswith("gw") or not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    index = int(worker[2:])
    mine = cores[index::count] or [cores[index % len(cores)]]
    os.sched_setaffinity(0, mine)
    os.environ["OMP_NUM_THREADS"] = str(len(mine))  # torch's default, and that of processes started with this env


_pin_to_this_workers_cores()
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The session's runs share one stage store of their own, never the user's (~/.cache/pebench);
# subprocesses get it through their env (tests that need a cold store pass --cache DIR).
os.environ["PEBENCH_CACHE"] = __import__("tempfile").mkdtemp(prefix="pebench-test-store-")

import pytest  # noqa: E402

from pebench.config import load_config  # noqa: E402


@pytest.fixture(scope="session")
def tiny_cfg():
    return load_config("tiny")


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory, tiny_cfg):
    from pebench.data.build import build_dataset

    return build_dataset(tiny_cfg.data, tmp_path_factory.mktemp("data") / "ds")


@pytest.fixture(scope="session")
def tiny_data(tiny_data_dir):
    from pebench.data.build import load_dataset_dir

    return load_dataset_dir(tiny_data_dir)


@pytest.fixture(scope="session")
def corpus(tiny_data):
    from pebench.data.corpus import text_corpus

    return text_corpus(tiny_data)


@pytest.fixture()
def tiny_vlm(tiny_cfg, corpus):
    """A freshly initialised tiny LLaVA (untrained), built in well under a second."""
    from pebench.models import build_model

    return build_model(tiny_cfg.model, corpus, seed=0)


# Modules that run whole pipelines, several processes, train models or start the CLI in a new
# interpreter (about 4 s each: torch and transformers load again): `pytest -m "not slow"` leaves
# them out for quick feedback (CI runs everything). Single such tests elsewhere carry the mark.
SLOW_MODULES = {"test_e2e", "test_distributed", "test_diffusion", "test_families", "test_family_facts", "test_family_runs",
                "test_pretrain", "test_methods", "test_cli", "test_extending", "test_paper_configs"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
