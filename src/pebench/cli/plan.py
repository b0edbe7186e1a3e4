"""`pebench plan`: the memory planner's command (registered on the app by `pebench.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

TERMS = ("start", "trained", "gradients", "optimizer", "method", "activations", "gathered", "total")
GIB = 2**30


def _row(label: str, terms: dict[str, float]) -> str:
    return f"| {label} | " + " | ".join(f"{terms[t] / GIB:.3g}" for t in TERMS) + " |"


def plan(
    config: Optional[Path] = typer.Option(None, "--config", help="YAML config (as for pebench run)"),
    preset: str = typer.Option("default", "--preset"),
    model: Optional[str] = typer.Option(None, "--model", help="local HF model directory (read: config only)"),
    gpu_gib: float = typer.Option(80.0, "--gpu-gib", min=0.001, help="memory of one accelerator, GiB"),
) -> None:
    """Estimate memory per process (GiB) for the config's model under DDP / FSDP, and the smallest
    setup that fits one accelerator of --gpu-gib."""
    from pebench.config import load_config
    from pebench.train.plan import Setup, load_shape, memory, smallest_fit

    cfg = load_config(preset, config, {"model": {"path": model}} if model else None)
    shape = load_shape(cfg)
    mc = cfg.model
    typer.echo(f"model: {mc.path or mc.name}; {shape.parameters:,} parameters ({shape.lora_parameters:,} in LoRA r={mc.lora.r}); "
               f"tokens per example: {shape.layers[0][0]} (language model), {shape.layers[1][0]} (vision)")
    typer.echo(f"\nThe config's setup ({mc.dtype}, {'LoRA' if mc.lora.enabled else 'full'}, checkpointing "
               f"{'on' if mc.gradient_checkpointing else 'off'}), GiB per process:\n")
    typer.echo("| processes, strategy | " + " | ".join(TERMS) + " |\n|---|" + "---|" * len(TERMS))
    for n, strategy in ((1, "ddp"), (2, "ddp"), (2, "fsdp"), (4, "fsdp"), (8, "fsdp")):
        setup = Setup(n, strategy, mc.lora.enabled, mc.dtype, mc.gradient_checkpointing)
        typer.echo(_row(f"{n} × {strategy.upper()}", memory(shape, setup, cfg)))
    fit = smallest_fit(shape, cfg, gpu_gib * GIB)
    if fit is None:
        typer.echo(f"\nNo setup up to 8 processes fits {gpu_gib:g} GiB.")
        return
    setup, terms = fit
    processes = "1 process" if setup.processes == 1 else f"{setup.processes} processes, {setup.strategy.upper()}"
    training = "LoRA" if setup.lora else "full fine-tuning"
    typer.echo(f"\nSmallest setup within {gpu_gib:g} GiB per accelerator: {processes}, {training}, {setup.dtype}, "
               f"gradient checkpointing {'on' if setup.checkpointing else 'off'}: {terms['total'] / GIB:.3g} GiB")
