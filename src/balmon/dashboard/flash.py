"""One-time messages after a redirect ("12 errors resolved"), from the server only.

A message in the URL (`?message=...`) would let anyone link to our page with their text shown
as our success banner. The message rides in a short-lived, HttpOnly, SameSite=Strict cookie
that only our own responses set; the next page shows it once and clears it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote, unquote

from fastapi import Request, Response

from balmon import limits

COOKIE = "balmon_flash"


@dataclass(frozen=True, slots=True)
class Flash:
    text: str
    good: bool


def flash(request: Request, response: Response, text: str, *, good: bool) -> None:
    """Show `text` on the next page this browser loads."""
    value = quote(json.dumps({"text": limits.clip(text, limits.REASON), "good": good}))
    secure = request.url.scheme == "https"
    response.set_cookie(
        COOKIE, value, max_age=120, httponly=True, samesite="strict", secure=secure, path="/"
    )


def take(request: Request) -> Flash | None:
    """The waiting message, if any (the caller clears the cookie on its response)."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(unquote(raw))
        return Flash(str(data["text"]), bool(data["good"]))
    except (ValueError, KeyError, TypeError):
        return None
