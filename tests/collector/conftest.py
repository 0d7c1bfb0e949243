"""The collector end to end: the Oura-compatible sandbox (`myhealth sandbox`, a subprocess
shared by the session, so that generating its data runs beside the collector instead of
competing for one interpreter) and the processor (in a background thread), both over real
HTTP on 127.0.0.1, a fresh PostgreSQL database per test, and `myhealth collect` driven
in-process through `myhealth.cli.run`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from myhealth.platform.config import CollectorSettings
from tests.processes import myhealth_environ, service

from .support import NOW, TIMEZONE, Stack


@pytest.fixture(scope="session")
def sandbox_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    environ = myhealth_environ(USER_TIMEZONE=TIMEZONE, SANDBOX_SEED="42")
    with service("sandbox", environ, tmp_path_factory.mktemp("sandbox")) as sandbox:
        yield sandbox.url


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
