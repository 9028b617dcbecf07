"""Monitors as code: ``mlpulse.yaml`` read into a validated config, and written back."""

from mlpulse.adapters.config.yaml_file import dump_config, load_config

__all__ = ["dump_config", "load_config"]
