"""API fixtures: a database filled with `dataset.build()`, settings, and the real app."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from myhealth.api.server import create_app
from myhealth.insights import store as insights_store
from myhealth.platform.config import ApiSettings, load
from myhealth.storage.local_cluster import LocalCluster

from . import dataset

MIGRATED_TEMPLATE = "myhealth_template"  # made by the `pg_cluster` fixture in tests/conftest.py
API_KEY = "test-api-key-0123456789"
JWT_SECRET = "test-jwt-secret-0123456789abcdef0123456789"


@pytest.fixture(scope="session")
def data() -> dataset.Dataset:
    return dataset.build()


@pytest.fixture(scope="session")
def filled_database_url(pg_cluster: LocalCluster, data: dataset.Dataset) -> str:
    """One migrated database with the dataset, shared by the read-only tests (tests that
    write use `database_url`, a fresh database of their own)."""
    url = pg_cluster.create_database("api_filled", template=MIGRATED_TEMPLATE)
    with psycopg.connect(url) as conn:
        data.load(conn)
    refresh_insights(url)  # the dataset bypasses the processor, whose batches refresh them
    return url


def refresh_insights(database_url: str) -> None:
    """Compute the insights of everything stored (the first refresh of a database is full)."""

    async def main() -> None:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            await insights_store.rebuild(conn)

    asyncio.run(main())


def api_settings(database_url: str, **overrides: str) -> ApiSettings:
    environ = {
        "DATABASE_URL": database_url,
        "API_KEY": API_KEY,
        "JWT_SECRET": JWT_SECRET,
        "USER_TIMEZONE": dataset.USER_TIMEZONE,
        **overrides,
    }
    return load(ApiSettings, environ)


ClientFactory = Callable[..., TestClient]


@pytest.fixture
def make_client() -> Iterator[ClientFactory]:
    """Build a client for the real app on a database, with extra settings; closed after the
    test."""
    opened: list[TestClient] = []

    def factory(database_url: str, **overrides: str) -> TestClient:
        client = TestClient(create_app(api_settings(database_url, **overrides)))
        client.__enter__()
        opened.append(client)
        return client

    yield factory
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def client(filled_database_url: str) -> Iterator[TestClient]:
    """The app on the filled database; the rate limit is out of the way (tested separately)."""
    app = create_app(api_settings(filled_database_url, RATE_LIMIT_PER_MINUTE="1000000"))
    with TestClient(app) as test_client:
        yield test_client


def bearer(client: TestClient) -> dict[str, str]:
    response = client.post("/auth/login", json={"api_key": API_KEY})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="module")
def auth(client: TestClient) -> dict[str, str]:
    return bearer(client)


def get_json(client: TestClient, path: str, headers: dict[str, str], **params: Any) -> Any:
    response = client.get(path, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()
