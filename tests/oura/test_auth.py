"""The OAuth token store on a real PostgreSQL: bootstrap, rotation stored before use, concurrent
refreshers serialised by the row lock, a reused refresh token -> a clear re-login message.

The token endpoint here is an in-process fake with Oura's rotation rules (single-use refresh
tokens, 400 invalid_grant on reuse); tests/oura/test_sandbox.py repeats the rotation checks
against the sandbox's token endpoint over real HTTP.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from urllib.parse import parse_qs

import httpx
import psycopg
import pytest

from myhealth.oura.auth import (
    OAuthTokens,
    StaticToken,
    TokenSet,
    store_tokens,
    token_provider,
)
from myhealth.oura.errors import OuraError, ReauthenticationRequired
from myhealth.platform.config import OuraSettings, load
from myhealth.platform.errors import UserFacingError


class RotatingTokenEndpoint:
    """Oura-like token endpoint: each refresh token works once and yields a new pair."""

    def __init__(self, first_refresh_token: str, *, delay: float = 0.0) -> None:
        self.valid_refresh = {first_refresh_token}
        self.calls = 0
        self.generation = 0
        self.delay = delay

    async def handler(self, request: httpx.Request) -> httpx.Response:
        form = {key: values[0] for key, values in parse_qs(request.content.decode()).items()}
        assert form["client_id"] == "cid"
        assert form["client_secret"] == "secret"
        self.calls += 1
        await asyncio.sleep(self.delay)
        if form.get("grant_type") != "refresh_token":
            return httpx.Response(400, json={"error": "unsupported_grant_type"})
        token = form["refresh_token"]
        if token not in self.valid_refresh:
            return httpx.Response(400, json={"error": "invalid_grant"})
        self.valid_refresh.discard(token)
        self.generation += 1
        new_refresh = f"refresh-{self.generation}"
        self.valid_refresh.add(new_refresh)
        return httpx.Response(
            200,
            json={
                "token_type": "bearer",
                "access_token": f"access-{self.generation}",
                "refresh_token": new_refresh,
                "expires_in": 86400,
                "scope": "extapi:daily extapi:heartrate",
            },
        )

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)


def tokens(
    database_url: str, endpoint: RotatingTokenEndpoint, bootstrap: str | None = None
) -> OAuthTokens:
    return OAuthTokens(
        database_url,
        "https://oura.test/oauth/token",
        "cid",
        "secret",
        bootstrap,
        transport=endpoint.transport(),
    )


def stored(database_url: str) -> tuple[str | None, str | None, dt.datetime | None, str | None]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT access_token, refresh_token, expires_at, scope FROM oauth_tokens"
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2], row[3]


def test_bootstrap_refresh_token_seeds_the_store_and_is_rotated(database_url: str) -> None:
    endpoint = RotatingTokenEndpoint("bootstrap")
    provider = tokens(database_url, endpoint, bootstrap="bootstrap")

    assert asyncio.run(provider.access_token()) == "access-1"
    access, refresh, expires_at, scope = stored(database_url)
    assert (access, refresh, scope) == ("access-1", "refresh-1", "extapi:daily extapi:heartrate")
    assert expires_at is not None
    assert expires_at > dt.datetime.now(dt.UTC) + dt.timedelta(hours=23)

    # A later run (same stale OURA_REFRESH_TOKEN in its environment) reuses the stored token.
    later = tokens(database_url, endpoint, bootstrap="bootstrap")
    assert asyncio.run(later.access_token()) == "access-1"
    assert endpoint.calls == 1


def test_two_concurrent_refreshers_make_exactly_one_refresh_call(database_url: str) -> None:
    asyncio.run(
        store_tokens(
            database_url,
            TokenSet(
                "access-0", "refresh-0", dt.datetime.now(dt.UTC) + dt.timedelta(hours=1), None
            ),
        )
    )
    endpoint = RotatingTokenEndpoint("refresh-0", delay=0.3)
    first, second = tokens(database_url, endpoint), tokens(database_url, endpoint)

    async def both() -> list[str]:
        # Both runs got a 401 for the same access token at the same moment.
        return list(await asyncio.gather(first.refresh("access-0"), second.refresh("access-0")))

    assert asyncio.run(both()) == ["access-1", "access-1"]
    assert endpoint.calls == 1
    assert first.refresh_calls + second.refresh_calls == 1
    assert stored(database_url)[:2] == ("access-1", "refresh-1")


def test_expired_access_token_is_refreshed_before_use(database_url: str) -> None:
    asyncio.run(
        store_tokens(
            database_url,
            TokenSet("old", "refresh-0", dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1), "x"),
        )
    )
    endpoint = RotatingTokenEndpoint("refresh-0")
    assert asyncio.run(tokens(database_url, endpoint).access_token()) == "access-1"
    assert stored(database_url)[:2] == ("access-1", "refresh-1")


def test_reused_refresh_token_asks_for_a_new_login(database_url: str) -> None:
    asyncio.run(store_tokens(database_url, TokenSet("access-0", "burnt", None, None)))
    endpoint = RotatingTokenEndpoint("something-else")
    with pytest.raises(ReauthenticationRequired, match=r"invalid_grant.*myhealth auth login"):
        asyncio.run(tokens(database_url, endpoint).refresh("access-0"))
    assert stored(database_url)[:2] == ("access-0", "burnt")  # nothing half-written


def test_empty_store_without_bootstrap_asks_for_login(database_url: str) -> None:
    endpoint = RotatingTokenEndpoint("unused")
    with pytest.raises(ReauthenticationRequired, match="myhealth auth login"):
        asyncio.run(tokens(database_url, endpoint).access_token())
    assert endpoint.calls == 0


def test_invalid_client_points_at_the_credentials(database_url: str) -> None:
    asyncio.run(store_tokens(database_url, TokenSet("a", "r", None, None)))
    transport = httpx.MockTransport(
        lambda request: httpx.Response(401, json={"error": "invalid_client"})
    )
    provider = OAuthTokens(
        database_url, "https://oura.test/oauth/token", "cid", "bad", transport=transport
    )
    with pytest.raises(OuraError, match="OURA_CLIENT_ID and OURA_CLIENT_SECRET"):
        asyncio.run(provider.refresh("a"))


def test_token_provider_choice(database_url: str) -> None:
    base = {"DATABASE_URL": database_url}
    static = token_provider(load(OuraSettings, {**base, "OURA_API_KEY": "pat"}))
    assert isinstance(static, StaticToken)
    assert asyncio.run(static.access_token()) == "pat"
    assert "pat" not in repr(static)
    with pytest.raises(ReauthenticationRequired, match="OURA_API_KEY"):
        asyncio.run(static.refresh("pat"))

    oauth = token_provider(
        load(OuraSettings, {**base, "OURA_CLIENT_ID": "cid", "OURA_CLIENT_SECRET": "s"})
    )
    assert isinstance(oauth, OAuthTokens)

    with pytest.raises(UserFacingError, match="Oura is not connected"):
        token_provider(load(OuraSettings, base))


def test_token_set_repr_hides_tokens() -> None:
    text = repr(TokenSet("secret-access", "secret-refresh", None, "daily"))
    assert "secret" not in text
    assert "daily" in text


def test_waiting_for_another_refresh_is_bounded(database_url: str) -> None:
    asyncio.run(store_tokens(database_url, TokenSet("access-0", "refresh-0", None, None)))
    endpoint = RotatingTokenEndpoint("refresh-0")
    provider = OAuthTokens(
        database_url,
        "https://oura.test/oauth/token",
        "cid",
        "secret",
        transport=endpoint.transport(),
        lock_wait=0.5,
    )
    with psycopg.connect(database_url) as holder:
        # Another run is mid-refresh: it holds the row lock.
        holder.execute("SELECT 1 FROM oauth_tokens FOR UPDATE")
        started = time.monotonic()
        with pytest.raises(OuraError, match="another run has been refreshing"):
            asyncio.run(provider.refresh("access-0"))
        assert time.monotonic() - started < 5
    assert endpoint.calls == 0
