"""Configuration: the only package that knows YAML."""

from veil.config.loader import load_config, parse_config
from veil.config.models import VeilConfig

__all__ = ["VeilConfig", "load_config", "parse_config"]
