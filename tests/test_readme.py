"""The README's results and base sections are generated from stored run files; a hand edit fails."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script(*args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "readme_results.py"), *args],
                          capture_output=True, text=True, timeout=120)


def test_readme_results_match_the_stored_run():
    result = _script("--check")
    assert result.returncode == 0, result.stderr


def test_a_hand_edit_of_a_results_table_is_caught():
    sys.path.insert(0, str(ROOT / "scripts"))
    import readme_results

    generated = readme_results.load_reference()
    for page, names in readme_results.PAGES.items():
        text = page.read_text(encoding="utf-8")
        assert readme_results.render(text, names, generated) == text, page
        begin = text.index(readme_results.markers(names[0])[0])
        row = text.index("| ", text.index("\n| ", begin) + 1)  # the first cell of a generated table
        edited = text[:row] + "| 99.99 " + text[row + 2:]
        assert readme_results.render(edited, names, generated) != edited, page


def test_the_front_page_is_short_with_the_two_commands_on_top():
    """Issue 26: the README is a front page (about 250 lines at most); the two commands come first."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    first_blocks = readme.split("```bash\n")[1:3]
    assert "pebench run" in first_blocks[0] and "python -m pytest tests" in first_blocks[1]
    assert readme.index("```bash") < readme.index("<!-- BEGIN GENERATED: front")


def test_columns_that_cannot_rank_the_methods_are_named():
    """Issue 27: a column that reads the same for every method is listed in the README's Power
    section (generated), so a reader never takes it for a ranking."""
    import json

    sys.path.insert(0, str(ROOT / "scripts"))
    from readme_results import constant_columns

    results = json.loads((ROOT / "docs" / "results" / "results.json").read_text(encoding="utf-8"))
    person = results["scenarios"]["person"]
    assert "mia_loss_auc" not in constant_columns(person, "person")
    person["methods"] = {m: {**row, "mia_loss_auc": 1.0} for m, row in person["methods"].items()}
    assert constant_columns(person, "person")["mia_loss_auc"] == 1.0


def test_a_reference_run_made_on_another_base_is_refused(monkeypatch, tmp_path):
    """Issue 25: re-pretraining the base makes every stored number stale; the generated pages
    refuse a results.json whose recorded base is not the shipped one."""
    import json

    sys.path.insert(0, str(ROOT / "scripts"))
    import readme_results

    results = json.loads(readme_results.RESULTS.read_text(encoding="utf-8"))
    assert readme_results.made_on_the_shipped_base(results)
    stale = tmp_path / "results.json"
    stale.write_text(json.dumps({**results, "base": {"model": "tiny-base", "fingerprint": "0" * 64}}))
    monkeypatch.setattr(readme_results, "RESULTS", stale)
    import pytest

    with pytest.raises(SystemExit, match="another base"):
        readme_results.load_reference()


def test_a_reference_run_made_by_other_code_is_refused(monkeypatch, tmp_path):
    """Issue 44: the stored run records each code component's hash; the pages refuse a run whose
    record differs from this checkout's code (or that records none), naming the component."""
    import json

    import pytest

    sys.path.insert(0, str(ROOT / "scripts"))
    import readme_results

    results = json.loads(readme_results.RESULTS.read_text(encoding="utf-8"))
    assert readme_results.made_by_other_code(results) == ""
    stale = tmp_path / "results.json"
    monkeypatch.setattr(readme_results, "RESULTS", stale)
    edited = {**results, "code": {**results["code"], "components": {**results["code"]["components"], "eval": "0" * 16}}}
    stale.write_text(json.dumps(edited))
    with pytest.raises(SystemExit, match="other code .*eval 0000000000000000"):
        readme_results.load_reference()
    stale.write_text(json.dumps({k: v for k, v in results.items() if k != "code"}))
    with pytest.raises(SystemExit, match="records no code identity"):
        readme_results.load_reference()


# Measured on the reference run (docs/limitations.md): the Goal names persons less well at events
# it never saw them at (event Scope; the tiny model binds identity partly to scene).
GOAL_CELLS_MISSED = {("event", "event", "scope"), ("both", "event", "scope")}


def test_the_reference_runs_goal_keeps_what_the_finetuned_model_keeps():
    """Issue 42's target, checked on the stored reference run: every kept cell (Retain, Scope,
    Real, World per concept and scenario) of the Goal within 5 points (0.05) of Finetuned or
    above, except the cells listed, each measured and explained in docs/limitations.md."""
    import json

    sys.path.insert(0, str(ROOT / "scripts"))
    import readme_goal
    import readme_results

    results = json.loads(readme_results.RESULTS.read_text(encoding="utf-8"))
    cells = readme_goal.goal_cells(results)
    assert len(cells) == 16  # person 4, event 4, both 2 × 4
    missed = {(c["scenario"], c["concept"], c["column"]) for c in cells if not c["met"]}
    assert missed == GOAL_CELLS_MISSED


def test_every_forget_cell_of_the_reference_run_rests_on_at_least_ten_targets():
    """Issue 27: in every scenario of the stored default run, each row's Efficacy, Generality and
    Scope cell (of either concept) is measured over at least 10 forget targets, so its interval
    is a bootstrap over 10 persons or events, not 4."""
    results = json.loads((ROOT / "docs" / "results" / "results.json").read_text(encoding="utf-8"))
    for scenario, sc in results["scenarios"].items():
        assert sc["n"], scenario
        for row, cells in sc["n"].items():
            for column, n in cells.items():
                if column.rsplit("_", 1)[-1] in ("efficacy", "generality", "scope"):
                    assert n["targets"] >= 10, (scenario, row, column, n)


