"""Tables, seeds aggregation and method order on hand-made results (no model needed)."""

import csv

import pytest

from pebench.recipe.support import aggregate_seeds
from pebench.report import in_config_order
from pebench.report.tables import table1, to_csv, to_latex, to_markdown


def _row(eff, ret):
    return {"efficacy": eff, "generality": eff, "retain": ret, "scope": 1.0, "real": 50.0, "world": 50.0}


def _scenario(ga, gd):
    return {"split": {"forget_persons": [1]}, "finetuned": _row(0, 90), "goal": _row(100, 95),
            "methods": {"GA": _row(*ga), "GD": _row(*gd)}}


def test_aggregate_seeds_mean_and_population_std():
    runs = [{"person": _scenario((80, 60), (70, 70))}, {"person": _scenario((90, 50), (70, 80))}]
    agg = aggregate_seeds(runs)["person"]
    assert agg["methods"]["GA"]["efficacy"] == pytest.approx(85) and agg["std"]["methods"]["GA"]["efficacy"] == pytest.approx(5)
    assert agg["std"]["methods"]["GD"]["efficacy"] == 0 and agg["std"]["goal"]["retain"] == 0
    assert aggregate_seeds(runs[:1]) == runs[0]  # one seed: unchanged, no std


def test_tables_show_std_and_bold_the_best_method():
    results = {"scenarios": aggregate_seeds([{"person": _scenario((80, 60), (70, 70))},
                                             {"person": _scenario((90, 50), (70, 80))}])}
    table = table1(results)
    md = to_markdown(table)
    assert "| GA | **85.00 ± 5.00** |" in md  # best efficacy among methods (Goal is a reference)
    assert "**100.00" not in md
    tex = to_latex(table)
    assert r"\textbf{85.00 $\pm$ 5.00}" in tex and r"\toprule" in tex
    rows = list(csv.DictReader(to_csv(table).splitlines()))
    assert rows[1]["Method"] == "GA" and float(rows[1]["P-Eff"]) == 85.0 and float(rows[1]["P-Eff std"]) == 5.0


def test_methods_follow_the_config_order():
    results = {"config": {"methods": ["GD", "GA"]}, "scenarios": {"person": _scenario((1, 1), (2, 2))}}
    assert list(in_config_order(results)["scenarios"]["person"]["methods"]) == ["GD", "GA"]


def test_a_method_without_unlearning_steps_has_no_trajectory_row():
    """A results file whose trajectory holds a method with the Finetuned point alone (MANU prunes,
    takes no step) must not show that point as the method's final model."""
    from pebench.report.robustness import stepped, trajectory_tables

    point = lambda step, eff: {"step": step, "efficacy": eff, "retain": 90.0}  # noqa: E731
    traj = {"goal": {"efficacy": 100.0, "retain": 95.0}, "epsilon": 0.05,
            "methods": {"GA": {"points": [point(0, 0.0), point(5, 80.0)], "chosen": None},
                        "MANU": {"points": [point(0, 0.0)], "chosen": None}}}
    assert set(stepped(traj)) == {"GA"}
    results = {"config": {"probes": {"subset": 12, "every": 2}},
               "scenarios": {"person": {"methods": {"GA": {}, "MANU": {}}, "trajectory": traj}}}
    (table,) = trajectory_tables(results)
    assert [name for name, _ in table.rows] == ["GA", "Goal"]
