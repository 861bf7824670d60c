"""`balmon audit verify` and `balmon audit anchor` as an operator or auditor runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, text, update

from balmon.storage import make_engine, upgrade
from balmon.storage.schema import verification_results
from tests.audit.test_chain import _drop_triggers, _run

DAY = date(2026, 11, 2)


def balmon(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BALMON_DATABASE__URL": f"sqlite:///{db}"}
    return subprocess.run(
        [sys.executable, "-m", "balmon", "audit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


@pytest.fixture
def ran(tmp_path: Path) -> Iterator[tuple[Path, Engine]]:
    db = tmp_path / "audit.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    _run(engine, tmp_path, DAY)
    yield db, engine
    engine.dispose()


def test_verify_and_anchor_from_the_command_line(ran: tuple[Path, Engine]) -> None:
    db, engine = ran
    intact = balmon(db, "verify", "--date", str(DAY))
    assert intact.returncode == 0, intact.stderr
    assert "checked 16 rows in 2 segments" in intact.stdout and "intact" in intact.stdout
    anchor = balmon(db, "anchor", "--by", "auditor")
    digest = anchor.stdout.strip()
    assert anchor.returncode == 0 and len(digest) == 64 and "covers 2 seals" in anchor.stderr
    assert balmon(db, "verify", "--anchor", digest).returncode == 0
    _drop_triggers(engine)
    with engine.begin() as c:
        c.execute(update(verification_results).where(verification_results.c.id == 3)
                  .values(balance=1))  # fmt: skip
    broken = balmon(db, "verify", "--json")
    report = json.loads(broken.stdout)
    assert broken.returncode == 1 and report["intact"] is False
    assert [(f["problem"], f["row_id"]) for f in report["findings"]] == [("changed", 3)]
    with engine.connect() as c:
        assert c.scalar(text("SELECT count(*) FROM audit_events WHERE action = 'anchor'")) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["verify", "--date", "2026-13-01"], "--date: expected YYYY-MM-DD"),
        (["verify", "--date", "2026-11-02", "--from", "2026-11-01"], "cannot be combined"),
        (["verify", "--from", "2026-11-03", "--to", "2026-11-02"], "--from is after --to"),
        (["verify", "--anchor", "xyz"], "--anchor: expected the 64 hex digits"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    ran: tuple[Path, Engine], args: list[str], message: str
) -> None:
    result = balmon(ran[0], *args)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
