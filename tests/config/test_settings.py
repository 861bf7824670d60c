"""Settings load from defaults, a TOML file and BALMON_ variables, and reject bad keys."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from balmon.config import load_settings
from balmon.errors import ConfigError


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_match_the_documented_contract() -> None:
    settings = load_settings()
    assert settings.database.url == "sqlite:///balmon.db"
    assert settings.source.timeout_seconds == 30.0
    assert settings.retry.max_retries == 3
    assert settings.retry.delays_seconds == [5.0, 10.0, 20.0]
    assert settings.retry.jitter == "none"
    assert settings.engine.concurrency == 100
    assert settings.verification.default_min_balance == Decimal("0")
    assert settings.alerts.group_wait_seconds == 30.0
    assert settings.schedule.cron == "0 6 * * *"


def test_file_given_explicitly_wins_over_env_file_and_local_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path / "balmon.toml", "[engine]\nconcurrency = 7\n")
    assert load_settings().engine.concurrency == 7
    monkeypatch.setenv(
        "BALMON_CONFIG", str(_write(tmp_path / "env.toml", "[engine]\nconcurrency = 8\n"))
    )
    assert load_settings().engine.concurrency == 8
    explicit = _write(tmp_path / "x.toml", "[engine]\nconcurrency = 9\n")
    assert load_settings(explicit).engine.concurrency == 9


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "b.toml", '[source]\nurl = "http://bank/"\ntimeout_seconds = 3\n')
    monkeypatch.setenv("BALMON_SOURCE__TIMEOUT_SECONDS", "1.5")
    monkeypatch.setenv("BALMON_RETRY__DELAYS_SECONDS", "[0.1, 0.2, 0.4]")
    settings = load_settings(path)
    assert settings.source.url == "http://bank"
    assert settings.source.timeout_seconds == 1.5
    assert settings.retry.delays_seconds == [0.1, 0.2, 0.4]


def test_secrets_are_not_printed(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.toml", '[source]\ntoken = "s3cret-token"\n')
    settings = load_settings(path)
    assert settings.source.token is not None
    assert settings.source.token.get_secret_value() == "s3cret-token"
    assert "s3cret-token" not in repr(settings)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[source]\nurll = 'x'\n", "source.urll"),
        ("[nonsense]\na = 1\n", "nonsense"),
        ("[source]\ntimeout_seconds = -1\n", "source.timeout_seconds"),
        ("[retry]\njitter = 'some'\n", "retry.jitter"),
        ("[retry]\nmax_retries = 4\n", "retry"),
        ("[schedule]\ncron = 'every day'\n", "schedule.cron"),
        ("[schedule]\ntimezone = 'Mars/Base'\n", "schedule.timezone"),
        ("[verification]\ndefault_min_balance = 'NaN'\n", "verification.default_min_balance"),
        ("[engine\n", "config"),
    ],
)
def test_a_bad_value_names_its_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_write(tmp_path / "bad.toml", text))
    assert caught.value.key == key


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "absent.toml")


def test_configuration_reference_is_generated_and_every_key_has_a_meaning() -> None:
    from balmon.config.reference import MEANINGS, keys, render_markdown

    names = {name for name, _ in keys()}
    assert names == set(MEANINGS), (names - set(MEANINGS), set(MEANINGS) - names)
    doc = Path(__file__).parents[2] / "docs" / "configuration.md"
    assert doc.read_text(encoding="utf-8") == render_markdown(), "run `make docs`"
    assert (
        '| `deadline` | "HH:MM", optional | unset | `BALMON_SCHEDULE__DEADLINE` |'
        in doc.read_text()
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[source]\ntimeout_seconds = inf\n", "source.timeout_seconds"),
        ("[source]\ntimeout_seconds = 1e300\n", "source.timeout_seconds"),
        ("[retry]\ndelays_seconds = [5.0, inf, 20.0]\n", "retry.delays_seconds.1"),
        ("[source]\nmax_requests_per_second = nan\n", "source.max_requests_per_second"),
        ("[alerts]\ngroup_wait_seconds = inf\n", "alerts.group_wait_seconds"),
        ('[verification]\ndefault_min_balance = "1e999"\n', "verification.default_min_balance"),
    ],
)
def test_a_duration_or_amount_that_never_ends_is_refused(
    tmp_path: Path, text: str, key: str
) -> None:
    path = tmp_path / "balmon.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.key == key
