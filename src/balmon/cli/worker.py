"""`balmon worker`: a Celery worker that verifies the chunks of distributed runs."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from balmon import logs
from balmon.cli.common import ConfigOption, exit_on_error, settings_or_exit


def worker_command(
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", min=1, max=512, help="Chunks at once (default: cores)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Verify chunks of distributed runs (`engine.executor = "celery"`) sent to this queue."""
    from balmon.scaleout.app import check, make_app, register  # Celery: only for this command

    settings = settings_or_exit(config)
    with exit_on_error():
        check(settings)
        logs.configure(settings.logging)
        app = make_app(settings)
        register(app, settings)
        argv = [
            "worker",
            f"--queues={settings.celery.queue}",
            "--pool=prefork",
            "--loglevel=INFO",
            f"--hostname=balmon-{os.getpid()}@%h",
            # No worker-to-worker chatter: the database, not the broker, coordinates.
            "--without-gossip",
            "--without-mingle",
        ]
        if concurrency is not None:
            argv.append(f"--concurrency={concurrency}")
        app.worker_main(argv)
