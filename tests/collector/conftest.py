"""The collector end to end: the Oura-compatible sandbox and the processor, both served over
real HTTP on 127.0.0.1 in background threads, a fresh PostgreSQL database per test, and
`myhealth collect` driven in-process through `myhealth.cli.run`."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from myhealth import cli
from myhealth.platform.config import CollectorSettings, ProcessorSettings, SandboxSettings, load
from myhealth.processor.server import running as processor_running
from myhealth.sandbox.server import RunningSandbox
from myhealth.sandbox.server import running as sandbox_running

# The sandbox's clock is frozen here; the collector's "today" follows the sandbox's clock.
NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
TIMEZONE = "Europe/Helsinki"
INGEST_TOKEN = "collector-test-ingest-token"


@dataclass
class Stack:
    database_url: str
    sandbox: RunningSandbox
    processor_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    _processor: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    @property
    def today(self) -> dt.date:
        return self.sandbox.state.today()

    def environ(self, **extra: str) -> dict[str, str]:
        return {
            "DATABASE_URL": self.database_url,
            "USER_TIMEZONE": TIMEZONE,
            "OURA_API_BASE_URL": self.sandbox.url,
            "OURA_API_KEY": "sandbox-accepts-any-bearer",
            "PROCESSOR_URL": self.processor_url,
            "INGEST_TOKEN": INGEST_TOKEN,
            **self.extra_env,
            **extra,
        }

    def collect(self, *argv: str, **env: str) -> int:
        return cli.run(["collect", "--no-progress", *argv], self.environ(**env))

    def sandbox_control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(f"{self.sandbox.url}/_sandbox/{path}", json=body, timeout=10)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def data_requests(self) -> int:
        with self.sandbox.state.lock:
            return self.sandbox.state.data_requests

    def start_processor(self) -> None:
        settings = load(
            ProcessorSettings, {"DATABASE_URL": self.database_url, "INGEST_TOKEN": INGEST_TOKEN}
        )
        self.processor_url = self._processor.enter_context(processor_running(settings))

    def stop_processor(self) -> None:
        self._processor.close()


@pytest.fixture
def stack(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    with sandbox_running(SandboxSettings(USER_TIMEZONE=TIMEZONE), now=NOW) as sandbox:
        monkeypatch.setattr(CollectorSettings, "today", lambda self: sandbox.state.today())
        running = Stack(database_url, sandbox, "")
        running.start_processor()
        try:
            yield running
        finally:
            running.stop_processor()
