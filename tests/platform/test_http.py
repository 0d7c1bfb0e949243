"""The services' HTTP server (platform/http.py) over real sockets: a client that trickles a
request head byte by byte is cut off at the header deadline (uvicorn alone never does: its
keep-alive timer stops at the first byte), while a slow application is not."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from myhealth.platform.http import serve_in_thread

DEADLINE = 1.0


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


async def slow(request: Request) -> PlainTextResponse:
    await asyncio.sleep(DEADLINE * 2)  # the application's time: no deadline applies
    return PlainTextResponse("slow")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    app = Starlette(routes=[Route("/", hello), Route("/slow", slow)])
    with serve_in_thread(app, header_timeout_seconds=DEADLINE) as url:
        yield url


def connect(base_url: str) -> socket.socket:
    parts = urlsplit(base_url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_a_trickled_request_head_is_cut_off_at_the_deadline(base_url: str) -> None:
    sock = connect(base_url)
    started = time.monotonic()
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    sock.settimeout(0.2)
    cut_off = False
    # One header byte every 0.2 s for at most 5 deadlines: each byte would reset uvicorn's own
    # keep-alive timer.
    while time.monotonic() - started < DEADLINE * 5:
        try:
            sock.sendall(b"X")
        except (BrokenPipeError, ConnectionResetError):
            cut_off = True
            break
        try:
            if closed_by_server(sock):
                cut_off = True
                break
        except TimeoutError:
            continue
    elapsed = time.monotonic() - started
    sock.close()
    assert cut_off, "the server kept a trickling request head open"
    assert DEADLINE * 0.9 <= elapsed < DEADLINE * 3, elapsed


def test_a_slow_application_is_not_cut_off(base_url: str) -> None:
    response = httpx.get(f"{base_url}/slow", timeout=10)
    assert response.status_code == 200
    assert response.text == "slow"


def test_keep_alive_requests_after_the_deadline_still_work(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        assert client.get("/").text == "hello"
        assert client.get("/slow").text == "slow"  # longer than the deadline, same connection
        assert client.get("/").text == "hello"
