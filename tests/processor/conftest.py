"""Fixtures for the processor tests: the real app served over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from myhealth.processor.server import running

from .support import INGEST_TOKEN, processor_settings


@pytest.fixture
def processor_url(database_url: str) -> Iterator[str]:
    with running(processor_settings(database_url)) as url:
        yield url


@pytest.fixture
def client(processor_url: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {INGEST_TOKEN}"}
    with httpx.Client(base_url=processor_url, headers=headers, timeout=30) as http:
        yield http
