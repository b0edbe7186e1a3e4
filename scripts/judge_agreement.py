"""How the event judges agree on a finished run: re-judge every judged scene answer of the
run's per-sample files with each judge, then print per-row event columns under each judge,
the per-sample Spearman correlation between judges, and whether they rank the methods alike.

    python scripts/judge_agreement.py RUN_DIR [--judges keywords,embedding] [--llm-url URL --llm-model NAME]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--judges", default="keywords,embedding")
    ap.add_argument("--scenario", default="event")
    ap.add_argument("--llm-url", help="OpenAI-compatible endpoint for the llm judge (adds it to --judges)")
    ap.add_argument("--llm-model", default="Qwen/Qwen2.5-7B-Instruct")
    args = ap.parse_args()

    from scipy.stats import spearmanr

    from pebench.config import EvalConfig, LLMJudgeConfig
    from pebench.data.events import all_events
    from pebench.eval.judges import make_judge
    from pebench.report.examples import read_samples

    names = [j for j in args.judges.split(",") if j] + (["llm"] if args.llm_url else [])
    cfg = EvalConfig(llm=LLMJudgeConfig(url=args.llm_url, model=args.llm_model)) if args.llm_url else EvalConfig()
    judges = {n: make_judge(n, cfg, args.run_dir / "judge-cache") for n in names}
    events = {e.event_id: e for e in all_events()}
    forgotten = set(json.loads((args.run_dir / "results.json").read_text())["scenarios"][args.scenario]["split"]["forget_events"])
    per_row: dict[str, dict[str, dict[str, float]]] = {}
    pooled: dict[str, list[float]] = {n: [] for n in names}
    for path in sorted((args.run_dir / "samples" / args.scenario).glob("*.jsonl")):
        scene = [s for s in read_samples(path) if s["kind"] == "scene" and "judge" in s]
        scores = {n: j.score([s["answer"] for s in scene], [events[s["event_id"]] for s in scene]) for n, j in judges.items()}
        row = {}
        for n, values in scores.items():
            pooled[n] += values

            def mean(pick):
                picked = [v for v, s in zip(values, scene) if pick(s)]
                return sum(picked) / len(picked) if picked else float("nan")

            row[n] = {"E-Eff": 1 - mean(lambda s: s["set"] == "f_train" and s["event_id"] in forgotten),
                      "E-Gen": 1 - mean(lambda s: s["set"] == "f_test" and s["event_id"] in forgotten),
                      "E-Ret": mean(lambda s: s["set"] == "retain")}
        per_row[path.stem] = row
    correlations = {f"{a}~{b}": round(float(spearmanr(pooled[a], pooled[b]).statistic), 3)
                    for i, a in enumerate(names) for b in names[i + 1:]}
    rankings = {n: [r for r, _ in sorted(per_row.items(), key=lambda kv: -kv[1][n]["E-Eff"])] for n in names}
    rank_corr = {f"{a}~{b}": round(float(spearmanr([rankings[a].index(r) for r in per_row],
                                                   [rankings[b].index(r) for r in per_row]).statistic), 3)
                 for i, a in enumerate(names) for b in names[i + 1:]}
    print("| row | " + " | ".join(f"{c} ({n})" for c in ("E-Eff", "E-Ret") for n in names) + " |")
    print("|---|" + "---|" * (2 * len(names)))
    for row, values in per_row.items():
        print(f"| {row} | " + " | ".join(f"{values[n][c]:.3f}" for c in ("E-Eff", "E-Ret") for n in names) + " |")
    print(json.dumps({"samples": len(pooled[names[0]]), "per_sample_spearman": correlations,
                      "method_ranking_spearman_by_E-Eff": rank_corr}, indent=2))


if __name__ == "__main__":
    main()
