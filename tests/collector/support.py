"""Helpers for the collector's end-to-end tests: the running stack and its settings."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import httpx

from myhealth import cli
from myhealth.platform.config import ProcessorSettings, load
from myhealth.processor.server import running as processor_running

# The sandbox's clock is frozen here; the collector's "today" follows the sandbox's clock.
NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
TIMEZONE = "Europe/Helsinki"
INGEST_TOKEN = "collector-test-ingest-token"


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

    def start_processor(self, **environ: str) -> None:
        settings = load(
            ProcessorSettings,
            {"DATABASE_URL": self.database_url, "INGEST_TOKEN": INGEST_TOKEN, **environ},
        )
        self.processor_url = self._processor.enter_context(processor_running(settings))

    def stop_processor(self) -> None:
        self._processor.close()
