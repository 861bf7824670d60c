"""Find the configuration file, read it, and turn validation errors into one clear line."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from pydantic_settings.exceptions import SettingsError

from balmon.config.settings import Settings
from balmon.errors import ConfigError

CONFIG_ENV = "BALMON_CONFIG"
DEFAULT_FILE = Path("balmon.toml")

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_file_values: ContextVar[Mapping[str, Any]] = ContextVar("_file_values", default=_EMPTY)


class _FileSource(PydanticBaseSettingsSource):
    """The parsed TOML file, ranked below the environment."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return _file_values.get().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_file_values.get())


class _LoadedSettings(Settings):
    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _FileSource(settings_cls))


def config_path(explicit: Path | None) -> Path | None:
    """`--config`, else $BALMON_CONFIG, else ./balmon.toml when present, else None."""
    if explicit is not None:
        return explicit
    if env := os.environ.get(CONFIG_ENV):
        return Path(env)
    return DEFAULT_FILE if DEFAULT_FILE.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError("config", f"file not found: {path}") from None
    except OSError as exc:
        raise ConfigError("config", f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"{path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError("config", f"{path} is not UTF-8 (byte {exc.start})") from None


def _first_problem(exc: ValidationError) -> ConfigError:
    error = exc.errors(include_url=False, include_input=False)[0]
    key = ".".join(str(part) for part in error["loc"]) or "config"
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    return ConfigError(key, message.removeprefix("Value error, "))


def load_settings(explicit: Path | None = None, **overrides: Any) -> Settings:
    """Build the validated settings; raises `ConfigError` naming the first bad key."""
    path = config_path(explicit)
    token = _file_values.set(_read_toml(path) if path else {})
    try:
        return _LoadedSettings(**overrides)
    except ValidationError as exc:
        raise _first_problem(exc) from None
    except SettingsError as exc:
        raise _unreadable_environment(exc) from None
    finally:
        _file_values.reset(token)


def _unreadable_environment(exc: SettingsError) -> ConfigError:
    """A section's variable that pydantic-settings could not decode: a list or a table from
    the environment is JSON (`BALMON_ALERTS__URLS='["json://..."]'`)."""
    found = re.search(r'field "([^"]+)"', str(exc))
    section = found.group(1) if found else "environment"
    return ConfigError(
        section,
        f"a BALMON_{section.upper()}__* variable is not readable: write a list as JSON, "
        'e.g. \'["a", "b"]\'',
    )
