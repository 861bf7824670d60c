"""Integration fixtures: the built-in bank simulator on loopback."""

from __future__ import annotations

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
