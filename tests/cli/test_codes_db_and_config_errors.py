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
