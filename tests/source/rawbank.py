"""A bank written on raw sockets, for what a framework would not let a test server say: framing
headers that disagree, headers past any limit, and connections closed right after answering
without `Connection: close`. It counts every request it read, so a test can compare what the
bank received with what balmon logged."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable

BODY = b'{"customer_id": "%s", "balance": "12.34"}'


def ok(cid: str) -> bytes:
    body = BODY % cid.encode()
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )


class RawBank:
    """Answers each request with `answer(customer_id)`'s bytes (none: it closes the
    connection unanswered); with `close_after_answer` it
    closes the connection as soon as the answer is written, as HTTP/1.0 servers and some load
    balancers do, without saying so in a header."""

    def __init__(
        self, answer: Callable[[str], bytes] = ok, *, close_after_answer: bool = False
    ) -> None:
        self.answer = answer
        self.close_after_answer = close_after_answer
        self.received: Counter[str] = Counter()
        self.url = ""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Cancelled too: a connection still open when the test's loop closes is not an error.
        ended = (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError)
        with contextlib.suppress(*ended):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                cid = head.split(b" ", 2)[1].decode().split("/")[2]
                self.received[cid] += 1
                answer = self.answer(cid)
                if not answer:  # read and never answered
                    break
                writer.write(answer)
                await writer.drain()
                if self.close_after_answer:
                    # A moment later, as a server does that tidies up after writing: the
                    # client has taken the connection back into its pool by then, and may
                    # already have written its next request into it (never read).
                    await asyncio.sleep(0.002)
                    break
        writer.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[RawBank]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        try:
            yield self
        finally:
            server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 2)
