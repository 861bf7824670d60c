"""HTTP methods as load balancers and clients expect them: HEAD wherever GET is (a probe
with HEAD must not mark the service down), OPTIONS and 405 answers naming every method the
path takes (not only the first route's)."""

from __future__ import annotations

from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class HttpMethods:
    """ASGI middleware in front of the application's router."""

    def __init__(self, app: ASGIApp, routes: Any) -> None:
        self.app = app
        self._routes = routes  # the application's router's routes, read per request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "HEAD":
            await self.app({**scope, "method": "GET"}, receive, _without_body(send))
            return
        if scope["method"] == "OPTIONS":
            await self._options(scope, send)
            return
        await self.app(scope, receive, self._full_allow(scope, send))

    def allowed(self, scope: Scope) -> list[str]:
        """The methods some route takes for this path (HEAD with GET, OPTIONS always)."""
        found = [m for m in _METHODS if self._takes(scope, m)]
        if "GET" in found:
            found.insert(1, "HEAD")
        return [*found, "OPTIONS"] if found else []

    def _takes(self, scope: Scope, method: str) -> bool:
        probe = {**scope, "method": method}
        return any(route.matches(probe)[0] is Match.FULL for route in self._routes)

    async def _options(self, scope: Scope, send: Send) -> None:
        allowed = self.allowed(scope)
        status = 204 if allowed else 404
        headers = [(b"allow", ", ".join(allowed).encode())] if allowed else []
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    def _full_allow(self, scope: Scope, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                allow = ", ".join(self.allowed(scope)).encode()
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                message = {**message, "headers": [*headers, (b"allow", allow)]}
            await send(message)

        return sending


def _without_body(send: Send) -> Send:
    """GET's status and headers (its Content-Length included), no body: what HEAD answers."""

    async def sending(message: Message) -> None:
        if message["type"] != "http.response.body":
            await send(message)
        elif not message.get("more_body", False):
            await send({"type": "http.response.body", "body": b""})

    return sending
