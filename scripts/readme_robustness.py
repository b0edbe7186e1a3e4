"""The README's robustness block ("Does it really forget?"), written by readme_results.py from
the default run's results.json (quantization, relearning, paraphrase, text-only and evaluation
during unlearning, on scenario person) and the full preset's (`pebench run --preset full`: the same
run plus sequential requests), both stored in docs/results/."""

from __future__ import annotations

from pebench.methods import METHODS
from pebench.report.robustness import robustness_tables, sequential_table, stepped, trajectory_tables
from pebench.report.tables import to_markdown


def _fmt(value: float) -> str:
    return f"{value:.3f}" if abs(value) <= 1 and value != 0 and value != 1 else f"{value:.0f}"


def relearn_line(probes: dict, key: str, order: list[str]) -> str:
    def move(row: dict) -> str:
        r = row.get("relearn")
        return "–" if not r else f"{_fmt(r['before'][key])} → {_fmt(r['after'][key])}"

    methods = "; ".join(f"{name} {move(probes['methods'][name])}" for name in order if name in probes["methods"])
    return (f"* *Relearning* (Efficacy on the held-out half of the forget targets, before → after the attack): "
            f"{methods}. Goal {move(probes['goal'])}; the Finetuned model's held-out half under the attack alone: "
            f"{move(probes['finetuned'])}.")


def quant_line(results: dict, scenario: str, probes: dict, key: str) -> str:
    bits = sorted((int(k[5:]) for k in probes["goal"] if k.startswith("quant")), reverse=True)
    if not bits:
        return ""
    low = f"quant{bits[-1]}"
    methods = results["scenarios"][scenario]["methods"]
    deltas = {name: row[low][key] - methods[name][key] for name, row in probes["methods"].items()}
    worst = min(deltas, key=deltas.get)
    return (f"* *Quantization* to {bits[-1]} bits changes person Efficacy by {min(deltas.values()):+.1f} to "
            f"{max(deltas.values()):+.1f} points across methods (largest loss of forgetting: {worst} "
            f"{methods[worst][key]:.1f} → {probes['methods'][worst][low][key]:.1f}).")


def paraphrase_line(probes: dict, key: str, limit: float) -> str:
    """`limit`: the Finetuned model's Efficacy above which it does not know the targets (eval.knows_*)."""
    finetuned = probes["finetuned"].get("paraphrase", {}).get(key)
    if finetuned is None:
        return ""
    unanswered = finetuned > limit
    goal = probes["goal"]["paraphrase"].get(key)
    return (f"* *Paraphrases*: the Finetuned model's Generality under held-out phrasings is {finetuned:.1f} (it "
            f"{'does not name' if unanswered else 'names'} the persons when asked otherwise; the Goal reads {goal:.1f})"
            + (": this column cannot show forgetting here." if unanswered else "."))


def _per_row(probes: dict, order: list[str], cell) -> tuple[str, str, str]:
    """`cell(row)` of the Finetuned row, of each method in `order` ("GA x; GD y") and of the Goal."""
    methods = "; ".join(f"{n} {cell(probes['methods'][n])}" for n in order if n in probes["methods"])
    return cell(probes["finetuned"]), methods, cell(probes["goal"])


def extraction_line(probes: dict, order: list[str]) -> str:
    """The extraction probes: what an adversary's other questions still get out of each row."""
    if "extraction" not in probes["goal"]:
        return ""
    lens = max(k for k in probes["goal"]["extraction"] if k.startswith("lens_"))

    def cell(row: dict) -> str:
        e = row["extraction"]
        return f"{e['choice']:.0f} / {e['confirm']:.0f} / {e['hint_initial']:.0f} / {e[lens]:.0f}"

    finetuned, methods, goal = _per_row(probes, order, cell)
    return (f"* *Extraction* (% of the forget persons' D_f_test images where multiple choice names them / "
            f"confirmation answers right / the initial as a hint names them / the likelihood ranks their name first): "
            f"Finetuned {finetuned}; {methods}; Goal {goal} (chance 25 / 50 / - / 25).")


def relearn_retain_line(results: dict, scenario: str, key: str, order: list[str]) -> str:
    """Relearning on unrelated data: forget Efficacy before and after fine-tuning on D_r only."""
    sc = results["scenarios"][scenario]
    probes = sc["robustness"]
    if "relearn_retain" not in probes["goal"]:
        return ""
    move = lambda row, probe: f"{row[key]:.0f} → {probe['relearn_retain'][key]:.0f}"  # noqa: E731
    methods = "; ".join(f"{n} {move(sc['methods'][n], probes['methods'][n])}" for n in order if n in probes["methods"])
    return (f"* *Relearning on unrelated data* (Efficacy before → after the same attack steps on the retained persons' "
            f"questions only): {methods}; Goal {move(sc['goal'], probes['goal'])}.")


def over_refusal_line(sc: dict, order: list[str]) -> str:
    """Over-refusal: retain questions answered with a refusal."""
    if "over_refusal" not in sc["goal"]:
        return ""
    rows = "; ".join(f"{n} {sc['methods'][n]['over_refusal']:.0f}" for n in order)
    return (f"* *Over-refusal* (% of D_r questions answered with a refusal): {rows}; Finetuned "
            f"{sc['finetuned']['over_refusal']:.0f}, Goal {sc['goal']['over_refusal']:.0f}.")


