"""API fixtures: a database filled with `dataset.build()`, settings, and the real app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from myhealth.api.server import create_app
from myhealth.platform.config import ApiSettings, load
from . import dataset

API_KEY = "test-api-key-0123456789"
JWT_SECRET = "test-jwt-secret-0123456789abcdef0123456789"


@pytest.fixture(scope="session")
def data() -> dataset.Dataset:
    return dataset.build()


@pytest.fixture
def filled_database_url(database_url: str, data: dataset.Dataset) -> str:
    with psycopg.connect(database_url) as conn:
        data.load(conn)
    return database_url


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


@pytest.fixture
def client(make_client: ClientFactory, filled_database_url: str) -> TestClient:
    return make_client(filled_database_url)


def bearer(client: TestClient) -> dict[str, str]:
    response = client.post("/auth/login", json={"api_key": API_KEY})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def auth(client: TestClient) -> dict[str, str]:
    return bearer(client)


def get_json(client: TestClient, path: str, headers: dict[str, str], **params: Any) -> Any:
    response = client.get(path, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()
