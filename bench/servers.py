"""The local servers the benchmarks run against: Debian's nginx answering the balance
contract from memory (so the server is not the limit), wrk for the loopback's raw rate, and
the built-in simulator (faults, latency) as its own process."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The contract's body for every customer; the id is echoed as the bank does, and the
# snapshot's time is the answer's (nginx's own clock, with its UTC offset). The balance is
# above every benchmark customer's minimum except one in seven (written by `customers.py`).
_BODY = '{{"customer_id": "$1", "balance": "150.00", "currency": "USD", "as_of": "$time_iso8601"}}'
_NGINX_CONF = """
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location ~ ^/customers/([A-Za-z0-9_-]+)/balance$ {{
            default_type application/json;
            return 200 '{body}';
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: no answer from {url}") from None
            time.sleep(0.1)


def need(program: str) -> str:
    found = shutil.which(program) or (
        f"/usr/sbin/{program}" if Path(f"/usr/sbin/{program}").exists() else None
    )
    if found is None:
        raise SystemExit(f"bench: {program} not found; `make bench` installs it (Debian)")
    return found


@contextmanager
def nginx() -> Iterator[str]:
    """Serve the contract from memory on a free port; yields the base URL."""
    work = Path(tempfile.mkdtemp(prefix="balmon-nginx-"))
    port = free_port()
    conf = work / "nginx.conf"
    conf.write_text(_NGINX_CONF.format(work=work, port=port, body=_BODY.format()), encoding="utf-8")
    server = subprocess.Popen(
        [need("nginx"), "-c", str(conf), "-p", str(work)], stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/customers/C1/balance")
        yield url
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


def wrk_rate(url: str, *, seconds: int = 10, connections: int = 100) -> float:
    """wrk's requests per second on one balance URL (one thread: the same share of the
    machine one balmon process has)."""
    done = subprocess.run(
        [
            need("wrk"),
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            f"{url}/customers/C0000001/balance",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    if found is None:
        raise SystemExit(f"bench: cannot read wrk's output: {done.stdout[-500:]}")
    return float(found.group(1))


@contextmanager
def simulator(*options: str) -> Iterator[str]:
    """`balmon bank-sim` as its own process (as a bank would be); yields the base URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "balmon", "bank-sim", "--port", str(port), *options],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/_sim/stats")
        yield url
    finally:
        server.terminate()
        server.wait()
