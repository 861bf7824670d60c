"""Shared fixtures: fresh databases on every backend, settings, the CLI runner."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from balmon.storage import make_engine, upgrade

POSTGRES_URL = os.environ.get(
    "BALMON_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
MARIADB_URL = os.environ.get("BALMON_TEST_MARIADB_URL", "mysql://root@127.0.0.1:3306/test")
BACKENDS = ["sqlite", "postgresql", "mariadb"]
IN_CI = os.environ.get("CI", "").lower() == "true"


def _unreachable(backend: str, exc: Exception) -> None:
    reason = f"{backend} server not reachable: {str(exc).splitlines()[0][:200]}"
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: backend tests must run)")
    pytest.skip(reason)


def _admin_engine(server_url: str) -> Engine:
    from balmon.storage.database import normalize_url

    return create_engine(normalize_url(server_url), isolation_level="AUTOCOMMIT")


@pytest.fixture
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on the backend named by the test's `backend` parameter."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'balmon.db'}"
        return
    server = POSTGRES_URL if backend == "postgresql" else MARIADB_URL
    name = f"balmon_t_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(server)
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # any driver error means the server is not usable
        admin.dispose()
        _unreachable(backend, exc)
    yield make_url(server).set(database=name).render_as_string(hide_password=False)
    drop = f"DROP DATABASE {name}" + (" WITH (FORCE)" if backend == "postgresql" else "")
    with admin.connect() as connection:
        connection.execute(text(drop))
    admin.dispose()


@pytest.fixture
def engine(fresh_url: str) -> Iterator[Engine]:
    """A migrated database (SQLite unless parametrised with `backend`)."""
    db = make_engine(fresh_url)
    upgrade(db)
    yield db
    db.dispose()


def on_backends(*only: str) -> pytest.MarkDecorator:
    """Parametrise a test that uses `engine`/`fresh_url` over every backend (or `only`)."""
    return pytest.mark.parametrize(
        "fresh_url",
        [
            pytest.param(b, marks=[pytest.mark.backend] if b != "sqlite" else [], id=b)
            for b in only or BACKENDS
        ],
        indirect=True,
    )


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's balmon.toml or BALMON_* variables."""
    for key in list(os.environ):
        if key.startswith("BALMON_") and not key.startswith("BALMON_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
