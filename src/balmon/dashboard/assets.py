"""Static files under a content hash, so browsers may keep them for a year.

`static_url("app.js")` is `/static/app.js?v=<hash of its content>`: a new release changes
the hash, hence the URL, and no browser keeps an old script. Only a request naming the
current hash is marked immutable.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

STATIC = Path(__file__).parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"


@cache
def version(name: str) -> str:
    """The first 12 hex digits of the file's SHA-256."""
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    return f"/static/{name}?v={version(name)}"


def is_current(path: str, requested: str | None) -> bool:
    """Whether a /static request names the file's current hash."""
    name = path.removeprefix("/static/")
    if not requested or "/" in name or not (STATIC / name).is_file():
        return False
    return requested == version(name)
