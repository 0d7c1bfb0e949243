"""A load generator in its own process: `python -m bench.loadgen '<json config>'`.

Closed loop (the default), config {"base_url", "token", "paths": [...], "requests", "seconds",
"concurrency", "warmup"}: for each path, `concurrency` workers share one keep-alive httpx client
and send GETs until `requests` were sent or `seconds` passed, whichever is first.

Open loop, config {"mode": "rate", "base_url", "token", "paths", "rate", "seconds", "warmup"}:
for each path, requests are *scheduled* at `rate` per second for `seconds` and each is sent at
its scheduled time whatever the earlier ones are doing (a new keep-alive connection is opened
when every idle one is busy); its latency runs from the scheduled time to the last byte of the
answer, so a server that falls behind shows it as queueing instead of being sent less (no
coordinated omission). This mode speaks HTTP/1.1 over asyncio streams itself (a GET and a
`Content-Length` answer, nothing more): httpx costs the client about a millisecond of CPU per
request, which on two shared cores would be measured as the server's latency.

Both print one JSON object {path: {"latencies": [seconds...], "errors": n, "seconds": elapsed}}
on stdout (open loop adds "late_sends", requests sent more than 1 ms after their schedule,
"statuses", requests per status code or client-side exception, and "connections" opened).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import httpx


async def _load(client: httpx.AsyncClient, path: str, config: dict[str, Any]) -> dict[str, Any]:
    for _ in range(int(config.get("warmup", 3))):
        await client.get(path)
    latencies: list[float] = []
    errors = 0
    budget = int(config["requests"])
    started = time.perf_counter()
    deadline = started + float(config["seconds"])

    async def worker() -> None:
        nonlocal budget, errors
        while budget > 0 and time.perf_counter() < deadline:
            budget -= 1
            sent = time.perf_counter()
            response = await client.get(path)
            latencies.append(time.perf_counter() - sent)
            if response.status_code != 200:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(int(config["concurrency"]))))
    return {"latencies": latencies, "errors": errors, "seconds": time.perf_counter() - started}


class RawConnection:
    """One keep-alive HTTP/1.1 connection: GET, then read a `Content-Length` answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> RawConnection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def get(self, request: bytes) -> int:
        """Send a prepared GET; return the status once the whole body is read."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length is None:
            raise RuntimeError("an answer without Content-Length (this client reads no other)")
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


KEEP_ALIVE_REUSE_SECONDS = 4.0


async def _open_loop(path: str, config: dict[str, Any]) -> dict[str, Any]:
    url = httpx.URL(config["base_url"])
    host, port = url.host, url.port or 80
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {config['token']}\r\n\r\n"
    ).encode()
    idle: list[tuple[float, RawConnection]] = []  # (when it became idle, connection)
    opened: list[RawConnection] = []

    async def send() -> int:
        connection = None
        while idle and connection is None:
            since, candidate = idle.pop()
            # uvicorn closes a keep-alive connection after 5 s idle: never reuse one near that
            # (a browser or httpx would notice the close and retry; this client does not).
            if loop.time() - since < KEEP_ALIVE_REUSE_SECONDS and not candidate.reader.at_eof():
                connection = candidate
            else:
                candidate.close()
        if connection is None:
            connection = await RawConnection.open(host, port)
            opened.append(connection)
        status = await connection.get(request)
        idle.append((loop.time(), connection))  # after a complete answer: the connection is clean
        return status

    loop = asyncio.get_running_loop()
    for _ in range(int(config.get("warmup", 3))):
        await send()
    rate, seconds = float(config["rate"]), float(config["seconds"])
    count = max(1, int(rate * seconds))
    latencies: list[float] = []
    errors = late = 0
    statuses: dict[str, int] = {}  # status code, or the exception's name: requests
    started = loop.time() + 0.01

    async def one(scheduled: float) -> None:
        nonlocal errors, late
        await asyncio.sleep(max(0.0, scheduled - loop.time()))
        if loop.time() - scheduled > 0.001:
            late += 1
        outcome: int | str
        try:
            outcome = await send()
        except (OSError, RuntimeError, asyncio.IncompleteReadError, ValueError) as exc:
            outcome = type(exc).__name__
        latencies.append(loop.time() - scheduled)
        statuses[str(outcome)] = statuses.get(str(outcome), 0) + 1
        if outcome != 200:
            errors += 1

    try:
        await asyncio.gather(*(one(started + i / rate) for i in range(count)))
    finally:
        for connection in opened:
            connection.close()
    return {
        "latencies": latencies,
        "errors": errors,
        "late_sends": late,
        "statuses": statuses,
        "connections": len(opened),
        "seconds": loop.time() - started,
    }


async def main(config: dict[str, Any]) -> dict[str, Any]:
    if config.get("mode") == "rate":
        return {path: await _open_loop(path, config) for path in config["paths"]}
    limits = httpx.Limits(max_connections=int(config["concurrency"]))
    async with httpx.AsyncClient(
        base_url=config["base_url"],
        headers={"Authorization": f"Bearer {config['token']}"},
        timeout=30.0,
        limits=limits,
    ) as client:
        return {path: await _load(client, path, config) for path in config["paths"]}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))))
