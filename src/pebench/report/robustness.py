"""The robustness table ("Does it really forget?", `pebench.probes`), one per probed scenario:
each row's Efficacy, then Efficacy and Retain after quantizing its weights, the profile
questions by image and by name (text-only), then Efficacy (and Generality) on the held-out
half of the forget targets before and after the relearning attack. The Goal row never learnt
the targets (what "truly forgotten" looks like under each attack); the Finetuned row shows what
an attack changes by itself."""

from __future__ import annotations

from typing import Callable

from pebench.eval.metrics import column_metric
from pebench.report.tables import SCENARIO_ORDER, Cell, Table

Getter = Callable[[dict, dict], "float | None"]


def _scale(key: str, scenario: str) -> str:
    """The scale of a results key of `scenario` (`efficacy`, `person_retain`): its column metric's."""
    concept, column = key.split("_", 1) if "_" in key else (scenario, key)
    return column_metric(concept, column).scale


def _concept_columns(concept: str, prefix: str, probes: dict) -> list[tuple[str, Getter, str]]:
    tag = concept[0].upper()
    unit = lambda column: column_metric(concept, column).scale  # noqa: E731
    eff, ret, gen = (prefix + c for c in ("efficacy", "retain", "generality"))
    columns: list[tuple[str, Getter, str]] = [(f"{tag}-Eff", lambda m, p: m.get(eff), unit("efficacy"))]
    if "paraphrase" in probes:
        columns += [(f"{tag}-Gen", lambda m, p: m.get(gen), unit("generality")),
                    (f"{tag}-Gen paraphrased", lambda m, p: p.get("paraphrase", {}).get(gen), unit("generality"))]
    for bits in sorted((int(k[5:]) for k in probes if k.startswith("quant")), reverse=True):
        q = f"quant{bits}"
        columns += [(f"{tag}-Eff int{bits}", lambda m, p, q=q: p.get(q, {}).get(eff), unit("efficacy")),
                    (f"{tag}-Ret int{bits}", lambda m, p, q=q: p.get(q, {}).get(ret), unit("retain"))]
    if "text_only" in probes and concept == "person":
        columns += [(f"P-Profile-Eff {route}", lambda m, p, r=route: p.get("text_only", {}).get(r), "percent")
                    for route in ("image", "text")]
        columns += [("P-Profile-Ret text", lambda m, p: p.get("text_only", {}).get("text_retain"), "percent")]
    if "relearn" in probes:
        columns += [(f"{tag}-Eff half B", lambda m, p: p.get("relearn", {}).get("before", {}).get(eff), unit("efficacy")),
                    (f"{tag}-Eff B relearnt", lambda m, p: p.get("relearn", {}).get("after", {}).get(eff), unit("efficacy")),
                    (f"{tag}-Gen B relearnt", lambda m, p: p.get("relearn", {}).get("after", {}).get(gen), unit("generality"))]
    if "relearn_retain" in probes:
        columns += [(f"{tag}-Eff relearnt D_r", lambda m, p: p.get("relearn_retain", {}).get(eff), unit("efficacy"))]
    if "extraction" in probes and concept == "person":
        columns += [(EXTRACTION_HEADS.get(key, f"P-Lens {key[5:]}"), lambda m, p, k=key: p.get("extraction", {}).get(k), "percent")
                    for key in probes["extraction"]]
    return columns


EXTRACTION_HEADS = {"choice": "P-MC named", "hint_initial": "P-Hint initial named", "hint_job": "P-Hint job named",
                    "confirm": "P-Confirm correct"}


