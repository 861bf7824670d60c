"""Flame graphs of a real `balmon run` against nginx (the run's process and its fetchers),
sampled by py-spy: where the per-customer time goes.

    .venv/bin/python -m bench.profile --customers 100000 --processes 2
    # writes bench/results/flame-<processes>p.svg
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import runs, servers
from bench.suite import RESULTS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="balmon-profile-"))
    RESULTS.mkdir(exist_ok=True)
    output = RESULTS / f"flame-{args.processes}p.svg"
    with servers.nginx() as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BALMON_")}
        env.update(
            BALMON_DATABASE__URL=runs.fresh_database("sqlite", work, "profile"),
            BALMON_SOURCE__URL=url,
            BALMON_ENGINE__PROCESSES=str(args.processes),
            BALMON_LOGGING__FILE=str(work / "balmon.log"),
        )
        customers = runs.customers(work, args.customers)
        command = [sys.executable, "-m", "balmon", "run", "--customers", str(customers)]
        subprocess.run(
            [
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                "--subprocesses",
                "--rate",
                str(args.rate),
                "--output",
                str(output),
                "--",
                *command,
                "--rerun",
            ],
            env=env,
            check=True,
        )
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
