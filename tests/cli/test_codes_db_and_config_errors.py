"""`balmon codes`, `balmon db` and how bad configuration or a dead database end a command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from balmon.errors import CODES
from balmon.errors.reference import render_markdown

ROOT = Path(__file__).resolve().parents[2]


def balmon(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "balmon", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_codes_prints_every_code() -> None:
    result = balmon("codes")
    assert result.returncode == 0
    for code in CODES:
        assert code.value in result.stdout


def test_error_code_doc_is_generated_from_the_taxonomy() -> None:
    committed = (ROOT / "docs" / "error-codes.md").read_text(encoding="utf-8")
    assert committed.strip() == render_markdown().strip(), "run `make docs` to regenerate"


def test_db_upgrade_creates_the_default_sqlite_database(tmp_path: Path) -> None:
    result = balmon("db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "balmon.db").exists()
    assert "revision" in result.stdout


@pytest.mark.parametrize(
    ("config", "key"),
    [("[retry]\njitter = 'lots'\n", "retry.jitter"), ("[dashbaord]\nport = 1\n", "dashbaord")],
)
def test_bad_config_is_one_line_and_exit_2(tmp_path: Path, config: str, key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(config, encoding="utf-8")
    result = balmon("db", "upgrade", "--config", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert key in lines[0]
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_one_line_and_exit_1(tmp_path: Path) -> None:
    import os

    env = dict(os.environ, BALMON_DATABASE__URL="postgresql://nobody@127.0.0.1:1/none")
    result = balmon("db", "upgrade", env=env)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "database unavailable" in result.stderr


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("postgresql+psycopg2://u@127.0.0.1/db", "driver 'psycopg2' is not one balmon ships"),
        ("postgresql+foo://u@127.0.0.1/db", "driver 'foo' is not one balmon ships"),
        ("mysql://root@127.0.0.1:3306/", "no database name: write mysql://USER@HOST/DATABASE"),
        ("sqlite://bad.db", "write sqlite:///FILE (three slashes)"),
        ("sqlite://", "an in-memory SQLite database keeps nothing"),
        ("oracle://u@h/db", "unsupported database 'oracle'"),
    ],
)
@pytest.mark.parametrize("command", [("config", "check"), ("db", "current")])
def test_a_database_url_no_shipped_driver_can_open_is_one_line_and_exit_2(
    url: str, said: str, command: tuple[str, ...]
) -> None:
    """Tracebacks before (ModuleNotFoundError, NoSuchModuleError, AssertionError), and `config
    check` said "configuration ok"."""
    import os

    result = balmon(*command, env=dict(os.environ, BALMON_DATABASE__URL=url))
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"balmon: config error: database.url: {said}"), result.stderr


def test_a_configuration_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "balmon.toml"
    path.write_bytes(b'[database]\nurl = "sqlite:///\xff.db"\n')
    result = balmon("config", "check", "--config", str(path))
    assert result.returncode == 2
    assert result.stderr == f"balmon: config error: config: {path} is not UTF-8 (byte 28)\n"


def test_a_mysql_url_at_a_port_that_speaks_another_protocol_fails_within_the_timeout() -> None:
    """PostgreSQL's port never sends MySQL's greeting: PyMySQL waited 68 s for it."""
    import os
    import time

    env = dict(
        os.environ,
        BALMON_DATABASE__URL="mysql://root@127.0.0.1:5432/test",
        BALMON_DATABASE__CONNECT_TIMEOUT_SECONDS="2",
    )
    began = time.monotonic()
    result = balmon("db", "current", env=env)
    assert result.returncode == 1 and "database unavailable" in result.stderr
    assert time.monotonic() - began < 15


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ("[quality]\nstale_after_hours = -1\n", "quality.stale_after_hours"),
        ("[quality]\njump_factor = 0.5\n", "quality.jump_factor"),
        ("[quality]\njump_min_change = 'lots'\n", "quality.jump_min_change"),
        ("[quality]\njump_min_change = 10000.5\n", "quality.jump_min_change"),
        ("[quality]\ndisabled = ['NULL_BALANCE']\n", "quality.disabled"),
        ("[verification]\ncurrency = 'US$'\n", "verification.currency"),
        ("[verification]\ncurrency = 'EURO'\n", "verification.currency"),
        ("[escalation]\nmin_severity = 'URGENT'\n", "escalation.min_severity"),
        ("[escalation]\nafter_seconds = -1\n", "escalation.after_seconds"),
        ("[[escalation.routes]]\ncode = 'TIMEOT'\nurls = ['json://x']\n", "escalation.routes"),
        ("[[escalation.routes]]\ncode = 'TIMEOUT'\nurls = []\n", "escalation.routes"),
        ("[digest]\nat = '8am'\nurls = ['json://x']\n", "digest.at"),
    ],
)
def test_bad_quality_and_escalation_settings_are_one_line_and_exit_2(
    tmp_path: Path, config: str, key: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(config, encoding="utf-8")
    result = balmon("config", "check", "--config", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and key in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_quality_settings_from_the_environment_as_people_write_them(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "BALMON_QUALITY__STALE_AFTER_HOURS": "-1",
    }
    result = balmon("config", "check", env=env)
    assert result.returncode == 2 and "quality.stale_after_hours" in result.stderr
    env["BALMON_QUALITY__STALE_AFTER_HOURS"] = "48"
    env["BALMON_VERIFICATION__CURRENCY"] = "eur"
    result = balmon("config", "check", env=env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "variable",
    [
        "BALMON_ESCALATION__URLS=json://127.0.0.1:9/duty",
        "BALMON_QUALITY__DISABLED=BALANCE_JUMP",
        "BALMON_DIGEST__URLS=json://127.0.0.1:9/digest",
    ],
)
def test_a_list_written_plainly_in_the_environment_is_one_line_and_exit_2(
    tmp_path: Path, variable: str
) -> None:
    """Was a 60-line SettingsError traceback, exit 1; the line says how to write it."""
    name, _, value = variable.partition("=")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), name: value}
    result = balmon("config", "check", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "as JSON" in lines[0] and "Traceback" not in result.stderr
    env[name] = f'["{value}"]'
    assert balmon("config", "check", env=env).returncode == 0
