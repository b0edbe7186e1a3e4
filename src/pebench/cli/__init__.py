"""The `pebench` command line."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from pebench.cli import plan as plan_command
from pebench.cli.cache import cache_app
from pebench.cli.common import comma_list, nested_overrides
from pebench.core.progress import quiet_libraries
from pebench.cli.data import data_app
from pebench.core.errors import PebenchError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="PEBench: machine unlearning benchmark for multimodal LLMs.")
app.add_typer(data_app, name="data")
app.add_typer(cache_app, name="cache")


@app.command()
def run(
    out: Optional[Path] = typer.Option(None, "--out", help="run directory (default runs/<timestamp>)"),
    preset: str = typer.Option("default", "--preset", help="named config preset: default | full | tiny"),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML config file (applied over the preset)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="seed for data, splits, init and training"),
    seeds: Optional[int] = typer.Option(None, "--seeds", help="repeat split and unlearning over N seeds (mean ± std)"),
    methods: Optional[str] = typer.Option(None, "--methods", help="comma-separated methods, e.g. GA,GD,NPO"),
    model: Optional[Path] = typer.Option(None, "--model", help="local Hugging Face model directory to start from "
                                                                "(sets model.path; else the builder model.name)"),
    lora: Optional[bool] = typer.Option(None, "--lora/--no-lora", help="train LoRA adapters (model.lora.enabled)"),
    scenarios: Optional[str] = typer.Option(None, "--scenarios", help="comma-separated: person,event,both"),
    forget_fraction: Optional[float] = typer.Option(None, "--forget-fraction", help="fraction forgotten, in (0, 1)"),
    judge: Optional[str] = typer.Option(None, "--judge", help="event judge: keywords (default) | embedding | llm"),
    data: Optional[Path] = typer.Option(None, "--data", help="use an existing dataset directory"),
    method_file: Optional[list[Path]] = typer.Option(None, "--method-file", help="Python file registering methods"),
    force: bool = typer.Option(False, "--force", help="reuse --out even if it holds a run with another config"),
    fresh: bool = typer.Option(False, "--fresh", help="recompute every stage, ignoring those stored in --out and the cache"),
    cache: Optional[Path] = typer.Option(None, "--cache", help="stage store shared by runs (default $PEBENCH_CACHE, "
                                                               "else ~/.cache/pebench)"),
    no_cache: bool = typer.Option(False, "--no-cache", help="no shared stage store: stages live in --out only"),
    workers: Optional[int] = typer.Option(None, "--workers", help="processes computing the rows side by side "
                                                                    "(config `workers`; default: two on a CPU with 2+ cores)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars"),
) -> None:
    """Run the whole benchmark: data, foundation, Finetuned, Goal, unlearning methods, evaluation, tables."""
    from pebench.config import load_config

    overrides = nested_overrides(seed=seed, seeds=seeds, methods=comma_list(methods), scenarios=comma_list(scenarios),
                           split__forget_fraction=forget_fraction, eval__judge=judge,
                           model__path=None if model is None else str(model), model__lora__enabled=lora, workers=workers)
    if seed is not None:
        overrides.setdefault("data", {})["seed"] = seed
    cfg = load_config(preset, config, overrides)
    from pebench.eval.judges import JUDGES
    from pebench.methods import load_entry_point_methods, load_method_file
    from pebench.methods.base import METHODS
    from pebench.methods.overrides import check_overrides

    load_entry_point_methods()
    for path in method_file or []:
        load_method_file(path)
    for name in cfg.methods:
        METHODS.get(name)
    check_overrides(cfg.unlearn.overrides)
    JUDGES.get(cfg.eval.judge)
    if cfg.model.path:
        from pebench.models.loading import check_model_dir

        check_model_dir(Path(cfg.model.path), cfg.model.allow_pickle)
    if no_cache and cache:
        raise PebenchError("--cache and --no-cache exclude each other")
    from pebench.store import StageStore, default_root

    StageStore(None if no_cache else cache or default_root())  # refuses an unusable store before any work
    quiet_libraries()
    dataset = None
    if data is not None:  # validate before anything is written
        from pebench.data.build import load_dataset_dir

        dataset = load_dataset_dir(data)
    from pebench.core import distributed
    from pebench.core.progress import Reporter
    from pebench.recipe.pipeline import Pipeline, check_out_dir
    from pebench.recipe.training import check_methods

    distributed.init()  # a no-op unless started by `accelerate launch` / `torchrun` with several processes
    if out is None and distributed.world_size() > 1:
        raise PebenchError("pass --out under a multi-process launch (each process must use the same run directory)")
    out = out or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    main_process = distributed.is_main()
    check_methods(cfg)  # before the run directory or its config.json is written
    handler = None
    if main_process:
        check_out_dir(out, cfg, force)
        handler = logging.FileHandler(out / "run.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logging.getLogger("pebench").addHandler(handler)
        logging.getLogger("pebench").setLevel(logging.INFO)
    try:
        distributed.barrier()
        reporter = Reporter(quiet=quiet or not main_process)
        start = time.perf_counter()
        Pipeline(cfg, out, reporter, data_dir=data, data=dataset, fresh=fresh, cache=False if no_cache else cache or True).run()
        distributed.shutdown()  # after a failure the launcher stops the other processes
        if main_process:
            reporter.info(f"done in {time.perf_counter() - start:.0f} s")
    finally:  # a second run in the same interpreter (a notebook, the tests) logs to its own run.log only
        if handler is not None:
            logging.getLogger("pebench").removeHandler(handler)
            handler.close()
    if main_process:
        table = out / "table.md"  # Table 1; a run of scenario `both` alone has Table 2 only
        typer.echo((table if table.is_file() else out / "table2.md").read_text(encoding="utf-8"))
        typer.echo(f"results: {out / 'results.json'}\nreport:  {out / 'report.html'}")


@app.command()
def report(
    runs: list[Path] = typer.Argument(..., help="finished run directories"),
    out: Optional[Path] = typer.Option(None, "--out", help="comparison directory (several runs; default ./comparison)"),
) -> None:
    """Rebuild tables, plots and report.html of finished runs from their files; with several runs,
    also write a side-by-side comparison."""
    from pebench.report import load_run, write_comparison, write_report

    for run_dir in runs:  # validate every run before writing anything
        load_run(run_dir)
    for run_dir in runs:
        typer.echo(f"report: {write_report(run_dir)}")
    if len(runs) > 1:
        typer.echo(f"comparison: {write_comparison(runs, out or Path('comparison'))}")


@app.command("list")
def list_parts() -> None:
    """List registered methods, judges, models, model families, renderers and presets."""
    from pebench.config import PRESETS
    from pebench.data.render import RENDERERS
    from pebench.eval.judges import JUDGES
    from pebench.methods.base import METHODS
    from pebench.models import MODEL_BUILDERS
    from pebench.models.family import FAMILIES

    typer.echo("methods:")
    for name in METHODS.names():
        typer.echo(f"  {name:<12} {METHODS.get(name).source or '(no source given)'}")
    typer.echo(f"judges:    {', '.join(JUDGES.names())}")
    typer.echo(f"models:    {', '.join(MODEL_BUILDERS.names())} (or model.path: a local HF directory)")
    typer.echo("families (--model DIR of these model types; tiny builders):")
    for family in sorted(FAMILIES.values(), key=lambda f: f.name):
        typer.echo(f"  {family.name:<16} {', '.join(family.model_types):<16} {', '.join(family.tiny)}")
    typer.echo(f"renderers: {', '.join(RENDERERS.names())}")
    typer.echo(f"presets:   {', '.join(PRESETS)}")


@app.command()
def pretrain(
    out: Path = typer.Option(..., "--out", help="pretraining directory (checkpoints, then the model under model/)"),
    steps: int = typer.Option(18000, "--steps", min=1, help="optimizer steps (the shipped base: 18000)"),
    seed: int = typer.Option(0, "--seed"),
    init: Optional[Path] = typer.Option(None, "--init", help="continue pretraining this model directory (weights and tokenizer) "
                                        "instead of a random initialisation"),
    lr: float = typer.Option(1e-3, "--lr", min=0.0, help="peak learning rate (warmup, then cosine)"),
    warmup: int = typer.Option(300, "--warmup", min=0, help="linear warmup steps"),
    resume: bool = typer.Option(False, "--resume", help="continue from the last checkpoint in --out"),
    ship: bool = typer.Option(False, "--ship", help="store the result as the package's shipped base (float16)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
) -> None:
    """Pretrain the tiny base on an unlimited stream of fresh procedural images (about an hour)."""
    quiet_libraries()
    from pebench.core.progress import Reporter
    from pebench.models.shipped import ship_base
    from pebench.pretrain.recipe import PretrainConfig, check_out
    from pebench.pretrain.recipe import pretrain as run_pretraining

    check_out(out, resume)  # before the progress bar: a refusal is one line
    if init is not None and not (init / "config.json").is_file():
        raise PebenchError(f"--init {init} is not a model directory (no config.json)")
    cfg = PretrainConfig(steps=steps, seed=seed, lr=lr, warmup=warmup, init=str(init) if init else None)
    with Reporter(quiet=quiet).task("pretrain", steps, "step") as task:
        model = run_pretraining(out, cfg, resume, on_step=lambda step, loss: task.advance(), log=typer.echo)
    typer.echo(f"pretrained model: {model}")
    if ship:
        typer.echo(f"shipped base: {ship_base(model)}")


app.command("plan")(plan_command.plan)

INTERRUPTED = "interrupted: finished stages are kept; rerun the same command to resume"


def main() -> None:
    """Entry point: PebenchError -> one line on stderr and exit 2; Ctrl-C -> exit 130."""
    try:
        code = app(standalone_mode=False)  # typer turns Ctrl-C into a returned 130
    except PebenchError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:  # usage errors of click, or of the click that typer >= 0.24 vendors
        if hasattr(exc, "exit_code") and hasattr(exc, "format_message"):
            typer.echo("error: " + " ".join(exc.format_message().split()), err=True)
            sys.exit(2)
        if type(exc).__name__ == "Abort":
            code = 130
        else:
            raise
    if code == 130:
        typer.echo(INTERRUPTED, err=True)
    if isinstance(code, int) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
