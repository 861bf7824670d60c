"""`balmon retention ...` as an operator runs it, and restoring an archive into another
database (every backend) as an investigator would."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, inspect, select, text

from balmon.storage import make_engine, upgrade
from balmon.storage.schema import audit_events, error_logs, verification_results
from tests.audit.test_chain import _resolve_some, _run
from tests.conftest import on_backends
from tests.retention.test_apply import _counts

TODAY = datetime.now(UTC).date()  # the command line applies retention as of today
OLD = [TODAY - timedelta(days=200 + n) for n in range(2)]
RECENT = TODAY - timedelta(days=10)


def balmon(db: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "balmon", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "BALMON_DATABASE__URL": f"sqlite:///{db}",
            "BALMON_RETENTION__KEEP_DAYS": "90",
            "BALMON_RETENTION__ARCHIVE_DIR": str(db.parent / "archive"),
            **env,
        },
        cwd=db.parent,
        check=False,
    )


@pytest.fixture
def old(tmp_path: Path) -> Iterator[tuple[Path, Engine]]:
    """A database with two dates older than 90 days (today's date, as balmon sees it) and a
    recent one."""
    db = tmp_path / "source.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    for day in [*OLD, RECENT]:
        _run(engine, tmp_path, day)
    _resolve_some(engine, OLD[0])
    yield db, engine
    engine.dispose()


def test_a_limit_under_90_days_is_refused_in_one_line(old: tuple[Path, Engine]) -> None:
    db, engine = old
    before = _counts(engine)
    for key, value in (
        ("BALMON_RETENTION__KEEP_DAYS", "89"),
        ("BALMON_RETENTION__KEEP_DAYS_BY_TABLE", '{"error_logs": 30}'),
    ):
        refused = balmon(db, "retention", "apply", **{key: value})
        assert refused.returncode == 2
        assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
        assert "retention.keep_days" in refused.stderr and "90" in refused.stderr
    assert _counts(engine) == before


def test_dry_run_apply_verify_and_restore(old: tuple[Path, Engine], tmp_path: Path) -> None:
    db, engine = old
    before = _counts(engine)
    dry = balmon(db, "retention", "apply", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing changed" in dry.stdout
    assert "verification_results" in dry.stdout and "would archive and delete 18 rows" in dry.stdout
    assert _counts(engine) == before and not (tmp_path / "archive").exists()

    done = balmon(db, "retention", "apply", "--by", "records-officer")
    assert done.returncode == 0, done.stderr
    assert "archived and deleted 18 rows" in done.stdout
    # The dry run printed exactly what the application did, line for line.
    lines = [line for line in done.stdout.splitlines() if line.startswith("  ")]
    assert lines == [
        line.replace("would archive and delete", "archived and deleted")
        for line in dry.stdout.splitlines()
        if line.startswith("  ")
    ]
    verified = balmon(db, "audit", "verify")
    assert verified.returncode == 0, verified.stdout
    with engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(verification_results)) == 9

    manifest = next((tmp_path / "archive").glob("retention-*/manifest.json"))
    own = balmon(db, "retention", "restore", str(manifest), "--into", f"sqlite:///{db}")
    assert own.returncode == 2 and "separate" in own.stderr
    copy = tmp_path / "investigation.db"
    restored = balmon(db, "retention", "restore", str(manifest), "--into", f"sqlite:///{copy}")
    assert restored.returncode == 0, restored.stderr
    assert "verification_results: 18 rows" in restored.stdout
    with engine.connect() as c:
        digest = c.scalar(select(audit_events.c.digest).where(audit_events.c.action == "retention"))
    assert digest is not None and digest in restored.stdout


@on_backends()
def test_restore_checks_every_hash_and_loads_into_another_database(
    old: tuple[Path, Engine], tmp_path: Path, fresh_url: str
) -> None:
    db, _ = old
    assert balmon(db, "retention", "apply").returncode == 0
    directory = next((tmp_path / "archive").glob("retention-*"))
    restored = balmon(db, "retention", "restore", str(directory), "--into", fresh_url)
    assert restored.returncode == 0, restored.stderr
    target = make_engine(fresh_url)
    try:
        with target.connect() as c:
            attempts = c.execute(select(error_logs.c.customer_id, error_logs.c.chain_hash)).all()
            manifests = c.execute(text("SELECT name, digest FROM archive_manifests")).all()
        assert len(attempts) == 14 and len(manifests) == 1
        # A second restore into the same database is refused: it is not empty.
        again = balmon(db, "retention", "restore", str(directory), "--into", fresh_url)
        assert again.returncode == 1 and "restore into an empty one" in again.stderr
    finally:
        target.dispose()


def test_a_changed_archive_is_not_restored(old: tuple[Path, Engine], tmp_path: Path) -> None:
    db, _ = old
    assert balmon(db, "retention", "apply").returncode == 0
    directory = next((tmp_path / "archive").glob("retention-*"))
    path = next(directory.glob("verification_results/*.jsonl.gz"))
    rows = gzip.decompress(path.read_bytes()).decode().splitlines()
    first = json.loads(rows[0])
    first["status"] = "PASS" if first["status"] != "PASS" else "FAIL"
    rows[0] = json.dumps(first, separators=(",", ":"))
    path.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode(), mtime=0))
    copy = tmp_path / "investigation.db"
    refused = balmon(db, "retention", "restore", str(directory), "--into", f"sqlite:///{copy}")
    assert refused.returncode == 1
    assert "SHA-256 does not match" in refused.stderr or "does not give its hash" in refused.stderr
    assert (
        not copy.exists()
        or "verification_results" not in inspect(make_engine(f"sqlite:///{copy}")).get_table_names()
    )


def test_a_broken_archive_or_target_is_one_line(old: tuple[Path, Engine], tmp_path: Path) -> None:
    db, _ = old
    assert balmon(db, "retention", "apply").returncode == 0
    directory = next((tmp_path / "archive").glob("retention-*"))
    manifest = json.loads((directory / "manifest.json").read_text())
    entry = next(e for e in manifest["files"] if e["table"] == "error_logs")
    path = directory / entry["path"]
    path.write_bytes(path.read_bytes()[:-40])  # cut short, and the manifest made to agree
    entry["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (directory / "manifest.json").write_text(json.dumps(manifest))
    copy = f"sqlite:///{tmp_path / 'investigation.db'}"
    for args, code, says in (
        ((str(directory), "--into", copy), 1, "cannot be read back"),
        ((str(tmp_path / "nowhere"), "--into", copy), 1, "not a readable retention manifest"),
        ((str(directory), "--into", "oracle://x/y"), 2, "--into: unsupported database"),
    ):
        refused = balmon(db, "retention", "restore", *args)
        assert refused.returncode == code, refused.stderr
        assert says in refused.stderr and refused.stderr.count("\n") == 1
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the archive directory should be")
    refused = balmon(db, "retention", "apply", BALMON_RETENTION__ARCHIVE_DIR=str(blocked))
    assert refused.returncode == 1 and "cannot create the archive" in refused.stderr
    assert "Traceback" not in refused.stderr
