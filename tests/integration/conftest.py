"""Integration fixtures: the built-in bank simulator on loopback."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from balmon.banksim import SimulatorThread, config_from_options


def start_simulator(
    customers: Path, faults: Path | None = None, *, fault_rate: float = 0.0, trickle: float = 0.05
) -> SimulatorThread:
    config = config_from_options(
        customers_file=customers,
        generate=None,
        faults_file=faults,
        fault_rate=fault_rate,
        trickle_interval=trickle,
    )
    return SimulatorThread(config).start()


def api_request(
    port: int, token: str, path: str, body: dict[str, str] | None = None
) -> tuple[int, str]:
    """A request to a running dashboard with a token: POST when `body` is given."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""
