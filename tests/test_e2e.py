"""End to end: `pebench run --preset tiny` through the real CLI, then a cached rerun."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_here import pebench_in_process

from pebench.config import RunConfig
from pebench.eval.evaluate import COLUMNS
from pebench.methods import METHODS as REGISTRY

STORE = {"PEBENCH_CACHE": os.environ["PEBENCH_CACHE"]}  # the session's stage store (conftest)

BOTH_METHODS = RunConfig().methods  # the default's rows, the 2025 methods among them
METHODS = tuple(m for m in BOTH_METHODS if not REGISTRY.get(m).balance_concepts)  # single-scenario rows
assert {"GD+BGD", "KL+BGD"} < set(BOTH_METHODS) and len(METHODS) >= 17


def _run(out: Path, *extra):
    return subprocess.run([sys.executable, "-m", "pebench", "run", "--preset", "tiny", "--out", str(out), "--quiet", *extra],
                          capture_output=True, text=True, timeout=600, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", **STORE})


def _run_here(out: Path, *extra):
    """`_run` in this interpreter (cli_here): for the reruns, which need no process of their own
    (a `--method-file` is imported afresh each time, its methods unregistered afterwards)."""
    return pebench_in_process("run", "--preset", "tiny", "--out", out, "--quiet", *extra)


# The module's run: every scenario, with the sequential requests for two methods (the tiny
# preset leaves them off: three more unlearning runs per method).
RUN_CONFIG = "probes: {sequential: true, sequential_methods: [GA, NPO]}\n"


def _run_args(out: Path) -> tuple[str, ...]:
    return ("--scenarios", "person,event,both", "--config", str(out.parent / "run.yaml"))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("e2e") / "run"
    (out.parent / "run.yaml").write_text(RUN_CONFIG)
    result = _run(out, *_run_args(out))
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
    assert results["base"] == {"model": "tiny-llava", "fingerprint": None}  # built from a config, not pretrained
    assert results["versions"]["transformers"].startswith("5.")
    from pebench.core.fingerprint import code_identity

    code = results["code"]  # which code made the run (issue 44): components, commit, every model and row key
    assert code["components"] == code_identity()
    assert set(code["rows"]) == {"person", "event", "both"} and set(code["rows"]["person"]["methods"]) == set(METHODS)
    assert len(code["models"]["finetuned"]) == 16 and code["rows"]["person"]["goal"] != code["rows"]["event"]["goal"]
    assert code["git"] is None or len(code["git"]["commit"]) == 40


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
    result = _run_here(out, *_run_args(out))
    assert result.returncode == 0, result.stderr[-3000:]
    after = json.loads((out / "results.json").read_text())
    assert after["scenarios"] == before["scenarios"]
    assert not any(k.startswith(("foundation", "finetuned", "goal", "unlearn", "probes")) for k in after["timings_s"])


def test_a_new_run_directory_takes_every_stage_from_the_store(tiny_run, tmp_path):
    """The same command with another --out renders, trains, evaluates and probes nothing again
    (the session's store holds the module run's stages) and writes the same tables; its dataset
    and models are links into the store."""
    out, _ = tiny_run
    new = tmp_path / "run"
    (tmp_path / "run.yaml").write_text(RUN_CONFIG)
    result = _run_here(new, *_run_args(new))
    assert result.returncode == 0, result.stderr[-3000:]
    before, after = (json.loads((d / "results.json").read_text()) for d in (out, new))
    assert after["scenarios"] == before["scenarios"] and after["sequential"] == before["sequential"]
    assert not [k for k in after["timings_s"] if k.split()[0] in ("foundation", "finetuned", "unlearn", "eval", "probes",
                                                                   "sequential") or k.startswith("goal") or k == "data"]
    assert (new / "dataset").is_symlink() and (new / "dataset").resolve() == (out / "dataset").resolve()
    assert (new / "table.md").read_text() == (out / "table.md").read_text()
    assert (new / "models" / "finetuned").is_symlink() and (new / "samples" / "person" / "GA.jsonl").is_file()
    # every reused stage carries the environment it was computed in, the same as this run's
    provenance = after["provenance"]
    assert provenance["run"]["torch"] and provenance["run"]["device"] == "cpu" and not provenance["mixed"]
    assert provenance["stages"]["finetuned"] == provenance["run"] == provenance["stages"]["person/GA"]
    assert Path(after["dataset"]["path"]).is_absolute() and Path(after["dataset"]["path"]).parent == new


def test_a_run_reusing_stages_from_another_environment_says_so(tiny_run, tmp_path):
    """The thread count is provenance, not key: a run of another thread count than the module
    run's (all the usable cores: 2 here, 1 under the suite's pinned workers) reuses its stages
    and says so in results.json, its tables and its report."""
    out, _ = tiny_run
    theirs = json.loads((out / "results.json").read_text())["provenance"]["run"]["threads"]
    mine = 1 if theirs > 1 else 2
    new = tmp_path / "run"
    (tmp_path / "run.yaml").write_text(RUN_CONFIG + f"threads: {mine}\n")
    result = _run_here(new, *_run_args(new))
    assert result.returncode == 0, result.stderr[-3000:]
    after = json.loads((new / "results.json").read_text())
    assert not [k for k in after["timings_s"] if k.split()[0] in ("finetuned", "unlearn", "eval")]
    assert after["provenance"]["mixed"] and after["provenance"]["run"]["threads"] == mine
    warning = next(w for w in after["warnings"] if "computed with threads" in w)
    assert f"computed with threads {theirs}, this run has {mine}" in warning
    assert after["provenance"]["stages"]["finetuned"]["threads"] == theirs
    assert "computed with threads" in (new / "table.md").read_text() and "computed with threads" in (new / "report.html").read_text()


def test_robustness_probes_reach_results_and_tables(tiny_run):
    """Person rows are probed by default (quantization at 8 and 4 bits, relearning); the other
    scenarios are not; robustness.{md,csv,tex} hold what results.json holds."""
    out, _ = tiny_run
    results = json.loads((out / "results.json").read_text())
    probes = results["scenarios"]["person"]["robustness"]
    assert set(probes["methods"]) == set(METHODS)
    for row in [probes["finetuned"], probes["goal"], *probes["methods"].values()]:
        assert set(row) == {"quant8", "quant4", "relearn", "relearn_retain", "subset", "paraphrase", "extraction", "text_only"}
        assert set(row["quant4"]) == {"efficacy", "retain"} and set(row["relearn"]) == {"before", "after"}
        assert set(row["relearn_retain"]) == {"efficacy", "generality"}
        assert {"choice", "confirm", "hint_initial", "hint_job", "lens_1"} <= set(row["extraction"])
        assert set(row["text_only"]) == {"image", "text", "text_retain"}
        assert all(0 <= v <= 100 for v in row["text_only"].values())
    assert "robustness" not in results["scenarios"]["event"]
    csv_rows = [line.split(",") for line in (out / "robustness.csv").read_text().splitlines()[1:]]
    ga = {col: float(v) for sc, row, col, v in csv_rows if sc == "person" and row == "GA"}
    assert ga["P-Eff int4"] == probes["methods"]["GA"]["quant4"]["efficacy"]
    assert ga["P-Eff B relearnt"] == probes["methods"]["GA"]["relearn"]["after"]["efficacy"]
    assert ga["P-Profile-Eff text"] == probes["methods"]["GA"]["text_only"]["text"]
    assert ga["P-MC named"] == probes["methods"]["GA"]["extraction"]["choice"]
    assert ga["P-Eff relearnt D_r"] == probes["methods"]["GA"]["relearn_retain"]["efficacy"]
    assert ga["Over-refusal"] == results["scenarios"]["person"]["methods"]["GA"]["over_refusal"]
    assert "Robustness: person" in (out / "robustness.md").read_text() and (out / "robustness.tex").is_file()


def test_evaluation_during_unlearning_ends_at_the_final_model(tiny_run):
    """Every 2 of 5 steps and after the last, on the subset; step 0 is the Finetuned model, and the
    last point is what the final model answers on that subset (probed after unlearning)."""
    out, _ = tiny_run
    person = json.loads((out / "results.json").read_text())["scenarios"]["person"]
    traj, probes = person["trajectory"], person["robustness"]
    assert traj["goal"] == probes["goal"]["subset"]
    assert set(traj["methods"]) == {m for m in METHODS if REGISTRY.get(m).trains}  # MANU takes no step: no path
    for name, t in traj["methods"].items():
        assert [p["step"] for p in t["points"]] == [0, 2, 4, 5]
        assert {k: v for k, v in t["points"][0].items() if k != "step"} == probes["finetuned"]["subset"]
        assert {k: v for k, v in t["points"][-1].items() if k != "step"} == probes["methods"][name]["subset"]
    assert "Evaluation during unlearning: person" in (out / "robustness.md").read_text()
    assert (out / "plots" / "trajectory.png").is_file()


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


def test_tables_and_report_warn_when_the_targets_were_never_learnt(tiny_run):
    """The tiny preset is too short to learn names: its Finetuned model does not know the forget
    persons, and every output says that its person Efficacy measures nothing."""
    out, _ = tiny_run
    results = json.loads((out / "results.json").read_text())
    assert results["scenarios"]["person"]["knows_targets"]["ok"] is False
    assert any("scenario person" in w and "did not know the forget targets" in w for w in results["warnings"])
    for name in ("table.md", "table2.md", "privacy.md", "table.tex", "report.html"):
        assert "did not know the forget targets" in (out / name).read_text(), name


def test_changing_one_methods_lr_redoes_only_that_method(tiny_run, tmp_path):
    out, _ = tiny_run
    cfg = tmp_path / "c.yaml"
    from pebench.config import DEFAULT_METHOD_OVERRIDES

    # written overrides are the whole of them (issue 44): the swept ones, GA's lr changed
    overrides = {**DEFAULT_METHOD_OVERRIDES, "GA": {**DEFAULT_METHOD_OVERRIDES.get("GA", {}), "lr": 0.002}}
    cfg.write_text(RUN_CONFIG + "unlearn: " + json.dumps({"overrides": overrides}) + "\n")
    result = _run_here(out, "--scenarios", "person,event,both", "--config", str(cfg), "--force")
    assert result.returncode == 0, result.stderr[-3000:]
    timings = json.loads((out / "results.json").read_text())["timings_s"]
    redone = {k for k in timings if k.startswith("unlearn")}
    assert redone == {"unlearn person/GA", "unlearn event/GA", "unlearn both/GA",
                      *(f"unlearn sequential-{i}/GA" for i in (1, 2, 3))}


def test_rows_carry_pope_settings_forget_quality_and_mia(tiny_run):
    out, _ = tiny_run
    person = json.loads((out / "results.json").read_text())["scenarios"]["person"]
    for row in [person["finetuned"], person["goal"], *person["methods"].values()]:
        for key in ("forget_quality", "mia_loss_auc", "mia_zlib_auc", "mia_mink_auc", "mia_minkpp_auc", "world_f1",
                    *(f"world_{s}_{m}" for s in ("random", "popular", "adversarial") for m in ("accuracy", "f1", "yes_ratio"))):
            assert 0 <= row[key] <= 100, key
    assert person["goal"]["forget_quality"] == pytest.approx(1.0)
    assert person["finetuned"]["mia_loss_auc"] >= person["goal"]["mia_loss_auc"]  # Finetuned trained on the forget set
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


MINE = """from pebench.methods.base import METHODS, Method, nll, retain_nll