def _note(config: dict, probes: dict) -> str:
    pc = config.get("probes", {})
    profile = ("Profile: the forget persons' job and birthplace asked with their D_f_train images (image) and by name "
               "without an image (text), Efficacy = share not answered; Ret text: the retained persons' by name. "
               if "text_only" in probes else "")
    return ("Higher Efficacy = more forgotten. Gen paraphrased: Generality with the D_f_test questions in phrasings "
            "no training or unlearning step uses (informative where the Finetuned row is low). int<b>: every linear "
            "weight but the output head quantized per output channel to b bits (round-to-nearest, simulated). "
            f"{profile}Half B: the forget targets held out from the relearning attack, which fine-tunes "
            f"{pc.get('relearn_steps')} steps (lr {pc.get('relearn_lr')}) on the other half's correct answers. "
            + ("Relearnt D_r: Efficacy after the same steps on the retained targets' questions only (unrelated data). "
               if "relearn_retain" in probes else "")
            + ("Extraction, on the forget persons' D_f_test images, % that leaks (lower = less recoverable): MC, the "
               "true name among four PEBench names (chance 25); Confirm, 'Is this NAME?' answered right for the true "
               "and a wrong name (chance 50); Hint, the initial or the job given; Lens l, the four names scored through "
               "layer l's hidden states (the last = the model's own likelihood; chance 25). "
               if "extraction" in probes else "")
            + "Over-refusal: % of D_r questions answered with a refusal. "
            "Goal: never learnt the targets; Finetuned: what an attack changes by itself.")


def _unknown_warning(scenario: str, probes: dict, config: dict) -> str:
    """A warning when the Finetuned model does not answer the paraphrases or the profile questions
    by name: the column then cannot show forgetting (every row looks forgotten)."""
    limits = {"person": config.get("eval", {}).get("knows_person_efficacy", 20.0),
              "event": config.get("eval", {}).get("knows_event_efficacy", 0.2)}
    out = []
    for key, value in probes["finetuned"].get("paraphrase", {}).items():
        concept = key.split("_")[0] if "_" in key else scenario
        if value > limits[concept]:
            out.append(f"Warning: the Finetuned model does not answer the {concept} paraphrases (Generality {value:g} > "
                       f"{limits[concept]:g}), so 'Gen paraphrased' cannot measure forgetting here.")
    for route, value in probes["finetuned"].get("text_only", {}).items():
        if route != "text_retain" and value > limits["person"]:
            out.append(f"Warning: the Finetuned model does not answer the forget persons' profile questions by {route} "
                       f"(Efficacy {value:g} > {limits['person']:g}), so 'P-Profile-Eff {route}' cannot measure "
                       "forgetting here.")
    return " ".join(out)


def robustness_tables(results: dict) -> list[Table]:
    tables = []
    for scenario in (s for s in SCENARIO_ORDER if s in results["scenarios"]):
        sc = results["scenarios"][scenario]
        probes = sc.get("robustness")
        if not probes:
            continue
        concepts = ("person", "event") if scenario == "both" else (scenario,)
        columns = [c for concept in concepts
                   for c in _concept_columns(concept, f"{concept}_" if scenario == "both" else "", probes["goal"])]
        columns.append(("Over-refusal", lambda m, p: m.get("over_refusal"), "percent"))
        rows = [("Finetuned", sc["finetuned"], probes["finetuned"]),
                *((name, sc["methods"][name], probes["methods"][name]) for name in sc["methods"] if name in probes["methods"]),
                ("Goal", sc["goal"], probes["goal"])]
        body = [(name, [Cell(get(metrics, row_probes), scale=scale) for _, get, scale in columns])
                for name, metrics, row_probes in rows]
        note = " ".join(filter(None, [_note(results.get("config", {}), probes["goal"]),
                                      _unknown_warning(scenario, probes, results.get("config", {}))]))
        tables.append(Table(f"Robustness: {scenario}", ["Method", *(h for h, _, _ in columns)], body, note,
                            bold_best=False, label=f"tab:robustness-{scenario}"))
    return tables


def robustness_csv(tables: list[Table]) -> str:
    """Long format (scenario, method, column, value): the scenarios' tables have different columns."""
    lines = ["scenario,method,column,value"]
    for table in tables:
        scenario = table.title.split(": ", 1)[1] if ": " in table.title else "both"
        for name, cells in table.rows:
            lines += [f"{scenario},{name},{head},{'' if c.value is None else repr(float(c.value))}"
                      for head, c in zip(table.header[1:], cells)]
    return "\n".join(lines) + "\n"


