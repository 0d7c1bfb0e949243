"""The collector end to end: the Oura-compatible sandbox (`myhealth sandbox`, a subprocess
shared by the session, so that generating its data runs beside the collector instead of
competing for one interpreter) and the processor (in a background thread), both over real
HTTP on 127.0.0.1, a fresh PostgreSQL database per test, and `myhealth collect` driven
in-process through `myhealth.cli.run`."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from myhealth.platform.config import CollectorSettings
from myhealth.storage.local_cluster import free_port

from .support import NOW, TIMEZONE, Stack


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    port = free_port()
    environ = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "USER_TIMEZONE": TIMEZONE,
        "SANDBOX_SEED": "42",
        "LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(
        [sys.executable, "-c", "from myhealth.cli import main; main()", "sandbox"],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "the sandbox exited at start"
            assert time.monotonic() < deadline, "the sandbox did not start"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture
def stack(database_url: str, sandbox_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    running = Stack(database_url, sandbox_url)
    running.sandbox_control("reset", {})
    running.sandbox_control("clock", {"now": NOW.isoformat()})
    monkeypatch.setattr(CollectorSettings, "today", lambda self: running.today)
    running.start_processor()
    try:
        yield running
    finally:
        running.stop_processor()