@METHODS.register("MINE")
class Mine(Method):
    name = "MINE"

    def loss(self, model, batches, ref):
        return -nll(model, batches["forget"]["answer"]) + {weight} * retain_nll(model, batches), {{}}
"""


def test_an_edited_method_file_is_recomputed_and_nothing_else(tiny_run, tmp_path):
    """Stage keys hashed the config and the version only, so an edited --method-file was served
    from cache. Now each method's key includes the source of the file that defines it."""
    out = _copy_run(tiny_run, tmp_path)
    method = tmp_path / "mine.py"
    args = ("--scenarios", "person", "--methods", "GA,MINE", "--method-file", str(method), "--force")
    method.write_text(MINE.format(weight=0.5))
    assert _run_here(out, *args).returncode == 0
    method.write_text(MINE.format(weight=0.25))
    result = _run_here(out, *args)
    assert result.returncode == 0, result.stderr[-3000:]
    redone = {k for k in json.loads((out / "results.json").read_text())["timings_s"] if k.startswith("unlearn")}
    assert redone == {"unlearn person/MINE"}


def test_seeds_report_mean_and_std(tiny_run, tmp_path):
    out = _copy_run(tiny_run, tmp_path)
    result = _run_here(out, "--scenarios", "person", "--methods", "GA", "--seeds", "2", "--force")
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
            env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", **STORE, "PEBENCH_JUDGE_KEY": secret})
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
    result = _run_here(out, "--scenarios", "event", "--methods", "GA", "--judge", "llm", "--config", str(cfg), "--force")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: LLM judge endpoint")
    assert not (out / "results.json").exists()
    assert all(p.read_bytes() == data for p, data in models.items())


