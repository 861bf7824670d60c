"""balmon's one settings object and how it is loaded."""

from __future__ import annotations

from balmon.config.loader import config_path, load_settings
from balmon.config.settings import Settings

__all__ = ["Settings", "config_path", "load_settings"]
