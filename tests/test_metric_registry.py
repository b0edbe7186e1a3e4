"""The metric registry: declarations, needs, and what the tables read from it, on hand-made
records with known answers."""

import math

import pytest

from pebench.eval.metrics import METRICS, Metric, RowInputs, column_metric, evaluation_code, rank, row_metrics
from pebench.report.tables import (TABLE1_COLUMNS, TABLE2_COLUMNS, Cell, Table, column_head, metrics_note,
                                   privacy_tables, to_csv, to_html, to_latex, to_markdown)


def _mia(set_name: str, identity: int, nll: float) -> dict:
    return {"set": set_name, "kind": "identity", "person_id": identity, "event_id": 0, "nll": nll, "loss": -nll,
            "zlib": -nll, "mink": -nll, "minkpp": -nll}


def test_every_table_column_is_a_registered_metric_with_a_scale_and_direction():
    for concept in ("person", "event"):
        for column in {*TABLE1_COLUMNS, *TABLE2_COLUMNS}:
            metric = column_metric(concept, column)
            assert metric.table == "table1" and metric.direction == "higher" and metric.cell is not None
    assert column_metric("event", "efficacy").scale == "unit" and column_metric("person", "efficacy").scale == "percent"
    assert column_head("event", "scope") == "E-Scope" and column_head("person", "world") == "P-World"


def test_a_metric_must_declare_a_known_scale_direction_and_needs():
    with pytest.raises(ValueError, match="direction"):
        Metric("x", "X", "unit", "sideways", "m", "a", compute=lambda inputs: 0.0)
    with pytest.raises(ValueError, match="needs"):
        Metric("x", "X", "unit", "higher", "m", "a", needs=("the moon",), compute=lambda inputs: 0.0)
    with pytest.raises(ValueError, match="not both"):
        Metric("x", "X", "unit", "higher", "m", "a", cell=METRICS.get("person_efficacy").cell, compute=lambda i: 0.0)


def test_row_metrics_are_computed_only_when_their_needs_are_met():
    samples = [_mia("mia_member", p, 0.1) for p in range(3)] + [_mia("mia_nonmember", 10 + p, 2.0) for p in range(3)]
    without_goal = row_metrics(RowInputs(samples))
    assert without_goal["mia_loss_auc"] == 1.0 and "forget_quality" not in without_goal and "forget_ks" not in without_goal
    assert row_metrics(RowInputs(samples, goal_member_nll=[0.1, 0.1, 0.1]))["forget_ks"] == 0.0  # same losses as the Goal
    assert row_metrics(RowInputs([{"set": "f_train"}], goal_member_nll=[1.0])) == {}  # no membership records


@pytest.mark.parametrize("direction, values, best", [("higher", [1.0, 3.0, 2.0], [3.0]), ("lower", [1.0, 3.0, 2.0], [1.0]),
                                                     ("chance", [0.9, 0.45, 0.2, 0.55], [0.45, 0.55])])
def test_the_best_method_value_follows_the_columns_direction(direction, values, best):
    rows = [(f"m{i}", [Cell(v, direction=direction)]) for i, v in enumerate(values)] + [("Goal", [Cell(0.5, direction=direction)])]
    table = Table("t", ["Method", "c"], rows).mark_best()
    assert [cells[0].value for name, cells in table.rows if cells[0].best] == best
    assert rank(0.45, "chance") == rank(0.55, "chance") > rank(0.2, "chance")


def test_no_value_is_marked_best_when_every_method_ties():
    table = Table("t", ["Method", "c"], [("a", [Cell(1.0)]), ("b", [Cell(1.0)])]).mark_best()
    assert not any(cells[0].best for _, cells in table.rows)
    assert Table("t", ["Method", "c"], [("a", [Cell(1.0)])]).mark_best().rows[0][1][0].best  # a lone method is the best


def test_table_notes_are_written_from_the_metric_declarations():
    note = metrics_note([("P-Eff", column_metric("person", "efficacy")), ("P-Scope", column_metric("person", "scope")),
                         ("AUC loss", METRICS.get("mia_loss_auc"))])
    assert note.startswith("P-Eff/P-Scope: higher is better; AUC loss: 0.5 is best. ")
    assert "P-Eff: name precision (0-100); P-Scope: ROUGE-L of the event sentence (0-1)" in note


def test_a_newly_registered_metric_reaches_every_table_format(monkeypatch):
    metric = Metric("mia_spread", "AUC spread", "unit", "lower", "spread of the attacks' AUCs", "max - min over attacks",
                    table="privacy", needs=("membership",), compute=lambda inputs: 0.25)
    monkeypatch.setitem(METRICS._items, metric.name, metric)
    samples = [_mia("mia_member", 0, 0.1), _mia("mia_nonmember", 1, 2.0)]
    assert row_metrics(RowInputs(samples))["mia_spread"] == 0.25
    results = {"scenarios": {"person": {"finetuned": {"mia_spread": 0.5}, "goal": {"mia_spread": 0.0},
                                        "methods": {"GA": {"mia_spread": 0.3}, "NPO": {"mia_spread": 0.1}}}}}
    (table,) = privacy_tables(results)
    assert table.header == ["Method", "AUC spread"]
    assert [name for name, cells in table.rows if cells[0].best] == ["NPO"]  # lower is better
    assert "| **0.100** |" in to_markdown(table) and "AUC spread" in to_csv(table).splitlines()[0]
    assert r"\textbf{0.100}" in to_latex(table) and "<strong>0.100</strong>" in to_html(table)
    assert "AUC spread: spread of the attacks' AUCs (0-1)" in table.note and not math.isnan(table.rows[1][1][0].value)


def test_a_plugin_metric_enters_the_evaluation_key(monkeypatch, tmp_path):
    plugin = tmp_path / "my_metric.py"
    plugin.write_text("def spread(inputs):\n    return 0.0\n")
    namespace: dict = {}
    exec(compile(plugin.read_text(), str(plugin), "exec"), namespace)
    namespace["spread"].__module__ = "pebench_user_my_metric"
    before = evaluation_code()
    monkeypatch.setitem(METRICS._items, "x", Metric("x", "X", "unit", "higher", "m", "a", compute=namespace["spread"]))
    with_plugin = evaluation_code()
    plugin.write_text("def spread(inputs):\n    return 1.0\n")
    assert before != with_plugin != evaluation_code() and with_plugin.startswith(before)


def test_a_plugin_column_metric_enters_the_evaluation_key(monkeypatch, tmp_path):
    """A column metric (a cell, no compute) registered from a --method-file: editing it re-evaluates."""
    from pebench.eval import metrics

    monkeypatch.setattr(METRICS, "_items", dict(METRICS._items))
    monkeypatch.setattr(metrics, "PLUGIN_SOURCES", {})
    plugin = tmp_path / "my_column.py"
    plugin.write_text("from pebench.eval.cells import Cell\nfrom pebench.eval.metrics import Metric, register\n"
                      "register(Metric('person_echo', 'Echo', 'percent', 'higher', 'm', 'a', concept='person',\n"
                      "                cell=Cell('f_train', 'identity', True, lambda s: 1.0, 'person_id')))\n")
    before = evaluation_code()
    exec(compile(plugin.read_text(), str(plugin), "exec"), {"__name__": "my_column", "__file__": str(plugin)})
    with_plugin = evaluation_code()
    plugin.write_text(plugin.read_text().replace("1.0", "0.5"))
    assert before != with_plugin != evaluation_code() and with_plugin.startswith(before)