# ---- report (tables, plots, report.html, `pebench report`) ------------------------------
def _load(out):
    from pebench.report import load_run

    return load_run(out)


def test_csv_tables_equal_results(tiny_run):
    import csv

    out, _ = tiny_run
    results = _load(out)
    rows = list(csv.DictReader((out / "table.csv").read_text().splitlines()))
    by_name = {r["Method"]: r for r in rows}
    assert list(by_name) == ["Finetuned", *METHODS, "Goal"]
    heads = {"Eff": "efficacy", "Gen": "generality", "Ret": "retain", "Scope": "scope", "Real": "real", "World": "world"}
    for scenario, letter in (("person", "P"), ("event", "E")):
        sc = results["scenarios"][scenario]
        for name, row in [("Finetuned", sc["finetuned"]), *sc["methods"].items(), ("Goal", sc["goal"])]:
            for head, key in heads.items():
                assert float(by_name[name][f"{letter}-{head}"]) == pytest.approx(row[key], abs=1e-12)
    both = list(csv.DictReader((out / "table2.csv").read_text().splitlines()))
    assert float(both[-1]["E-Eff"]) == pytest.approx(results["scenarios"]["both"]["goal"]["event_efficacy"])


def test_latex_and_markdown_mark_the_best_method(tiny_run):
    out, _ = tiny_run
    results = _load(out)
    tex = (out / "table.tex").read_text()
    assert "\\toprule" in tex and "\\bottomrule" in tex and "\\begin{tabular}{l" in tex
    methods = results["scenarios"]["person"]["methods"]
    # The first higher-is-better column on which the methods differ (a column where all tie is
    # left unmarked; the tiny model can leave every Efficacy at 100).
    column = next(c for c in ("efficacy", "generality", "retain") if len({m[c] for m in methods.values()}) > 1)
    best = max(m[column] for m in methods.values())
    assert f"\\textbf{{{best:.2f} [" in tex  # the value, then its bootstrap interval
    best_row = next(name for name, m in methods.items() if m[column] == best)
    md_line = [l for l in (out / "table.md").read_text().splitlines() if l.startswith(f"| {best_row} |")][0]
    assert f"**{best:.2f} [" in md_line
    assert "\\begin{tabular}" in (out / "table2.tex").read_text()


