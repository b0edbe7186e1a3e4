"""Evaluation: text metrics, event judges and the six PEBench columns."""
