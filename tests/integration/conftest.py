"""Integration fixtures: the built-in bank simulator on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from balmon.banksim import SimulatorThread, config_from_options


@pytest.fixture
def faults_file(tmp_path: Path) -> Path:
    return tmp_path / "faults.csv"


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


@pytest.fixture
def simulator_factory() -> Iterator[type[SimulatorThread]]:
    started: list[SimulatorThread] = []

    class Tracked(SimulatorThread):
        def start(self) -> SimulatorThread:
            started.append(self)
            return super().start()

    yield Tracked
    for sim in started:
        sim.stop()
