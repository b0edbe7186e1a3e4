"""The `pebench` command line."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from pebench.cli_cache import cache_app
from pebench.cli_plan import plan
from pebench.errors import PebenchError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="PEBench: machine unlearning benchmark for multimodal LLMs.")
data_app = typer.Typer(no_args_is_help=True, help="Build and inspect the PEBench dataset.")
app.add_typer(data_app, name="data")
app.add_typer(cache_app, name="cache")


def _quiet_libraries() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import datasets
    import transformers

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    transformers.logging.set_verbosity_error()


def _csv(value: Optional[str]) -> Optional[tuple[str, ...]]:
    return None if value is None else tuple(v.strip() for v in value.split(",") if v.strip())


def _overrides(**pairs) -> dict:
    """Nested overrides from dotted keys, skipping unset (None) values."""
    out: dict = {}
    for dotted, value in pairs.items():
        if value is None:
            continue
        node = out
        *parents, leaf = dotted.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


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
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars"),
) -> None:
    """Run the whole benchmark: data, foundation, Finetuned, Goal, unlearning methods, evaluation, tables."""
    from pebench.config import load_config

    overrides = _overrides(seed=seed, seeds=seeds, methods=_csv(methods), scenarios=_csv(scenarios),
                           split__forget_fraction=forget_fraction, eval__judge=judge,
                           model__path=None if model is None else str(model), model__lora__enabled=lora)
    if seed is not None:
        overrides.setdefault("data", {})["seed"] = seed
    cfg = load_config(preset, config, overrides)
    from pebench.eval.judges import JUDGES
    from pebench.methods import load_entry_point_methods, load_method_file
    from pebench.methods.base import METHODS

    load_entry_point_methods()
    for path in method_file or []:
        load_method_file(path)
    for name in cfg.methods:
        METHODS.get(name)
    JUDGES.get(cfg.eval.judge)
    if cfg.model.path:
        from pebench.models.adapter import check_model_dir

        check_model_dir(Path(cfg.model.path), cfg.model.allow_pickle)
    if no_cache and cache:
        raise PebenchError("--cache and --no-cache exclude each other")
    from pebench.store import StageStore, default_root

    StageStore(None if no_cache else cache or default_root())  # refuses an unusable store before any work
    _quiet_libraries()
    dataset = None
    if data is not None:  # validate before anything is written
        from pebench.data.build import load_dataset_dir

        dataset = load_dataset_dir(data)
    from pebench import distributed
    from pebench.pipeline import Pipeline, check_out_dir
    from pebench.progress import Reporter

    distributed.init()  # a no-op unless started by `accelerate launch` / `torchrun` with several processes
    if out is None and distributed.world_size() > 1:
        raise PebenchError("pass --out under a multi-process launch (each process must use the same run directory)")
    out = out or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    main_process = distributed.is_main()
    if main_process:
        check_out_dir(out, cfg, force)
        handler = logging.FileHandler(out / "run.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logging.getLogger("pebench").addHandler(handler)
        logging.getLogger("pebench").setLevel(logging.INFO)
    distributed.barrier()
    reporter = Reporter(quiet=quiet or not main_process)
    start = time.perf_counter()
    Pipeline(cfg, out, reporter, data_dir=data, data=dataset, fresh=fresh, cache=False if no_cache else cache or True).run()
    distributed.shutdown()  # after a failure the launcher stops the other processes
    if main_process:
        reporter.info(f"done in {time.perf_counter() - start:.0f} s")
        typer.echo((out / "table.md").read_text(encoding="utf-8"))
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


@data_app.command("build")
def data_build(
    out: Path = typer.Option(Path("data/pebench"), "--out", help="dataset directory to write"),
    preset: str = typer.Option("default", "--preset"),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML config file (its `data:` section is used)"),
    persons: Optional[int] = typer.Option(None, "--persons"),
    events: Optional[int] = typer.Option(None, "--events"),
    renders: Optional[int] = typer.Option(None, "--renders", help="images per (person, event) pair"),
    seed: Optional[int] = typer.Option(None, "--seed"),
    force: bool = typer.Option(False, "--force", help="replace an existing dataset directory"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
) -> None:
    """Render the dataset and store it as a Hugging Face datasets directory with a card."""
    from pebench.config import load_config

    cfg = load_config(preset, config, _overrides(data__persons=persons, data__events=events,
                                                 data__renders_per_pair=renders, data__seed=seed)).data
    if out.exists() and not force:
        raise PebenchError(f"{out} already exists; pass --force to replace it")
    _quiet_libraries()
    from pebench.data.build import build_dataset, planned_images
    from pebench.progress import Reporter, progress_callback

    start = time.perf_counter()
    with Reporter(quiet=quiet).task("render dataset", planned_images(cfg), "img") as task:
        build_dataset(cfg, out, progress_callback(task))
    typer.echo(f"wrote {out} in {time.perf_counter() - start:.1f} s")


@data_app.command("import")
def data_import(
    release: Path = typer.Argument(..., help="the authors' release: one image folder per person name plus a CSV"),
    out: Path = typer.Option(Path("data/pebench-release"), "--out", help="dataset directory to write"),
    csv_file: Optional[Path] = typer.Option(None, "--csv", help="profile CSV (default: the one .csv in RELEASE)"),
    holdout_persons: int = typer.Option(0, "--holdout-persons", min=0,
                                        help="last N persons of the CSV become held-out (never trained on)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="seed for filled-in profile fields and foundation sets"),
    force: bool = typer.Option(False, "--force", help="replace an existing dataset directory"),
) -> None:
    """Convert the released PEBench images into a pebench dataset (use it with `pebench run --data`)."""
    from pebench.config import load_config

    if out.exists() and not force:
        raise PebenchError(f"{out} already exists; pass --force to replace it")
    cfg = load_config("default", None, _overrides(data__seed=seed)).data
    _quiet_libraries()
    from pebench.data.importer import import_release

    start = time.perf_counter()
    import_release(release, out, csv_file, holdout_persons, cfg)
    typer.echo(f"wrote {out} in {time.perf_counter() - start:.1f} s")


@data_app.command("show")
def data_show(
    path: Path = typer.Argument(..., help="dataset directory"),
    out: Optional[Path] = typer.Option(None, "--out", help="PNG to write (default DIR/contact_sheet.png)"),
    persons: int = typer.Option(8, "--persons", min=1),
    events: int = typer.Option(8, "--events", min=1),
) -> None:
    """Summarise a dataset and write a contact sheet PNG."""
    _quiet_libraries()
    from pebench.data.build import load_dataset_dir
    from pebench.data.show import write_contact_sheet

    data = load_dataset_dir(path)
    counts = data.build["counts"]
    typer.echo(", ".join(f"{k}: {v}" for k, v in counts.items()))
    for p in data.persons[:3]:
        typer.echo(f"  {p.name} ({p.age}, {p.gender}, {p.job}, {p.city}): {p.appearance}")
    target = write_contact_sheet(data, out or path / "contact_sheet.png", persons, events)
    typer.echo(f"contact sheet: {target}")


@app.command("list")
def list_parts() -> None:
    """List registered methods, judges, models, renderers and presets."""
    from pebench.config import PRESETS
    from pebench.data.render import RENDERERS
    from pebench.eval.judges import JUDGES
    from pebench.methods.base import METHODS
    from pebench.models import MODEL_BUILDERS

    typer.echo(f"methods:   {', '.join(METHODS.names())}")
    typer.echo(f"judges:    {', '.join(JUDGES.names())}")
    typer.echo(f"models:    {', '.join(MODEL_BUILDERS.names())} (or model.path: a local HF directory)")
    typer.echo(f"renderers: {', '.join(RENDERERS.names())}")
    typer.echo(f"presets:   {', '.join(PRESETS)}")


@app.command()
def pretrain(
    out: Path = typer.Option(..., "--out", help="pretraining directory (checkpoints, then the model under model/)"),
    steps: int = typer.Option(18000, "--steps", min=1, help="optimizer steps (the shipped base: 18000)"),
    seed: int = typer.Option(0, "--seed"),
    resume: bool = typer.Option(False, "--resume", help="continue from the last checkpoint in --out"),
    ship: bool = typer.Option(False, "--ship", help="store the result as the package's shipped base (float16)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
) -> None:
    """Pretrain the tiny base on an unlimited stream of fresh procedural images (about an hour)."""
    _quiet_libraries()
    from pebench.models.shipped import ship_base
    from pebench.pretrain.recipe import PretrainConfig, check_out, pretrain as run_pretraining
    from pebench.progress import Reporter

    check_out(out, resume)  # before the progress bar: a refusal is one line
    cfg = PretrainConfig(steps=steps, seed=seed)
    with Reporter(quiet=quiet).task("pretrain", steps, "step") as task:
        model = run_pretraining(out, cfg, resume, on_step=lambda step, loss: task.advance(), log=typer.echo)
    typer.echo(f"pretrained model: {model}")
    if ship:
        typer.echo(f"shipped base: {ship_base(model)}")


app.command("plan")(plan)

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
