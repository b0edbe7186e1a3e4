"""End to end: `pebench run --preset tiny` through the real CLI, then a cached rerun."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from pebench.eval.evaluate import COLUMNS

METHODS = ("GA", "GD", "KL", "PO", "DPO", "NPO", "SimNPO", "RMU", "SIU")  # single-scenario rows
BOTH_METHODS = METHODS + ("GD+BGD", "KL+BGD")


def _run(out: Path, *extra):
    return subprocess.run([sys.executable, "-m", "pebench", "run", "--preset", "tiny", "--out", str(out), "--quiet", *extra],
                          capture_output=True, text=True, timeout=600, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("e2e") / "run"
    result = _run(out, "--scenarios", "person,event,both")
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result


def test_results_have_every_row_and_column(tiny_run):
    out, _ = tiny_run
    results = json.loads((out / "results.json").read_text())
    assert set(results["scenarios"]) == {"person", "event", "both"}
    for scenario in ("person", "event"):
        sc = results["scenarios"][scenario]
        rows = {"finetuned": sc["finetuned"], "goal": sc["goal"], **sc["methods"]}
        assert set(sc["methods"]) == set(METHODS)
        for name, row in rows.items():
            for col in COLUMNS:
                value = row[col]
                assert isinstance(value, float) and not math.isnan(value), (scenario, name, col)
                unit = (scenario, col) in {("person", "scope"), ("event", "efficacy"), ("event", "generality"),
                                           ("event", "retain"), ("event", "real")}
                assert 0 <= value <= (1 if unit else 100)
    assert results["config"]["data"]["persons"] == 8
    assert results["versions"]["transformers"].startswith("5.")


def test_goal_model_never_learned_the_forgotten_event(tiny_run):
    out, _ = tiny_run
    event = json.loads((out / "results.json").read_text())["scenarios"]["event"]
    assert event["finetuned"]["retain"] > 0.5  # descriptions were learned
    assert event["goal"]["efficacy"] > event["finetuned"]["efficacy"] + 0.3


def test_table_lists_rows_in_paper_order(tiny_run):
    out, _ = tiny_run
    lines = [l for l in (out / "table.md").read_text().splitlines() if l.startswith("| ") and "---" not in l]
    names = [l.split("|")[1].strip() for l in lines]
    assert names == ["Method", "Finetuned", *METHODS, "Goal"]
    assert "P-Eff" in lines[0] and "E-World" in lines[0]


def test_a_table_cell_can_be_recomputed_from_samples(tiny_run):
    out, _ = tiny_run
    results = json.loads((out / "results.json").read_text())
    samples = [json.loads(l) for l in (out / "samples" / "person" / "GA.jsonl").read_text().splitlines()]
    retain = [s for s in samples if s["set"] == "retain" and s["kind"] == "identity"]
    assert retain and all("answer" in s and "reference" in s for s in retain)
    recomputed = 100 * sum(s["name_match"] for s in retain) / len(retain)
    assert recomputed == pytest.approx(results["scenarios"]["person"]["methods"]["GA"]["retain"])


def test_rerun_reuses_every_stage_and_gives_the_same_results(tiny_run):
    out, _ = tiny_run
    before = json.loads((out / "results.json").read_text())
    result = _run(out, "--scenarios", "person,event,both")
    assert result.returncode == 0, result.stderr[-3000:]
    after = json.loads((out / "results.json").read_text())
    assert after["scenarios"] == before["scenarios"]
    assert not any(k.startswith(("foundation", "finetuned", "goal", "unlearn")) for k in after["timings_s"])


def test_both_scenario_and_table2(tiny_run):
    out, _ = tiny_run
    both = json.loads((out / "results.json").read_text())["scenarios"]["both"]
    assert set(both["methods"]) == set(BOTH_METHODS)
    assert both["split"]["forget_persons"] and both["split"]["forget_events"]
    for row in [both["finetuned"], both["goal"], *both["methods"].values()]:
        assert {f"{c}_{k}" for c in ("person", "event") for k in COLUMNS} <= set(row)
    lines = [l for l in (out / "table2.md").read_text().splitlines() if l.startswith("| ") and "---" not in l]
    names = [l.split("|")[1].strip() for l in lines]
    assert names == ["Method", "Finetuned", *BOTH_METHODS, "Goal"]
    assert "Scope" not in lines[0]
    bgd = lines[names.index("GD+BGD")]
    delta = both["methods"]["GD+BGD"]["person_efficacy"] - both["methods"]["GD"]["person_efficacy"]
    assert f"({delta:+.1f})" in bgd


def test_changing_one_methods_lr_redoes_only_that_method(tiny_run, tmp_path):
    out, _ = tiny_run
    cfg = tmp_path / "c.yaml"
    cfg.write_text("unlearn:\n  overrides:\n    GA: {lr: 0.002}\n")
    result = _run(out, "--scenarios", "person,event,both", "--config", str(cfg), "--force")
    assert result.returncode == 0, result.stderr[-3000:]
    timings = json.loads((out / "results.json").read_text())["timings_s"]
    redone = {k for k in timings if k.startswith("unlearn")}
    assert redone == {"unlearn person/GA", "unlearn event/GA", "unlearn both/GA"}


def test_rows_carry_pope_settings_forget_quality_and_mia(tiny_run):
    out, _ = tiny_run
    person = json.loads((out / "results.json").read_text())["scenarios"]["person"]
    for row in [person["finetuned"], person["goal"], *person["methods"].values()]:
        for key in ("forget_quality", "mia_loss_auc", "mia_zlib_auc", "mia_mink_auc", "mia_minkpp_auc", "world_f1",
                    *(f"world_{s}_{m}" for s in ("random", "popular", "adversarial") for m in ("accuracy", "f1", "yes_ratio"))):
            assert 0 <= row[key] <= 100, key
    assert person["goal"]["forget_quality"] == pytest.approx(1.0)
    assert person["finetuned"]["mia_loss_auc"] > person["goal"]["mia_loss_auc"]  # Finetuned trained on the forget set
    assert "AUC Min-K++" in (out / "privacy.md").read_text()
    samples = [json.loads(l) for l in (out / "samples" / "person" / "goal.jsonl").read_text().splitlines()]
    members = [s for s in samples if s["set"] == "mia_member"]
    assert members and all({"nll", "loss", "zlib", "mink", "minkpp", "reference"} <= set(s) for s in members)


def _copy_run(tiny_run, tmp_path) -> Path:
    import shutil

    out = tmp_path / "run"
    shutil.copytree(tiny_run[0], out)
    (out / "results.json").unlink()
    return out


def test_seeds_report_mean_and_std(tiny_run, tmp_path):
    out = _copy_run(tiny_run, tmp_path)
    result = _run(out, "--scenarios", "person", "--methods", "GA", "--seeds", "2", "--force")
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["seeds"] == [0, 1] and set(results["per_seed"]) == {"0", "1"}
    per = [results["per_seed"][s]["person"]["methods"]["GA"]["retain"] for s in ("0", "1")]
    person = results["scenarios"]["person"]
    assert person["methods"]["GA"]["retain"] == pytest.approx(sum(per) / 2)
    assert person["std"]["methods"]["GA"]["retain"] == pytest.approx(abs(per[0] - per[1]) / 2)
    timings = results["timings_s"]
    assert "finetuned" not in timings and "goal-person-seed1" in timings  # Finetuned trained once, a Goal per seed
    assert "±" in (out / "table.md").read_text()


def test_llm_judge_end_to_end_and_the_key_never_reaches_disk(tiny_run, tmp_path):
    from judge_server import JudgeServer

    out = _copy_run(tiny_run, tmp_path)
    secret = "sk-live-SECRET-4242"
    with JudgeServer() as server:
        cfg = tmp_path / "judge.yaml"
        cfg.write_text(f"eval:\n  llm:\n    url: {server.url}\n    api_key_env: PEBENCH_JUDGE_KEY\n")
        result = subprocess.run(
            [sys.executable, "-m", "pebench", "run", "--preset", "tiny", "--out", str(out), "--scenarios", "event",
             "--methods", "GA", "--judge", "llm", "--config", str(cfg), "--force"],
            capture_output=True, text=True, timeout=600,
            env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "PEBENCH_JUDGE_KEY": secret})
    assert result.returncode == 0, result.stderr[-3000:]
    assert server.requests and all(r["headers"]["Authorization"] == f"Bearer {secret}" for r in server.requests)
    event = json.loads((out / "results.json").read_text())["scenarios"]["event"]
    assert 0 <= event["goal"]["efficacy"] <= 1
    assert secret not in result.stdout + result.stderr
    for path in out.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_unreachable_llm_judge_fails_clearly_and_keeps_finished_stages(tiny_run, tmp_path):
    from judge_server import closed_port_url

    out = _copy_run(tiny_run, tmp_path)
    models = {p: p.read_bytes() for p in (out / "models").rglob("*.safetensors")}
    cfg = tmp_path / "judge.yaml"
    cfg.write_text(f"eval:\n  llm:\n    url: {closed_port_url()}\n    retries: 1\n    backoff_s: 0.01\n")
    result = _run(out, "--scenarios", "event", "--methods", "GA", "--judge", "llm", "--config", str(cfg), "--force")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: LLM judge endpoint")
    assert not (out / "results.json").exists()
    assert all(p.read_bytes() == data for p, data in models.items())