def test_tradeoff_plot_has_one_marker_per_row(tiny_run):
    import re

    out, _ = tiny_run
    results = _load(out)
    svg = (out / "plots" / "tradeoff.svg").read_text()
    ids = re.findall(r'id="marker-([^"]+)"', svg)
    expected = []
    for scenario, panels in (("person", 1), ("event", 1), ("both", 2)):
        sc = results["scenarios"][scenario]
        expected += ["Finetuned", *sc["methods"], "Goal"] * panels
    assert sorted(ids) == sorted(expected)
    for name in ("interference", "columns", "loss_curves"):
        assert (out / "plots" / f"{name}.png").stat().st_size > 1000 and (out / "plots" / f"{name}.svg").is_file()
    curves = re.findall(r'id="curve-person-([^"]+)"', (out / "plots" / "loss_curves.svg").read_text())
    assert sorted(curves) == sorted(m for m in METHODS if REGISTRY.get(m).trains)  # MANU prunes: no curve


def _chromium():
    import os
    import shutil

    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed")
    return path


def _headless(tmp_path, *args):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    return subprocess.run([_chromium(), *flags, *args], capture_output=True, text=True, timeout=120)


def test_report_html_loads_in_headless_chromium(tiny_run, tmp_path):
    import re

    from PIL import Image

    out, _ = tiny_run
    page = (out / "report.html").resolve().as_uri()
    dom = _headless(tmp_path, "--dump-dom", page)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "CONSOLE" not in dom.stderr, [l for l in dom.stderr.splitlines() if "CONSOLE" in l]
    root = re.search(r"<html[^>]*>", dom.stdout).group(0)
    assert "data-errors" not in root
    ready = int(re.search(r'data-ready="(\d+)"', root).group(1))
    assert ready >= 2 + 3 + 4  # Table 1, Table 2, three privacy tables, four figures
    html = (out / "report.html").read_text()
    assert 'src="data:image/png;base64,' in html  # self-contained: nothing fetched from elsewhere
    assert not re.search(r'(src|href)="(https?:|file:|/)', html)
    shot = tmp_path / "report.png"
    result = _headless(tmp_path, "--window-size=1300,2400", f"--screenshot={shot}", page)
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1300, 2400)
    colours = image.resize((130, 240)).getcolors(maxcolors=100000)
    assert colours is not None and len(colours) > 200  # tables and plots drawn, not a blank page


