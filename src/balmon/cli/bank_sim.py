"""`balmon bank-sim`: serve the built-in bank simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from balmon.banksim import config_from_options, serve_forever
from balmon.cli.common import fail


def bank_sim_command(
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8900,
    host: Annotated[str, typer.Option("--host", help="Address to bind (loopback).")] = "127.0.0.1",
    customers: Annotated[
        Path | None, typer.Option("--customers", help="Serve the customers of this CSV.")
    ] = None,
    generate: Annotated[
        int | None, typer.Option("--generate", help="Serve N generated customers C0000001...")
    ] = None,
    faults: Annotated[
        Path | None, typer.Option("--faults", help="File of `customer_id,fault` lines.")
    ] = None,
    fault_rate: Annotated[
        float, typer.Option("--fault-rate", help="Share of customers given a realistic fault.")
    ] = 0.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed for balances and faults.")] = 42,
    token: Annotated[
        str | None,
        typer.Option("--token", help="Require this bearer token.", envvar="BANKSIM_TOKEN"),
    ] = None,
    trickle_interval: Annotated[
        float, typer.Option("--trickle-interval", help="Seconds between bytes of `trickle`.")
    ] = 1.0,
    latency: Annotated[
        float, typer.Option("--latency", help="Seconds every balance request waits first.")
    ] = 0.0,
) -> None:
    """Serve the Balance API on loopback with seeded balances and injected faults."""
    try:
        config = config_from_options(
            customers_file=customers,
            generate=generate,
            faults_file=faults,
            fault_rate=fault_rate,
            seed=seed,
            token=token,
            trickle_interval=trickle_interval,
            latency=latency,
        )
    except (ValueError, OSError) as exc:
        fail(str(exc), 2)
    serve_forever(config, host, port)
