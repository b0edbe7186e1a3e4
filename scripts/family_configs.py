"""Write two generated blocks into each paper-scale config, `configs/<name>.yaml`, one per
published checkpoint a model family lists (`Family.paper`): `pebench plan`'s figures in its
comments (GiB per process on 1 GPU and on 8 GPUs (FSDP), LoRA and full fine-tuning, in the
config's dtype and gradient-checkpointing setting, from the checkpoint's dimensions built on
the meta device), and `unlearn.overrides`: each listed method at the config's own lr with every
hyperparameter stated, from the method's defaults (its authors', docs/methods.md), and the
method's source beside it. `--check` fails when a file differs (tests run it).

    python scripts/family_configs.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
BEGIN = "# BEGIN GENERATED: plan (scripts/family_configs.py)"
END = "# END GENERATED: plan"
SETUPS = (("1 GPU, LoRA", 1, "ddp", True), ("1 GPU, full", 1, "ddp", False),
          ("8 GPUs FSDP, LoRA", 8, "fsdp", True), ("8 GPUs FSDP, full", 8, "fsdp", False))
TERMS = ("start", "trained", "gradients", "optimizer", "method", "activations", "gathered", "total")
OVERRIDES_BEGIN = "  # BEGIN GENERATED: overrides (scripts/family_configs.py)"
OVERRIDES_END = "  # END GENERATED: overrides"


def block(path: Path, family, paper) -> str:
    from pebench.config import load_config
    from pebench.train.plan import Setup, memory, paper_shape

    cfg = load_config("default", path)
    shape = paper_shape(family, paper, cfg)
    mc = cfg.model
    lines = [BEGIN,
             f"# pebench plan for {paper.hub_id}: {shape.parameters:,} parameters ({shape.lora_parameters:,} in LoRA "
             f"r={mc.lora.r}), {shape.layers[0][0]} tokens per example; GiB per process, {mc.dtype}, gradient "
             f"checkpointing {'on' if mc.gradient_checkpointing else 'off'}, before framework overhead (1-3 GiB):",
             "# | setup | " + " | ".join(TERMS) + " |"]
    for label, processes, strategy, lora in SETUPS:
        terms = memory(shape, Setup(processes, strategy, lora, mc.dtype, mc.gradient_checkpointing), cfg)
        lines.append(f"# | {label} | " + " | ".join(f"{terms[t] / 2**30:.1f}" for t in TERMS) + " |")
    return "\n".join([*lines, END])


def _yaml_number(value) -> str:
    """A number as YAML 1.1 reads it back as one (`1e-4` without a dot would be a string)."""
    if isinstance(value, float) and value and (abs(value) < 1e-3 or abs(value) >= 1e4):
        mantissa, exponent = f"{value:.1e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return repr(value)


def overrides_block(path: Path) -> str:
    """The config's `unlearn.overrides`: every listed method at `unlearn.lr`, with each of its
    hyperparameters (RMU's `seed` left to follow the split seed) and, as a comment, its source."""
    from pebench.config import load_config
    from pebench.methods import METHODS

    cfg = load_config("default", path)
    lines = [OVERRIDES_BEGIN,
             "  # Each listed method at this config's lr (DEFAULT_METHOD_OVERRIDES holds rates swept on the",
             "  # embedded 1.8 MB model, which these replace) with every hyperparameter stated: the method's",
             "  # default, checked against its authors' code (docs/methods.md); RMU's seed follows the split.",
             "  overrides:"]
    for name in cfg.methods:
        method = METHODS.get(name)
        values = {"lr": cfg.unlearn.lr, **{k: v for k, v in method.defaults.items() if k != "seed"}}
        body = ", ".join(f"{k}: {_yaml_number(v)}" for k, v in values.items())
        lines.append(f"    {name}: {{{body}}}  # {method.source}")
    return "\n".join([*lines, OVERRIDES_END])


def expected() -> dict[Path, str]:
    """Each paper-scale config with its generated block."""
    from pebench.core.generated import replace_block
    from pebench.models.family import FAMILIES

    out = {}
    for family in FAMILIES.values():
        for paper in family.paper:
            path = CONFIGS / f"{paper.name}.yaml"
            if not path.is_file():
                raise SystemExit(f"error: {family.name} lists {paper.name} but {path} does not exist")
            text = replace_block(path.read_text(encoding="utf-8"), BEGIN, END, block(path, family, paper), path)
            out[path] = replace_block(text, OVERRIDES_BEGIN, OVERRIDES_END, overrides_block(path), path)
    return out


def main() -> int:
    from pebench.core.generated import sync

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a config's figures differ from the planner's")
    args = parser.parse_args()
    return sync(expected(), args.check, "run scripts/family_configs.py")


if __name__ == "__main__":
    sys.exit(main())
