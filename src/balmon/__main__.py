from __future__ import annotations

from balmon.cli.main import main

main()