def test_a_full_run_made_with_other_settings_is_refused(monkeypatch, tmp_path):
    """A stored `--preset full` run serves the sequential-requests rows; made with another
    config than the default run's (say an old learning rate of one of its methods) it would
    print that config's numbers beside this one's, so the generated pages refuse it."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import pytest
    import readme_results
    from readme_robustness import full_run_mismatch

    results = json.loads(readme_results.RESULTS.read_text(encoding="utf-8"))
    config = results["config"]
    full = {**results, "config": {**config, "probes": {**config["probes"], "sequential": True}},
            "sequential": {"methods": {config["methods"][0]: []}}}
    assert full_run_mismatch(config, full) == ""
    method = next(iter(full["sequential"]["methods"]))
    overrides = {**full["config"]["unlearn"]["overrides"], method: {"lr": 0.123}}
    stale = {**full, "config": {**full["config"], "unlearn": {**full["config"]["unlearn"], "overrides": overrides}}}
    assert full_run_mismatch(config, stale) == f"unlearn.overrides.{method}"
    stale["config"]["finetune"] = {**stale["config"]["finetune"], "steps": 1}
    assert full_run_mismatch(config, stale) == f"finetune, unlearn.overrides.{method}"
    path = tmp_path / "full.json"
    path.write_text(json.dumps(stale))
    monkeypatch.setattr(readme_results, "FULL", path)
    with pytest.raises(SystemExit, match="another config"):
        readme_results.load_reference()


def test_no_column_of_the_reference_run_is_the_same_for_every_method():
    """Issue 27: in every scenario of the stored default run, each Table 1/2 and privacy column
    separates at least two methods (a column constant over 17 methods could not rank them)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from readme_results import constant_columns

    results = json.loads((ROOT / "docs" / "results" / "results.json").read_text(encoding="utf-8"))
    assert set(results["scenarios"]) == {"person", "event", "both"}
    for scenario, sc in results["scenarios"].items():
        assert len(sc["methods"]) >= 17, scenario
        constant = constant_columns(sc, scenario)
        # forget quality at its resolution floor (10 forget identities against the Goal's 10: p ≥ 1.1e-5)
        # means every method's forget losses lie apart from all the Goal's; the table note says so
        floor = {k: v for k, v in constant.items() if k.endswith("forget_quality") and v < 2e-5}
        assert constant.keys() - floor.keys() == set(), scenario


def test_the_stability_line_names_the_targets_it_misses():
    """The generated stability sentence says which median std is above 5 points and whether the
    ranking agreement reaches 0.6, from the numbers (hand-made summaries)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import readme_results
    import readme_stability

    assert readme_stability._std_verdict({"median_std_person_efficacy": 5.66, "median_std_person_retain": 3.5}) \
        == "**Efficacy above it**"
    assert readme_stability._std_verdict({"median_std_person_efficacy": 6.0, "median_std_person_retain": 5.5}) \
        == "**Efficacy and Retain above it**"
    assert readme_stability._std_verdict({"median_std_person_efficacy": 5.0, "median_std_person_retain": 1.0}) == "met"
    stored = json.loads(readme_results.STABILITY.read_text(encoding="utf-8"))
    line = readme_stability.stability_lines(stored)
    assert ("target ≥ 0.6: met" in line) == (stored["summary"]["mean_kendall_tau"] >= 0.6)


def test_the_stability_line_says_when_it_was_measured_with_other_settings():
    """A stability record made with other fine-tuning or method settings than the reference run
    (or one that stores none) is flagged as describing the earlier defaults; seeds and probes,
    which the benchmark changes by design, do not count."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import readme_results
    from readme_stability import settings_unlike_the_run, stability_lines

    stored = json.loads(readme_results.STABILITY.read_text(encoding="utf-8"))
    results = json.loads((ROOT / "docs" / "results" / "results.json").read_text(encoding="utf-8"))
    same = {**stored, "base": results["base"],
            "config": {**results["config"], "seeds": 3, "probes": {**results["config"]["probes"], "scenarios": []}}}
    assert not stability_lines(same, results).startswith("Measured")
    other = {**same, "config": {**same["config"], "finetune": {**results["config"]["finetune"], "lr": 0.003}}}
    assert settings_unlike_the_run(other, results) == ["finetune"]
    assert stability_lines(other, results).startswith("Measured with other settings")
    assert "differs in `finetune`" in stability_lines(other, results)
    unknown = {k: v for k, v in same.items() if k != "config"}
    assert "stores no settings" in stability_lines(unknown, results)


def test_the_stability_line_compares_the_spread_with_the_runs_own_intervals():
    """The standard error read off a 95% interval is its width / 3.92 (hand-made intervals), and
    the sentence comparing it with the seeds' spread appears only for a record made with the
    run's settings (one that stores none cannot be tied to the run's tables)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from readme_stability import bootstrap_se, stability_lines

    stored = json.loads((ROOT / "docs" / "results" / "stability.json").read_text(encoding="utf-8"))
    results = {"config": stored["config"],
               "scenarios": {"person": {"forget": {"persons": list(range(10))},
                                        "ci95": {"methods": {"A": {"efficacy": [10.0, 49.2]}, "B": {"efficacy": [0.0, 0.0]}}}}}}
    assert bootstrap_se(results, "efficacy") == {"A": pytest.approx(10.0), "B": 0.0}
    line = stability_lines(stored, results)
    assert "predict the spread of person Efficacy: its median standard error over forget targets in the reference run is 5.00" in line
    assert "draws its own 10 forget persons" in line
    assert "standard error" not in stability_lines({k: v for k, v in stored.items() if k != "config"}, results)
