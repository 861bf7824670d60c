"""Package members loaded on first use (PEP 562), so importing one small module of a package
does not import everything the package's `__init__` offers."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def members(package: str, homes: dict[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package`: each name in `homes` comes from that submodule."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{home}"), name)

    return __getattr__
