"""`pebench data build|import|show`: the dataset commands (registered on the app by `pebench.cli`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from pebench.cli.common import nested_overrides
from pebench.core.progress import quiet_libraries
from pebench.core.errors import PebenchError

data_app = typer.Typer(no_args_is_help=True, help="Build and inspect the PEBench dataset.")


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

    cfg = load_config(preset, config, nested_overrides(data__persons=persons, data__events=events,
                                                 data__renders_per_pair=renders, data__seed=seed)).data
    if out.exists() and not force:
        raise PebenchError(f"{out} already exists; pass --force to replace it")
    quiet_libraries()
    from pebench.core import distributed
    from pebench.core.progress import Reporter, progress_callback
    from pebench.data.build import build_dataset, planned_images

    distributed.init()  # under a launch each process renders a share of the images
    start, main_process = time.perf_counter(), distributed.is_main()
    with Reporter(quiet=quiet or not main_process).task("render dataset", planned_images(cfg), "img") as task:
        build_dataset(cfg, out, progress_callback(task))
    distributed.shutdown()
    if main_process:
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
    cfg = load_config("default", None, nested_overrides(data__seed=seed)).data
    quiet_libraries()
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
    quiet_libraries()
    from pebench.data.build import load_dataset_dir
    from pebench.data.show import write_contact_sheet

    data = load_dataset_dir(path)
    counts = data.build["counts"]
    typer.echo(", ".join(f"{k}: {v}" for k, v in counts.items()))
    for p in data.persons[:3]:
        typer.echo(f"  {p.name} ({p.age}, {p.gender}, {p.job}, {p.city}): {p.appearance}")
    target = write_contact_sheet(data, out or path / "contact_sheet.png", persons, events)
    typer.echo(f"contact sheet: {target}")