def _at(point: dict | None, key: str) -> float | None:
    return None if point is None else point.get(key)


def stepped(traj: dict) -> dict[str, dict]:
    """The methods of a trajectory that took unlearning steps. A results file written before
    methods without steps (MANU) were left out holds them with the Finetuned point alone, which
    must not read as their final model."""
    return {n: t for n, t in traj["methods"].items() if any(p["step"] > 0 for p in t["points"])}


def trajectory_tables(results: dict) -> list[Table]:
    """Evaluation during unlearning: each method's final model and its rule's checkpoint on the subset."""
    tables = []
    for scenario in (s for s in SCENARIO_ORDER if s in results["scenarios"]):
        sc = results["scenarios"][scenario]
        traj = sc.get("trajectory")
        if not traj:
            continue
        keys = [k for k in traj["goal"] if k.endswith(("efficacy", "retain"))]
        heads = [k.replace("person_", "P-").replace("event_", "E-").replace("efficacy", "Eff").replace("retain", "Ret")
                 for k in keys]
        scale = {k: _scale(k, scenario) for k in keys}
        rows = []
        paths = stepped(traj)
        for name in (n for n in sc["methods"] if n in paths):  # the tables' (config) order
            final, chosen = paths[name]["points"][-1], paths[name]["chosen"]
            rows.append((name, [Cell(_at(final, k), scale=scale[k]) for k in keys] +
                         [Cell(_at(chosen, "step"), scale="count")] + [Cell(_at(chosen, k), scale=scale[k]) for k in keys]))
        rows.append(("Goal", [Cell(traj["goal"][k], scale=scale[k]) for k in keys] + [Cell(None)] * (len(keys) + 1)))
        header = ["Method", *(f"{h} final" for h in heads), "Rule step", *(f"{h} at rule" for h in heads)]
        note = (f"On a fixed subset of {results.get('config', {}).get('probes', {}).get('subset')} D_f_train and D_r "
                f"questions, every {results.get('config', {}).get('probes', {}).get('every')} unlearning steps. Rule: "
                f"the first step whose Efficacy reaches (1 - {traj['epsilon']}) x the Goal's; - when none does.")
        tables.append(Table(f"Evaluation during unlearning: {scenario}", header, rows, note, bold_best=False,
                            label=f"tab:trajectory-{scenario}"))
    return tables


def _request_scale(request: str) -> str:
    """The scale of a request's Efficacy: "events" (event Efficacy) or "persons <k>" (person Efficacy)."""
    return column_metric("event" if request == "events" else "person", "efficacy").scale


def _short(key: str) -> str:
    return key.replace("person_retain", "P-Ret").replace("event_retain", "E-Ret")


def sequential_table(results: dict) -> Table | None:
    """After each request (1, 2, 3): Efficacy on every request so far, and Retain."""
    seq = results.get("sequential")
    if not seq or not seq["methods"]:
        return None
    scale = lambda key: _scale(key, "both") if key.endswith("_retain") else _request_scale(key)  # noqa: E731
    retain = [k for k in ("person_retain", "event_retain") if k in seq["goal"]]
    columns = [(i, key) for i in range(len(seq["requests"])) for key in [*seq["requests"][: i + 1], *retain]]
    order = [m for m in results.get("config", {}).get("methods", []) if m in seq["methods"]]
    rows = [(name, [Cell(seq["methods"][name][i].get(key), scale=scale(key)) for i, key in columns]) for name in order]
    rows.append(("Goal", [Cell(seq["goal"].get(key), scale=scale(key)) for _, key in columns]))
    note = (f"Requests in turn: {', then '.join(seq['requests'])} (the targets of scenario both); each unlearnt with the "
            "method's own settings from the model the previous request left. 'after k: X' is the Efficacy on request "
            "X (or Retain on both's D_r) after k requests. Goal: never learnt any request.")
    return Table("Sequential requests", ["Method", *(f"after {i + 1}: {_short(key)}" for i, key in columns)], rows,
                 note, bold_best=False, label="tab:sequential")
