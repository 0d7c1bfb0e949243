"""The whole product, once per session: the sandbox, `myhealth collect` into the processor,
PostgreSQL, and the API in front of the result — every part real, over real HTTP on 127.0.0.1.

The API and the dashboards are checked here against data that the pipeline stored from the
sandbox (their own test modules use hand-built rows for edge cases)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from myhealth import cli
from myhealth.api.server import create_app as create_api
from myhealth.oura.client import client_from_settings
from myhealth.platform.config import (
    ApiSettings,
    OuraSettings,
    ProcessorSettings,
    SandboxSettings,
    load,
)
from myhealth.platform.http import serve_in_thread
from myhealth.processor.server import running as processor_running
from myhealth.sandbox.server import running as sandbox_running
from myhealth.storage.local_cluster import LocalCluster

from ..conftest import TEMPLATE

TIMEZONE = "Europe/Helsinki"
NOW = dt.datetime(2026, 3, 31, 9, 0, tzinfo=dt.UTC)  # the window crosses the March trip and DST
DAYS = 120
API_KEY = "system-test-api-key-0123456789"
JWT_SECRET = "system-test-jwt-secret-0123456789abcdef"


@dataclass(frozen=True)
class System:
    database_url: str
    sandbox_url: str
    processor_url: str
    api_url: str
    start: dt.date
    end: dt.date

    def token(self) -> str:
        response = httpx.post(f"{self.api_url}/auth/login", json={"api_key": API_KEY})
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token


@pytest.fixture(scope="session")
def system(pg_cluster: LocalCluster) -> Iterator[System]:
    database_url = pg_cluster.create_database("system", template=TEMPLATE)
    end = NOW.astimezone(dt.UTC).date()
    start = end - dt.timedelta(days=DAYS - 1)
    with contextlib.ExitStack() as stack:
        sandbox = stack.enter_context(
            sandbox_running(SandboxSettings(USER_TIMEZONE=TIMEZONE, SANDBOX_SEED=42), now=NOW)
        )
        environ = {
            "DATABASE_URL": database_url,
            "USER_TIMEZONE": TIMEZONE,
            "OURA_API_BASE_URL": sandbox.url,
            "OURA_API_KEY": "sandbox-accepts-any-bearer",
        }
        # With the webhook worker on, as a deployment with webhooks runs it (docs/webhooks.md).
        processor_url = stack.enter_context(
            processor_running(
                load(ProcessorSettings, {"DATABASE_URL": database_url}),
                webhook_oura=client_from_settings(load(OuraSettings, environ)),
            )
        )
        environ["PROCESSOR_URL"] = processor_url
        argv = ["collect", "--no-progress", "--start-date", str(start), "--end-date", str(end)]
        assert cli.run(argv, environ) == 0
        api_settings = load(
            ApiSettings,
            {
                "DATABASE_URL": database_url,
                "USER_TIMEZONE": TIMEZONE,
                "API_KEY": API_KEY,
                "JWT_SECRET": JWT_SECRET,
                "RATE_LIMIT_PER_MINUTE": "100000",
                "OURA_WEBHOOK_VERIFICATION_TOKEN": "system-test-verification-token",
                "OURA_CLIENT_SECRET": "system-test-client-secret",
            },
        )
        api_url = stack.enter_context(serve_in_thread(create_api(api_settings), name="api"))
        yield System(database_url, sandbox.url, processor_url, api_url, start, end)
