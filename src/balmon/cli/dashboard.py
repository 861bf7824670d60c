"""`balmon users ...` and `balmon tokens ...`."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from balmon.cli.common import ConfigOption, exit_on_error, fail, ready_engine, settings_or_exit
from balmon.dashboard import auth
from balmon.dashboard.auth import Role
from balmon.errors import UserError

users_app = typer.Typer(help="Dashboard users.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens (Authorization: Bearer TOKEN).", no_args_is_help=True)


def _engine(config: Path | None) -> Engine:
    return ready_engine(settings_or_exit(config))


def _read_password() -> str:
    if sys.stdin.isatty():
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\n")


@users_app.command("add")
def add_user(
    name: str,
    role: Annotated[str, typer.Option("--role", help="viewer, operator or admin")] = "viewer",
    config: ConfigOption = None,
) -> None:
    """Add a user; the password is read from stdin (or prompted on a terminal)."""
    with exit_on_error():
        engine = _engine(config)
        try:
            auth.add_user(engine, name, _read_password(), Role.named(role), datetime.now(UTC))
        except UserError as exc:
            fail(str(exc), 2)
    typer.echo(f"user {name} added ({role})")


@users_app.command("list")
def list_users(config: ConfigOption = None) -> None:
    """List users with their role and state."""
    with exit_on_error():
        rows = auth.list_users(_engine(config))
    for row in rows:
        state = "disabled" if row.disabled else "active"
        last = row.last_login_at.strftime("%Y-%m-%d %H:%M") if row.last_login_at else "never"
        typer.echo(f"{row.username:20} {row.role:9} {state:9} last login {last}")


@users_app.command("disable")
def disable_user(name: str, config: ConfigOption = None) -> None:
    """Disable a user and end their sessions."""
    with exit_on_error():
        auth.disable_user(_engine(config), name, datetime.now(UTC))
    typer.echo(f"user {name} disabled")


@tokens_app.command("create")
def create_token(
    name: str,
    role: Annotated[str, typer.Option("--role", help="viewer, operator or admin")] = "viewer",
    config: ConfigOption = None,
) -> None:
    """Create an API token; it is printed once, on the last line."""
    with exit_on_error():
        try:
            token = auth.create_token(_engine(config), name, Role.named(role), datetime.now(UTC))
        except UserError as exc:
            fail(str(exc), 2)
    typer.echo(f"token {name} ({role}) created; it is shown only once:")
    typer.echo(token)


@tokens_app.command("revoke")
def revoke_token(name: str, config: ConfigOption = None) -> None:
    """Revoke an API token."""
    with exit_on_error():
        auth.revoke_token(_engine(config), name, datetime.now(UTC))
    typer.echo(f"token {name} revoked")


@tokens_app.command("list")
def list_tokens(config: ConfigOption = None) -> None:
    """List API tokens (names and roles, never the tokens)."""
    with exit_on_error():
        rows = auth.list_tokens(_engine(config))
    for row in rows:
        state = "revoked" if row.revoked_at else "active"
        typer.echo(f"{row.name:20} {row.role:9} {state}")
