"""The collector end to end: the Oura-compatible sandbox (`myhealth sandbox`, a subprocess
shared by the session, so that generating its data runs beside the collector instead of
competing for one interpreter) and the processor (in a background thread), both over real
HTTP on 127.0.0.1, a fresh PostgreSQL database per test, and `myhealth collect` driven
in-process through `myhealth.cli.run`."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from myhealth import cli
from myhealth.platform.config import CollectorSettings, ProcessorSettings, load
from myhealth.processor.server import running as processor_running
from myhealth.storage.local_cluster import free_port

# The sandbox's clock is frozen here; the collector's "today" follows the sandbox's clock.
NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
TIMEZONE = "Europe/Helsinki"
INGEST_TOKEN = "collector-test-ingest-token"


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


@dataclass
class Stack:
    database_url: str
    sandbox_url: str
    processor_url: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    _processor: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    @property
    def today(self) -> dt.date:
        return dt.date.fromisoformat(self.sandbox_get("clock")["today"])

    def environ(self, **extra: str) -> dict[str, str]:
        return {
            "DATABASE_URL": self.database_url,
            "USER_TIMEZONE": TIMEZONE,
            "OURA_API_BASE_URL": self.sandbox_url,
            "OURA_API_KEY": "sandbox-accepts-any-bearer",
            "PROCESSOR_URL": self.processor_url,
            "INGEST_TOKEN": INGEST_TOKEN,
            **self.extra_env,
            **extra,
        }

    def collect(self, *argv: str, **env: str) -> int:
        code: int = cli.run(["collect", "--no-progress", *argv], self.environ(**env))
        return code

    def sandbox_get(self, path: str) -> dict[str, Any]:
        response = httpx.get(f"{self.sandbox_url}/_sandbox/{path}", timeout=10)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def sandbox_control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(f"{self.sandbox_url}/_sandbox/{path}", json=body, timeout=10)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def data_requests(self) -> int:
        return int(self.sandbox_get("stats")["data_requests"])

    def start_processor(self) -> None:
        settings = load(
            ProcessorSettings, {"DATABASE_URL": self.database_url, "INGEST_TOKEN": INGEST_TOKEN}
        )
        self.processor_url = self._processor.enter_context(processor_running(settings))

    def stop_processor(self) -> None:
        self._processor.close()


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
