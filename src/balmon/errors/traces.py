"""Stack traces that can be stored, shown to admins and logged: every frame, every exception
of the chain by its type, and only the messages balmon can vouch for.

A library's exception text may quote what the bank sent (aiohttp puts a bad status line in
its message, a header's value, part of a body), and that can be an account number or a
person's name. Frames are balmon's and its libraries' code, never data, and are all kept.
"""

from __future__ import annotations

import json
import os
import traceback

from balmon.errors.exceptions import BalmonError

WITHHELD = "(message withheld: it may quote what the bank sent)"
_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def _message(exc: BaseException) -> str:
    """balmon's own messages (a fixed shape), a JSON parser's position and an OS error's
    name; nothing else."""
    if isinstance(exc, BalmonError):
        return str(exc)
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg}: line {exc.lineno} column {exc.colno}"
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"[Errno {exc.errno}] {os.strerror(exc.errno)}"
    return WITHHELD if str(exc) else ""


def _chain(exc: BaseException) -> list[tuple[BaseException, str]]:
    """The exception and its causes, outermost first, each with how it follows the next."""
    links: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if current.__cause__ is not None:
            links.append((current, _CAUSE))
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            links.append((current, _CONTEXT))
            current = current.__context__
        else:
            links.append((current, ""))
            current = None
    return links


def safe_trace(exc: BaseException) -> str:
    """`exc`'s traceback with its cause chain, as Python prints it, minus foreign messages."""
    parts: list[str] = []
    for item, link in reversed(_chain(exc)):
        parts.append(link)  # how it follows the exception printed just before (its cause)
        if item.__traceback__ is not None:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_list(traceback.extract_tb(item.__traceback__)))
        kind = type(item)
        name = (
            kind.__qualname__
            if kind.__module__ == "builtins"
            else f"{kind.__module__}.{kind.__qualname__}"
        )
        message = _message(item)
        parts.append(f"{name}: {message}\n" if message else f"{name}\n")
    return "".join(parts)
