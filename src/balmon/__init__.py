"""balmon: daily balance monitoring with resilient retrieval, an audit log and alerts."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
