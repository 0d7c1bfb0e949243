"""The processor client under the retry policy, over real HTTP on 127.0.0.1: what is retried,
how many times, and the error code when it gives up."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from myhealth.collector.ingest import ProcessorClient, ProcessorRefused, ProcessorUnavailable
from myhealth.platform.errors import CodedError, ErrorCode
from myhealth.storage.local_cluster import free_port
from tests.fast_retry import FAST_RETRY

DOCS = [{"id": "1", "day": "2026-11-01"}]


class Answering:
    """A real HTTP server that answers every request with one status, counting requests."""

    def __init__(self, status: int) -> None:
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                owner.requests += 1
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = b'{"detail": "database unavailable"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep the test output clean

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def answering(request: pytest.FixtureRequest) -> Iterator[Answering]:
    server = Answering(request.param)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
        thread.join(5)


def send(url: str, attempts: int) -> CodedError:
    policy = dataclasses.replace(FAST_RETRY, attempts=attempts, wait_initial=0.05, wait_max=1.0)

    async def main() -> None:
        async with ProcessorClient(url, "s3cret", retry=policy) as client:
            await client.ingest("daily_sleep", DOCS)

    with pytest.raises((ProcessorUnavailable, ProcessorRefused)) as raised:
        asyncio.run(main())
    return raised.value


@pytest.mark.parametrize("answering", [503, 502, 504], indirect=True)
def test_away_answers_are_retried_up_to_the_configured_attempts(answering: Answering) -> None:
    started = time.monotonic()
    error = send(answering.url, attempts=3)
    elapsed = time.monotonic() - started
    assert answering.requests == 3
    assert error.code == ErrorCode.PROCESSOR_UNAVAILABLE
    assert "after 3 attempts" in str(error)
    assert elapsed >= 0.05 + 0.1  # the policy's exponential backoff was waited out


@pytest.mark.parametrize("answering", [500, 401, 422], indirect=True)
def test_a_refused_batch_is_never_retried(answering: Answering) -> None:
    error = send(answering.url, attempts=5)
    assert answering.requests == 1
    assert error.code == ErrorCode.PROCESSOR_REFUSED


def test_an_unreachable_processor_is_retried_then_unavailable() -> None:
    error = send(f"http://127.0.0.1:{free_port()}", attempts=2)  # nothing listens there
    assert error.code == ErrorCode.PROCESSOR_UNAVAILABLE
    assert "after 2 attempts" in str(error)
