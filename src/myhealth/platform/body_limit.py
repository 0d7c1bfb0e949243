"""One request-body guard for every HTTP service: a body over the limit gets 413, a body that
arrives too slowly gets 408, both as JSON `{"detail": ...}`.

The body is read here, before the app sees it (by `Content-Length` when declared, and by
counting what actually arrives, chunked or not), then replayed to the app. Raising from
inside the app's own body read would not do: FastAPI turns any error while reading a body
into a 400, which is how an oversized chunked body used to get 400 instead of 413.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Why a body was refused, for the services' own rejection counters.
TOO_LARGE = "too_large"
MALFORMED = "malformed"
TOO_SLOW = "too_slow"

BODY_READ_TIMEOUT_SECONDS = 30.0


class BodyLimitMiddleware:
    """413 for bodies larger than `max_bytes`; 408 when the body takes longer than
    `read_timeout` seconds to arrive (a slow client must not hold a worker forever).

    `on_refused(scope, reason)` is told of each refusal (the processor counts them).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        detail: str | None = None,
        read_timeout: float = BODY_READ_TIMEOUT_SECONDS,
        on_refused: Callable[[Scope, str], None] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.detail = detail or f"request body larger than {max_bytes} bytes"
        self.read_timeout = read_timeout
        self.on_refused = on_refused

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, status: int, reason: str, detail: str
    ) -> None:
        if self.on_refused is not None:
            self.on_refused(scope, reason)
        headers = {"Connection": "close"}  # the rest of the body is not read
        await JSONResponse({"detail": detail}, status_code=status, headers=headers)(
            scope, receive, send
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None:
            if not length.isdigit():
                await self._refuse(scope, receive, send, 400, MALFORMED, "invalid Content-Length")
                return
            if int(length) > self.max_bytes:
                await self._refuse(scope, receive, send, 413, TOO_LARGE, self.detail)
                return
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.read_timeout):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":  # the client went away
                        return
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_bytes:
                        await self._refuse(scope, receive, send, 413, TOO_LARGE, self.detail)
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            detail = f"request body not received within {self.read_timeout:g} s"
            await self._refuse(scope, receive, send, 408, TOO_SLOW, detail)
            return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for a disconnect, as usual

        await self.app(scope, replay, send)
