"""pebench: a benchmark and toolkit for machine unlearning in multimodal LLMs (PEBench protocol)."""

__version__ = "0.1.0"
