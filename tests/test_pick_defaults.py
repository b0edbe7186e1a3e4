"""The rule that picks each method's default from a sweep (scripts/pick_defaults.py), on
hand-made sweep rows with known answers."""

import importlib.util
from pathlib import Path

import pytest

_path = Path(__file__).parents[1] / "scripts" / "pick_defaults.py"
_spec = importlib.util.spec_from_file_location("pick_defaults", _path)
rule = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rule)


def _row(method, lr, efficacy, retain, scenario="person", distinct=0.5, empty=0.0, **extra):
    return {"scenario": scenario, "method": method, "lr": lr, "steps": 40, "efficacy": efficacy, "retain": retain,
            "answers_distinct": distinct, "answers_empty": empty, **extra}


def test_the_score_is_the_harmonic_mean_of_efficacy_and_retain():
    assert rule.score(_row("GA", 1e-4, 60.0, 60.0)) == pytest.approx(0.6)
    assert rule.score(_row("GA", 1e-4, 100.0, 0.0)) == 0.0
    assert rule.score(_row("GA", 1e-4, 0.5, 1.0, scenario="event")) == pytest.approx(2 * 0.5 / 1.5)
    both = {"scenario": "both", "person_efficacy": 100.0, "event_efficacy": 0.5, "person_retain": 80.0,
            "event_retain": 1.0}
    assert rule.score(both) == pytest.approx(2 * 0.75 * 0.9 / 1.65)


def test_a_setting_that_forgets_the_retained_persons_too_loses_to_a_trade_off():
    """PO's person rows on the shipped base: lr 1e-3 forgets everything (E 100, R 0), 1e-4 trades
    (E 46, R 48.5). The arithmetic mean preferred the collapse (0.50 against 0.47)."""
    rows = [_row("PO", 1e-3, 100.0, 0.0), _row("PO", 1e-4, 46.0, 48.5)]
    assert rule.pick(rows)["PO"]["lr"] == 1e-4


def test_degenerate_settings_are_dropped_and_reported_when_nothing_else_is_left():
    rows = [_row("GA", 1e-3, 100.0, 90.0, distinct=0.05), _row("GA", 1e-4, 50.0, 90.0),
            _row("KL", 1e-4, 90.0, 90.0, empty=0.6)]
    picked = rule.pick(rows)
    assert picked["GA"] == {"lr": 1e-4, "steps": 40, "score": pytest.approx(0.6429, abs=1e-4), "degenerate": False,
                            "edge": True}  # the lowest lr tried: not bracketed
    assert picked["KL"]["degenerate"]


def test_the_worst_scenario_decides_and_another_knob_is_picked_by_the_same_rule():
    rows = [{**_row("MANU", None, 100.0, 4.0), "knob": "fraction", "value": 0.2},
            {**_row("MANU", None, 0.6, 0.72, scenario="event"), "knob": "fraction", "value": 0.2},
            {**_row("MANU", None, 55.0, 53.0), "knob": "fraction", "value": 0.1},
            {**_row("MANU", None, 0.3, 0.9, scenario="event"), "knob": "fraction", "value": 0.1}]
    picked = rule.pick(rows)["MANU"]
    assert picked["fraction"] == 0.1 and "lr" not in picked
    assert picked["score"] == pytest.approx(rule.harmonic(0.3, 0.9), abs=1e-4)  # event, its worse scenario


def test_a_collapse_in_one_scenario_is_not_paid_for_by_the_other():
    """Mean over scenarios: 1e-3 (person 0.98, event 0.10 → mean 0.54) beat 1e-4 (0.50 and
    0.50); the worst scenario picks 1e-4, and a pick between two tried values is bracketed."""
    rows = [_row("GA", 1e-3, 98.0, 98.0), _row("GA", 1e-3, 0.1, 0.1, scenario="event"),
            _row("GA", 1e-4, 50.0, 50.0), _row("GA", 1e-4, 0.5, 0.5, scenario="event"),
            _row("GA", 1e-5, 10.0, 90.0), _row("GA", 1e-5, 0.1, 0.9, scenario="event")]
    picked = rule.pick(rows)["GA"]
    assert picked["lr"] == 1e-4 and picked["score"] == pytest.approx(0.5) and not picked["edge"]
    assert rule.pick(rows[:4])["GA"]["edge"]  # 1e-4 the lowest tried


def _sweep_table():
    import sys

    sys.path.insert(0, str(_path.parent))
    import sweep_table

    return sweep_table


def test_the_sweep_table_shows_the_pick_and_every_settings_score():
    """Hand-made sweeps: the row names the picked lr, its person and event E / R, the score at
    each lr tried (a collapsed setting marked) and the file the rows came from."""
    rows = [_row("GA", 1e-4, 60.0, 60.0), _row("GA", 1e-4, 0.5, 1.0, scenario="event"),
            _row("GA", 3e-5, 20.0, 100.0), _row("GA", 3e-5, 0.1, 1.0, scenario="event"),
            _row("GA", 1e-3, 100.0, 100.0, distinct=0.01), _row("GA", 1e-3, 1.0, 1.0, scenario="event")]
    text = _sweep_table().table({"sweep_x.json": rows})
    line = next(x for x in text.splitlines() if x.startswith("| GA |"))
    assert line == ("| GA | lr 1e-4 | 60 / 60 | 0.50 / 1.00 | 3e-5: 0.18 · 1e-4: 0.60 · 1e-3: 1.00 (degenerate) "
                    "| `sweep_x.json` |")


def test_picked_json_and_the_methods_page_are_what_the_stored_sweeps_give():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(_path.parent / "sweep_table.py"), "--check"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