def text_only_line(probes: dict, order: list[str]) -> str:
    """The profile questions by image and by name: what unlearning through images leaves to text."""
    if "text_only" not in probes["goal"]:
        return ""
    def cell(row: dict) -> str:
        t = row["text_only"]
        return f"{t['image']:.0f} / {t['text']:.0f} / {t['text_retain']:.0f}"

    finetuned, methods, goal = _per_row(probes, order, cell)
    return (f"* *Text-only* (profile Efficacy of the forget persons asked with their images / by name without an "
            f"image, and the retained persons' profile accuracy by name): Finetuned {finetuned}; "
            f"{methods}; Goal (chance) {goal}.")


def trajectory_line(traj: dict, order: list[str]) -> str:
    paths = stepped(traj)
    ordered = [(n, paths[n]) for n in order if n in paths]
    early = [f"{n} at step {t['chosen']['step']}" for n, t in ordered
             if t["chosen"] and t["chosen"]["step"] < t["points"][-1]["step"]]
    never = [n for n, t in ordered if not t["chosen"]]
    return (f"* *During unlearning*: the rule (Efficacy ≥ (1 − {traj['epsilon']}) × the Goal's on the subset) picks a "
            f"checkpoint before the last step for {', '.join(early) or 'no method'}"
            + (f"; no checkpoint of {', '.join(never)} reaches it." if never else "; every method reaches it."))


def full_run_mismatch(default: dict, full: dict) -> str:
    """Where the stored full run's config differs from the default run's in what its sequential
    rows depend on ('' when nowhere): every setting but the probes' sequential switches and the
    method list, and the unlearning overrides of each method it ran the sequential requests for."""
    def shared(cfg: dict) -> dict:
        probes = {k: v for k, v in cfg["probes"].items() if k not in ("sequential", "sequential_methods")}
        unlearn = {k: v for k, v in cfg["unlearn"].items() if k != "overrides"}
        return {**{k: v for k, v in cfg.items() if k != "methods"}, "probes": probes, "unlearn": unlearn}

    theirs = full["config"]
    ours, stored = shared(default), shared(theirs)
    differ = [k for k in set(ours) | set(stored) if ours.get(k) != stored.get(k)]
    differ += [f"unlearn.overrides.{m}" for m in full.get("sequential", {}).get("methods", {})
               if default["unlearn"]["overrides"].get(m) != theirs["unlearn"]["overrides"].get(m)]
    return ", ".join(sorted(differ))


def sequential_line(full: dict, methods: list[str]) -> str:
    """The sequential requests of the stored full run; `methods` are the default run's rows, and
    those the full run has no sequential requests for are named rather than left out silently."""
    seq = full.get("sequential")
    if not seq:
        return ""
    absent = [m for m in methods if m not in seq["methods"] and not METHODS.get(m).balance_concepts]  # never sequential
    first = seq["requests"][0]
    order = [m for m in full["config"]["methods"] if m in seq["methods"]]
    def move(after: list[dict]) -> str:
        values = [p[first] for p in after]
        return (f"{values[0]:.0f} → {values[-1]:.0f} (lowest {min(values):.0f}; "
                f"Retain {after[-1]['person_retain']:.0f})")

    moves = "; ".join(f"{n} {move(seq['methods'][n])}" for n in order)
    return (f"* *Sequential requests* (`--preset full`; Efficacy on '{first}' after its own request → after all "
            f"{len(seq['requests'])}, the lowest on the way, and person Retain at the end): {moves}. "
            f"Goal: {seq['goal'][first]:.0f} (Retain {seq['goal']['person_retain']:.0f})."
            + (f" The stored full run has no sequential requests for {', '.join(absent)}." if absent else ""))


def cost_line(results: dict, full: dict | None) -> str:
    t = results.get("timings_s", {})
    probes = sum(v for k, v in t.items() if k.startswith("probes "))
    text = f"Cost in the default run: the probes took {probes:.0f} s (evaluation during unlearning runs inside unlearning)."
    if full:
        seq = sum(v for k, v in full.get("timings_s", {}).items() if k.startswith("sequential "))
        text += f" The sequential requests of `--preset full` took {seq:.0f} s more."
    return text


def robustness_section(results: dict, full: dict | None) -> str:
    scenario = next((s for s in ("person", "event", "both") if results["scenarios"].get(s, {}).get("robustness")), None)
    if scenario is None:
        return "The reference run has no probes.\n"
    sc = results["scenarios"][scenario]
    key = lambda column: f"person_{column}" if scenario == "both" else column  # noqa: E731
    order = [m for m in results["config"]["methods"] if m in sc["methods"]]
    lines = [relearn_line(sc["robustness"], key("efficacy"), order), quant_line(results, scenario, sc["robustness"], key("efficacy")),
             paraphrase_line(sc["robustness"], key("generality"), results["config"]["eval"]["knows_person_efficacy"]),
             text_only_line(sc["robustness"], order), extraction_line(sc["robustness"], order),
             relearn_retain_line(results, scenario, key("efficacy"), order), over_refusal_line(sc, order)]
    if sc.get("trajectory"):
        lines.append(trajectory_line(sc["trajectory"], order))
    lines.append(sequential_line(full, order) if full else
                 "* *Sequential requests* (`--preset full`): no full run made with this config is stored "
                 "(`python scripts/readme_results.py --full RUN` stores one).")
    tables = robustness_tables(results) + trajectory_tables(results)
    if full and sequential_table(full):
        tables.append(sequential_table(full))
    parts = ["\n".join(line for line in lines if line), "", cost_line(results, full), ""]
    for table in tables:
        parts += [to_markdown(table, title=True), ""]
    return "\n".join(parts)
