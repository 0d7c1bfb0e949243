"""Oura's side answered from memory while the collector is timed (docs/performance.md#method).

On this 2-core machine the sandbox generating five years of a person (about 10 CPU-seconds)
competes with the collector, the processor and PostgreSQL for the same cores, and it is not
our work: a real Oura does it on its own machines. So the benchmark sandbox wraps its app in
`Replay`, an ASGI layer that keeps every `/v2/usercollection/...` answer it has given, by exact
path and query; `warm` fetches every window the collector is about to fetch, with the
collector's own Oura client, before the clock starts. The timed run then gets the very bytes
the sandbox produced, at the cost of a dictionary lookup. A request not seen while warming is
passed to the sandbox (correct, only slower) and counted in `misses`.

`GET /_bench/requests` answers `{"requests_by_route": {...}, "misses": n}` for the requests
since the last `POST /_sandbox/reset`, in the layout of the sandbox's own `/_sandbox/stats`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from myhealth.oura.auth import StaticToken
from myhealth.oura.catalog import DATA_TYPES
from myhealth.oura.client import OuraClient

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUESTS_PATH = "/_bench/requests"
RESET_PATH = "/_sandbox/reset"
_COLLECTIONS = "/v2/usercollection/"


class Replay:
    def __init__(self, app: App) -> None:
        self.app = app
        self.answers: dict[tuple[str, bytes], tuple[Message, bytes]] = {}
        self.requests: Counter[str] = Counter()
        self.misses = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        if path == REQUESTS_PATH:
            body = {"requests_by_route": dict(self.requests), "misses": self.misses}
            await _answer(send, 200, json.dumps(body).encode())
            return
        if path == RESET_PATH and method == "POST":
            self.requests.clear()
            self.misses = 0
        if method != "GET" or not path.startswith(_COLLECTIONS):
            await self.app(scope, receive, send)
            return
        self.requests[f"GET {path}"] += 1
        key = (path, scope["query_string"])
        kept = self.answers.get(key)
        if kept is None:
            self.misses += 1
            kept = await self._record(scope, receive, send)
            if kept[0]["status"] == 200:
                self.answers[key] = kept
            return
        start, content = kept
        await send(start)
        await send({"type": "http.response.body", "body": content, "more_body": False})

    async def _record(self, scope: Scope, receive: Receive, send: Send) -> tuple[Message, bytes]:
        """Run the sandbox for this request, passing its answer on and keeping a copy."""
        start: Message = {}
        parts: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = dict(message)
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        return start, b"".join(parts)


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def warm(base_url: str, start: dt.date, end: dt.date, timezone: dt.tzinfo) -> int:
    """Fetch every type over [start, end] as the collector will (same client, same windows),
    so the replay layer holds each answer; returns the documents fetched."""

    async def fetch_all() -> int:
        async with OuraClient(base_url, StaticToken("bench-warm-up")) as oura:

            async def one(name: str) -> int:
                count = 0
                pages = oura.fetch(DATA_TYPES[name], start, end, tz=timezone)
                async for page in pages:
                    count += len(page)
                return count

            counts = await asyncio.gather(*(one(name) for name in DATA_TYPES))
        return sum(counts)

    return asyncio.run(fetch_all())
