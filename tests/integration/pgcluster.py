"""A throwaway PostgreSQL cluster of the test's own, on its own port, that the test may stop
and start (the machine's shared server must never be stopped under other tests)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.alerts.receivers import free_port
from tests.conftest import IN_CI


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


@dataclass
class Cluster:
    bin: Path
    data: Path
    port: int
    user: str | None  # run the server as this user (PostgreSQL refuses to run as root)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        # The server must not inherit a pipe of ours (run() would wait for it to close), and
        # its user may not enter the test's own directory.
        subprocess.run(
            command,
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.data,
            timeout=60,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.data / "server.log")
        self._run("pg_ctl", "-D", str(self.data / "db"), "-o", options, "-l", log, "-w", "start")

    def processes(self) -> list[int]:
        """The postmaster and every backend and helper it started."""
        first_line = (self.data / "db" / "postmaster.pid").read_text().splitlines()[0]
        postmaster = int(first_line)
        children = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(postmaster)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        return [postmaster, *map(int, children)]

    def freeze(self) -> None:
        """Every server process stopped (SIGSTOP): connections stay up, nothing answers."""
        for pid in self.processes():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.processes():
            os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        # "immediate": the server goes at once, as a crash or a failover would take it.
        self._run("pg_ctl", "-D", str(self.data / "db"), "-m", "immediate", "-w", "stop")


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    bin_dir = _bin_dir()
    if bin_dir is None:
        reason = "PostgreSQL's server binaries (initdb, pg_ctl) are not installed"
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: the outage test must run)")
        pytest.skip(reason)
    user = "postgres" if os.geteuid() == 0 else None
    data = Path(tempfile.mkdtemp(prefix="balmon-pg-"))
    if user:
        entry = pwd.getpwnam(user)
        os.chown(data, entry.pw_uid, entry.pw_gid)
    cluster = Cluster(bin_dir, data, free_port(), user)
    try:
        cluster._run("initdb", "-D", str(data / "db"), "-U", "postgres", "-A", "trust", "-N")
        cluster.start()
        yield cluster
    finally:
        for _ in range(3):
            try:
                with contextlib.suppress(OSError, ValueError, IndexError):
                    cluster.thaw()  # a test that froze it and failed
                cluster.stop()
                break
            except subprocess.CalledProcessError:
                time.sleep(0.5)  # not running (or still starting): nothing to stop
        shutil.rmtree(data, ignore_errors=True)
