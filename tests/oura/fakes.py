"""Test doubles for the Oura client: a token provider that counts, and helpers to run the
client against an in-process httpx MockTransport (unit tests of retry and window logic; the
acceptance tests use the sandbox over real HTTP)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from myhealth.oura.catalog import DataType
from myhealth.oura.client import OuraClient
from tests.fast_retry import FAST_RETRY


class CountingTokens:
    """Hands out `token-<n>`; `refresh` moves to the next number."""

    def __init__(self) -> None:
        self.generation = 0
        self.refreshes: list[str] = []

    async def access_token(self) -> str:
        return f"token-{self.generation}"

    async def refresh(self, rejected: str) -> str:
        self.refreshes.append(rejected)
        self.generation += 1
        return f"token-{self.generation}"


Handler = Callable[[httpx.Request], httpx.Response]


def mock_client(handler: Handler, **kwargs: Any) -> tuple[OuraClient, CountingTokens]:
    tokens = CountingTokens()
    kwargs.setdefault("retry", FAST_RETRY)
    client = OuraClient(
        "https://oura.test", tokens, transport=httpx.MockTransport(handler), **kwargs
    )
    return client, tokens


async def _collect(pages: AsyncIterator[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    return [page async for page in pages]


def fetch_all(
    client: OuraClient,
    data_type: DataType,
    start: dt.date | None,
    end: dt.date | None,
    **kwargs: Any,
) -> list[list[dict[str, Any]]]:
    async def run() -> list[list[dict[str, Any]]]:
        async with client:
            return await _collect(client.fetch(data_type, start, end, **kwargs))

    return asyncio.run(run())


def flatten(pages: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [document for page in pages for document in page]
