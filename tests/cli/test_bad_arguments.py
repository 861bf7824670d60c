"""Arguments no table can hold end a command with one line, never a traceback (the database
would refuse them on PostgreSQL and MariaDB, and SQLite would store them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import on_backends

LONG_ID = "x" * 60
LONG_NAME = "y" * 120
HUGE = "9" * 21


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("retention", "hold", "add", "--customer", LONG_ID, "--reason", "r"), 2, "--customer"),
        (("silences", "add", "--customer", LONG_ID, "--reason", "r"), 2, "--customer"),
        (
            (
                "retention",
                "hold",
                "add",
                "--date",
                "2026-01-05",
                "--reason",
                "r",
                "--by",
                LONG_NAME,
            ),
            2,
            "--by",
        ),
        (("silences", "add", "--code", "TIMEOUT", "--reason", "r", "--by", LONG_NAME), 2, "--by"),
        (("audit", "anchor", "--by", LONG_NAME), 2, "--by"),
        (("retention", "apply", "--dry-run", "--by", ""), 2, "--by"),
        (("retention", "hold", "release", HUGE, "--reason", "r"), 1, f"no hold {HUGE}"),
        (("silences", "expire", HUGE), 1, f"no silence in force {HUGE}"),
        (("run", "--date", "2999-12-31"), 2, "--date: 2999-12-31 is after today ("),
        (("run", "--date", "1900-01-01"), 2, "--date: 1900-01-01 is older than retention keeps"),
    ],
)
def test_an_argument_too_big_to_store_is_one_line(
    tmp_path: Path, args: tuple[str, ...], code: int, says: str
) -> None:
    env = {**os.environ, "BALMON_DATABASE__URL": f"sqlite:///{tmp_path / 'b.db'}"}
    done = subprocess.run(
        [sys.executable, "-m", "balmon", *args],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == code, done.stderr
    assert done.stderr.count("\n") == 1 and says in done.stderr and "Traceback" not in done.stderr


def test_a_report_over_every_representable_date_works(tmp_path: Path) -> None:
    env = {**os.environ, "BALMON_DATABASE__URL": f"sqlite:///{tmp_path / 'b.db'}"}
    done = subprocess.run(
        [sys.executable, "-m", "balmon", "report", "--from", "0001-01-01", "--to", "9999-12-31",
         "--format", "csv"],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "summary,Missed dates,Value,none" in done.stdout


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://balmon:p@ss@127.0.0.1/test", "write '@' in a password as %40"),
        ("postgresql://balmon@127.0.0.1:54x2/test", "the port is not a number"),
    ],
)
def test_a_malformed_database_url_is_one_line_that_prints_no_password(
    tmp_path: Path, url: str, says: str
) -> None:
    env = {**os.environ, "BALMON_DATABASE__URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "balmon", "db", "current"],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("balmon: config error: database.url: ")
    assert says in done.stderr and done.stderr.count("\n") == 1
    assert "ss@" not in done.stderr


@on_backends()
def test_two_processes_creating_one_new_database_both_succeed(
    fresh_url: str, tmp_path: Path
) -> None:
    """SQLite said "table alembic_version already exists" and PostgreSQL printed an
    IntegrityError traceback for the loser; the schema is now made under a lock."""
    urls = [fresh_url] if not fresh_url.startswith("sqlite") else [
        f"sqlite:///{tmp_path / f'new{attempt}.db'}" for attempt in range(4)
    ]  # fmt: skip
    for url in urls:
        env = {**os.environ, "BALMON_DATABASE__URL": url}
        started = [
            subprocess.Popen(
                [sys.executable, "-m", "balmon", "db", "upgrade"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=tmp_path,
            )
            for _ in range(2)
        ]
        for process in started:
            _, err = process.communicate(timeout=60)
            assert process.returncode == 0, err
