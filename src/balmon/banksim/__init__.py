"""The built-in bank simulator: the Balance API on loopback, with fault injection."""

from __future__ import annotations

from balmon.banksim.faults import (
    REALISTIC_MIX,
    DailyFaults,
    Fault,
    FaultPlan,
    parse_fault,
    read_faults,
)
from balmon.banksim.population import Population, customer_id, write_customers_csv
from balmon.banksim.runner import (
    RunningSimulator,
    SimulatorThread,
    config_from_options,
    running_simulator,
    serve_forever,
)
from balmon.banksim.server import BankSimulator, SimulatorConfig, SimulatorState, build_app

__all__ = [
    "REALISTIC_MIX",
    "BankSimulator",
    "DailyFaults",
    "Fault",
    "FaultPlan",
    "Population",
    "RunningSimulator",
    "SimulatorConfig",
    "SimulatorState",
    "SimulatorThread",
    "build_app",
    "config_from_options",
    "customer_id",
    "parse_fault",
    "read_faults",
    "running_simulator",
    "serve_forever",
    "write_customers_csv",
]