def test_pebench_report_rebuilds_everything_from_files(tiny_run, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(tiny_run[0], out, ignore=shutil.ignore_patterns("models", "dataset"))
    before = {p: (out / p).read_bytes() for p in ("table.md", "table.csv", "table.tex", "table2.md", "privacy.md")}
    for p in [*before, "report.html"]:
        (out / p).unlink()
    shutil.rmtree(out / "plots")
    result = pebench_in_process("report", out)
    assert result.returncode == 0, result.stderr[-2000:]
    assert all((out / p).read_bytes() == data for p, data in before.items())
    assert (out / "report.html").is_file() and (out / "plots" / "tradeoff.svg").is_file()


def test_pebench_report_compares_runs(tiny_run, tmp_path):
    import csv
    import shutil

    a, b = tmp_path / "small", tmp_path / "other"
    for d in (a, b):
        shutil.copytree(tiny_run[0], d, ignore=shutil.ignore_patterns("models", "dataset", "stages"))
    result = pebench_in_process("report", a, b, "--out", tmp_path / "cmp")
    assert result.returncode == 0, result.stderr[-2000:]
    md = (tmp_path / "cmp" / "comparison.md").read_text()
    assert "| P-Eff [small] | P-Eff [other] |" in md  # headers from the metric registry
    rows = list(csv.DictReader((tmp_path / "cmp" / "comparison.csv").read_text().splitlines()))
    assert {r["run"] for r in rows} == {"small", "other"}
    assert (tmp_path / "cmp" / "comparison.html").is_file() and (tmp_path / "cmp" / "comparison_tradeoff.png").is_file()


def test_pebench_report_on_a_non_run_fails_clearly(tmp_path):
    result = pebench_in_process("report", tmp_path)
    assert result.returncode == 2 and result.stderr.strip() == f"error: {tmp_path} has no results.json " \
                                                               "(is it a finished pebench run directory?)"


def test_run_log_is_written(tiny_run):
    out, _ = tiny_run
    text = (out / "run.log").read_text()
    assert "evaluate person/GA" in text and "done in" in text


# ---- reliability: kill and resume, SIGINT, --fresh ---------------------------------------
def _default_sigint() -> None:
    """Like a terminal's foreground job: SIGINT is not ignored (a background CI shell may ignore
    it, and a child would inherit that)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(out: Path, *extra):
    return subprocess.Popen([sys.executable, "-m", "pebench", "run", "--preset", "tiny", "--out", str(out), "--quiet", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint,
                            env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", **STORE})


def _wait_for_log(out: Path, marker: str, proc, timeout: float = 300) -> None:
    """Wait until this process's part of run.log (which earlier runs appended to) shows `marker`."""
    import time

    log = out / "run.log"
    start = log.stat().st_size if log.is_file() else 0
    deadline = time.time() + timeout
    while time.time() < deadline:
        if log.is_file() and marker in log.read_text()[start:]:
            return
        if proc.poll() is not None:
            pytest.fail(f"run ended before {marker!r}: {proc.stderr.read()[-2000:]}")
        time.sleep(0.05)
    pytest.fail(f"{marker!r} never appeared in run.log")


def _same_rows(a: dict, b: dict, methods) -> None:
    for row in ("finetuned", "goal"):
        assert a[row] == b[row], row
    for m in methods:
        assert a["methods"][m] == b["methods"][m], m


def test_killed_and_interrupted_runs_resume_to_the_same_results(tmp_path):
    import signal

    out = tmp_path / "run"
    # short training (the resume paths are those of any length) and no probes (their stages are cached alike)
    short = tmp_path / "short.yaml"
    short.write_text("foundation: {steps: 12}\nfinetune: {steps: 16}\nunlearn: {steps: 3}\nprobes: {scenarios: []}\n")
    settings = ("--scenarios", "person", "--methods", "GD,NPO", "--config", str(short))
    straight = _run_here(tmp_path / "straight", *settings)  # uninterrupted, in the session's store
    assert straight.returncode == 0, straight.stderr[-3000:]
    args = (*settings, "--cache", str(tmp_path / "store"))  # its own store: every stage is computed (and killed) here
    for marker, sig in (("train foundation", signal.SIGKILL), ("evaluate person/goal", signal.SIGKILL),
                        ("train person/GD", signal.SIGINT), ("train person/NPO", signal.SIGKILL)):
        proc = _start(out, *args)
        _wait_for_log(out, marker, proc)
        proc.send_signal(sig)
        if sig == signal.SIGINT:
            assert proc.wait(timeout=120) == 130
            assert "rerun the same command to resume" in proc.stderr.read()
        else:
            assert proc.wait(timeout=60) == -signal.SIGKILL
        assert not (out / "results.json").exists()
    result = _run_here(out, *args)
    assert result.returncode == 0, result.stderr[-3000:]
    resumed = json.loads((out / "results.json").read_text())["scenarios"]["person"]
    uninterrupted = json.loads((tmp_path / "straight" / "results.json").read_text())["scenarios"]["person"]
    _same_rows(resumed, uninterrupted, ("GD", "NPO"))
    # the temporaries of the killed writes were never renamed into place, and the resumed run removed them
    assert not [p for d in (out, tmp_path / "store") for p in d.rglob("*") if p.name.endswith((".tmp", ".old"))]
    assert (out / "models" / "finetuned").is_symlink() and (out / "models" / "finetuned" / "stage.json").is_file()


def test_a_killed_lora_run_resumes_to_the_same_results(tmp_path):
    """peft draws an adapter's init from torch's global generator: unless it is seeded right
    before, a resumed run (Finetuned and Goal loaded, nothing drawn) gets other adapters."""
    import signal

    cfg = tmp_path / "short.yaml"
    cfg.write_text("foundation: {steps: 3}\nfinetune: {steps: 4}\nunlearn: {steps: 3}\nprobes: {scenarios: []}\n")
    args = ("--scenarios", "person", "--methods", "GA", "--lora", "--config", str(cfg))
    straight = _run_here(tmp_path / "a", *args, "--no-cache")
    assert straight.returncode == 0, straight.stderr[-3000:]
    proc = _start(tmp_path / "b", *args, "--no-cache")
    _wait_for_log(tmp_path / "b", "train person/GA", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    resumed = _run_here(tmp_path / "b", *args, "--no-cache")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a, b = (json.loads((tmp_path / d / "results.json").read_text())["scenarios"]["person"] for d in "ab")
    _same_rows(a, b, ("GA",))


def test_fresh_recomputes_every_stage(tmp_path):
    cfg = tmp_path / "short.yaml"
    cfg.write_text("foundation: {steps: 3}\nfinetune: {steps: 3}\nunlearn: {steps: 2}\nprobes: {scenarios: []}\n")
    out = tmp_path / "run"
    args = ("--scenarios", "person", "--methods", "GD", "--config", str(cfg))
    first = _run_here(out, *args)
    assert first.returncode == 0, first.stderr[-3000:]
    before = json.loads((out / "results.json").read_text())["scenarios"]
    cached = _run_here(out, *args)
    assert not any(k.startswith(("foundation", "unlearn")) for k in json.loads((out / "results.json").read_text())["timings_s"])
    fresh = _run_here(out, *args, "--fresh")
    assert cached.returncode == fresh.returncode == 0, fresh.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert {"data", "foundation", "finetuned", "goal-person", "unlearn person/GD", "eval person/GD"} <= set(results["timings_s"])
    assert results["scenarios"] == before  # recomputed from scratch: the same numbers


def test_embedding_judge_end_to_end(tiny_run, tmp_path):
    out = _copy_run(tiny_run, tmp_path)
    result = _run_here(out, "--scenarios", "event", "--methods", "GA", "--judge", "embedding", "--force")
    assert result.returncode == 0, result.stderr[-3000:]
    event = json.loads((out / "results.json").read_text())["scenarios"]["event"]
    keywords = json.loads((tiny_run[0] / "results.json").read_text())["scenarios"]["event"]
    # the Finetuned model's answers about events it learnt score above the Goal's about events it never saw
    # (Efficacy is 1 - the judge's score on the forget events, Retain the score itself on the retained ones)
    assert 0 <= 1 - event["goal"]["efficacy"] < event["finetuned"]["retain"] <= 1
    assert event["goal"]["efficacy"] != keywords["goal"]["efficacy"]  # another judge, another score
    assert event["finetuned"]["scope"] == keywords["finetuned"]["scope"]  # the answers themselves are unchanged


def test_sequential_requests_chain_models_and_reach_the_tables(tiny_run):
    """Request 2 is unlearnt from request 1's model: its weights are exactly those of unlearning
    request 2 from request 1's model, and not those of unlearning it from the Finetuned model."""
    import torch

    from pebench.config import load_config
    from pebench.core.progress import Reporter
    from pebench.recipe.pipeline import Pipeline
    from pebench.splits import make_split

    out, _ = tiny_run
    results = json.loads((out / "results.json").read_text())
    seq = results["sequential"]
    assert set(seq["methods"]) == {"GA", "NPO"} and seq["requests"] == ["persons 1", "events", "persons 2"]
    assert [p["request"] for p in seq["methods"]["GA"]] == seq["requests"]
    assert set(seq["methods"]["GA"][-1]) == {"request", "persons 1", "events", "persons 2", "person_retain", "event_retain"}
    assert "Sequential requests" in (out / "robustness.md").read_text() and (out / "plots" / "sequential.png").is_file()

    cfg = load_config("tiny", path=out.parent / "run.yaml", overrides={"scenarios": ["person", "event", "both"]})
    pipe = Pipeline(cfg, out, Reporter(quiet=True))
    pipe.load_data()
    finetuned = pipe.finetuned(pipe.foundation())  # stored by the run: loaded, not trained
    both = make_split(pipe.data, "both", cfg.split, cfg.seed)
    chain = pipe.probes.sequential_models("GA", finetuned, both)
    _, _, first = next(chain)
    _, events, second = next(chain)
    weights = lambda vlm: torch.cat([p.detach().flatten() for p in vlm.model.parameters()])  # noqa: E731
    from_first = pipe.unlearn("GA", first, events, tag="sequential-2")
    from_finetuned = pipe.unlearn("GA", finetuned, events, tag="sequential-2")
    assert torch.equal(weights(second), weights(from_first))
    assert not torch.equal(weights(second), weights(from_finetuned))


def test_a_finished_run_opens_again_with_its_config_and_stored_finetuned_model(tiny_run, tmp_path):
    """`recipe.opened.open_run`, how the scripts that study a run get in: the run's own config,
    its data, and its Finetuned model taken from the store rather than trained again."""
    from pebench.core.errors import PebenchError
    from pebench.recipe.opened import open_run

    out, _ = tiny_run
    pipe, finetuned = open_run(out, Path(STORE["PEBENCH_CACHE"]))
    assert pipe.cfg == RunConfig.model_validate(json.loads((out / "config.json").read_text()))
    assert len(pipe.data.images) > 0 and finetuned.model is not None
    assert "finetuned" not in pipe.ctx.timings and "foundation" not in pipe.ctx.timings
    with pytest.raises(PebenchError, match="is not a run directory"):
        open_run(tmp_path)


def test_evaluating_during_unlearning_leaves_the_unlearnt_models_unchanged(tiny_run, tmp_path):
    out = _copy_run(tiny_run, tmp_path)  # (earlier tests may have rerun it with other settings: run it afresh)
    args = ("--scenarios", "person", "--methods", "GA,NPO", "--force")  # only person is probed
    assert _run_here(out, *args).returncode == 0
    before = json.loads((out / "results.json").read_text())
    cfg = tmp_path / "c.yaml"
    cfg.write_text("probes: {every: 0}\n")
    result = _run_here(out, *args, "--config", str(cfg))
    assert result.returncode == 0, result.stderr[-3000:]
    after = json.loads((out / "results.json").read_text())
    assert {k for k in after["timings_s"] if k.startswith("unlearn person/")} == {"unlearn person/GA", "unlearn person/NPO"}
    assert after["scenarios"]["person"]["methods"] == before["scenarios"]["person"]["methods"]
    assert "trajectory" in before["scenarios"]["person"] and "trajectory" not in after["scenarios"]["person"]


def test_report_says_so_when_the_dataset_is_gone(tiny_run, tmp_path):
    """A run whose dataset was pruned from the store: the report warns instead of silently
    dropping every example image."""
    import shutil

    from pebench.report import write_report

    out = tmp_path / "copy"
    shutil.copytree(tiny_run[0], out, ignore=shutil.ignore_patterns("models", "dataset"))
    results = json.loads((out / "results.json").read_text())
    results["dataset"]["path"] = str(tmp_path / "pruned")
    (out / "results.json").write_text(json.dumps(results))
    html = write_report(out).read_text()
    assert "is gone (pruned from the stage store" in html and 'src="data:image/png;base64,iVBOR' not in html.split("Examples")[-1]
