"""Configuration: every section of a run as a typed, validated pydantic model (`sections`), the
run's whole config with its presets and loader (`schema`). Import from here."""

from pebench.config.schema import (  # noqa: F401
                                   DEFAULT_METHOD_OVERRIDES,
                                   POPE_SETTINGS,
                                   PRESETS,
                                   SCENARIOS,
                                   EvalConfig,
                                   ProbesConfig,
                                   RunConfig,
                                   UnlearnConfig,
                                   load_config,
                                   number_from_text,
)
from pebench.config.sections import (  # noqa: F401
                                   DEVICE_PATTERN,
                                   SEED_MAX,
                                   DataConfig,
                                   DiffusionConfig,
                                   GoalConfig,
                                   LLMJudgeConfig,
                                   LoraConfig,
                                   ModelConfig,
                                   SplitConfig,
                                   TrainConfig,
)
