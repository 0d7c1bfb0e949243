"""Acceptance: the Oura client, token store and login against the sandbox over real HTTP.

The sandbox (myhealth.sandbox) serves a deterministic synthetic person who lives in Helsinki
and travels to New York each March, so windows cross DST changes and UTC offsets. Its clock
is frozen; its fault switches (`POST /_sandbox/faults`) produce 429s, 5xx bursts, repeated
next_tokens, strict token checking and per-collection date semantics; `/_sandbox/stats`
counts token-endpoint calls. Ground truth comes from the sandbox's own generator.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import threading
import time
import zoneinfo
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from myhealth.oura.auth import (
    OAuthTokens,
    StaticToken,
    TokenProvider,
    TokenSet,
    store_tokens,
    token_provider,
)
from myhealth.oura.catalog import DATA_TYPES, DataType
from myhealth.oura.client import (
    OuraClient,
    OuraRequestError,
    PaginationError,
    RateLimitExhausted,
)
from myhealth.oura.errors import ReauthenticationRequired
from myhealth.oura.models import parse
from myhealth.platform.config import OuraSettings, SandboxSettings, load
from myhealth.platform.errors import ErrorCode
from myhealth.sandbox.documents import Sandbox
from myhealth.sandbox.server import RunningSandbox, running
from tests.fast_retry import FAST_RETRY
from tests.oura.test_login import Login

NOW = dt.datetime(2025, 6, 15, 12, 0, tzinfo=dt.UTC)
HELSINKI = zoneinfo.ZoneInfo("Europe/Helsinki")
CLIENT_ID, CLIENT_SECRET = "myhealth-test", "sandbox-secret"
WINDOW = (dt.date(2025, 3, 1), dt.date(2025, 6, 14))
DATED = [t for t in DATA_TYPES.values() if t.window == "date"]
# Days that stress the window rules: trip start (offset change), US DST, return home, EU DST,
# the last complete day.
PROBE_DAYS = [
    dt.date(2025, 3, 5),
    dt.date(2025, 3, 9),
    dt.date(2025, 3, 13),
    dt.date(2025, 3, 30),
    dt.date(2025, 6, 14),
]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    settings = SandboxSettings(USER_TIMEZONE="Europe/Helsinki")
    with running(settings, now=NOW, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_faults(sandbox: RunningSandbox) -> None:
    httpx.post(f"{sandbox.url}/_sandbox/reset", timeout=10).raise_for_status()


def set_faults(sandbox: RunningSandbox, **faults: Any) -> None:
    httpx.post(f"{sandbox.url}/_sandbox/faults", json=faults, timeout=10).raise_for_status()


def sandbox_stats(sandbox: RunningSandbox) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()
    return stats


def fetch(
    sandbox: RunningSandbox,
    data_type: DataType,
    start: dt.date | None,
    end: dt.date | None,
    *,
    tokens: TokenProvider | None = None,
    **client_kwargs: Any,
) -> tuple[list[list[dict[str, Any]]], OuraClient]:
    client = OuraClient(sandbox.base_url, tokens or StaticToken("any"), **client_kwargs)

    async def run() -> list[list[dict[str, Any]]]:
        async with client:
            return [page async for page in client.fetch(data_type, start, end, tz=HELSINKI)]

    return asyncio.run(run()), client


def documents(pages: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [doc for page in pages for doc in page]


def expected_for_day(sandbox: RunningSandbox, data_type: DataType, day: dt.date) -> list[str]:
    """Ids of the documents the sandbox holds for `day`, from its generator."""
    truth = Sandbox(sandbox.state)
    day_field = data_type.day_field or "day"
    found = []
    for offset in range(-3, 4):
        for _, doc in truth.day_documents(data_type.name, day + dt.timedelta(days=offset)):
            if doc.get(day_field) == day.isoformat():
                found.append(str(doc.get("id") or doc[day_field]))
    return sorted(found)


def ids(docs: list[dict[str, Any]], data_type: DataType) -> list[str]:
    day_field = data_type.day_field or "day"
    return sorted(str(doc.get("id") or doc[day_field]) for doc in docs)


# -- every route -------------------------------------------------------------------------------


@pytest.mark.parametrize("data_type", list(DATA_TYPES.values()), ids=list(DATA_TYPES))
def test_every_route_lists_parses_and_gets(sandbox: RunningSandbox, data_type: DataType) -> None:
    pages, client = fetch(sandbox, data_type, *WINDOW)
    docs = documents(pages)
    assert docs, f"the sandbox has {data_type.name} documents in {WINDOW}"
    for doc in docs:
        parse(data_type.name, doc)
    if data_type.window == "date":
        day_field = data_type.day_field or "day"
        days = {dt.date.fromisoformat(doc[day_field]) for doc in docs}
        assert WINDOW[0] <= min(days)
        assert max(days) <= WINDOW[1]
    if data_type.name == "personal_info":
        assert pages == [[docs[0]]]
    if data_type.single_document_route:
        some = docs[len(docs) // 2]

        async def get() -> dict[str, Any]:
            async with OuraClient(sandbox.base_url, StaticToken("any")) as single:
                return await single.get(data_type, some["id"])

        assert asyncio.run(get()) == some
    statuses = {status for (_, status) in client.stats.requests}
    assert statuses == {"200"}


# -- heart rate --------------------------------------------------------------------------------


def heart_rate_truth(sandbox: RunningSandbox, start: dt.date, end: dt.date) -> list[str]:
    low = dt.datetime.combine(start, dt.time(), HELSINKI)
    high = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), HELSINKI)
    person = sandbox.state.person
    rows = []
    day = low.astimezone(dt.UTC).date()
    while day <= high.astimezone(dt.UTC).date():
        for row in person.heart_rate(day):
            moment = dt.datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00"))
            if low <= moment < high:
                rows.append(f"{row['timestamp']}|{row['source']}")
        day += dt.timedelta(days=1)
    return sorted(rows)


def heart_rate_keys(docs: list[dict[str, Any]]) -> list[str]:
    return sorted(f"{doc['timestamp']}|{doc['source']}" for doc in docs)


def test_heartrate_pages_through_several_pages(sandbox: RunningSandbox) -> None:
    set_faults(sandbox, heartrate_page_size=150)
    start, end = dt.date(2025, 3, 8), dt.date(2025, 3, 10)  # across the US DST change
    pages, client = fetch(sandbox, DATA_TYPES["heartrate"], start, end)
    requests = client.stats.requests[("/v2/usercollection/heartrate", "200")]
    truth = heart_rate_truth(sandbox, start, end)

    assert len(truth) > 450
    assert requests >= len(truth) // 150
    assert heart_rate_keys(documents(pages)) == truth


def test_heartrate_long_window_is_chunked_and_complete(sandbox: RunningSandbox) -> None:
    start, end = dt.date(2025, 1, 20), dt.date(2025, 4, 10)  # 81 days: three 30-day chunks
    pages, _ = fetch(sandbox, DATA_TYPES["heartrate"], start, end)
    assert heart_rate_keys(documents(pages)) == heart_rate_truth(sandbox, start, end)


# -- date windows ------------------------------------------------------------------------------


_probe_days: dict[str, list[dt.date]] = {}


def probe_days(sandbox: RunningSandbox, data_type: DataType) -> list[dt.date]:
    """The fixed probe days, plus (for sparse types) days that do hold documents."""
    if data_type.name in _probe_days:
        return _probe_days[data_type.name]
    days = list(PROBE_DAYS)
    with_documents = [
        day
        for day in (WINDOW[0] + dt.timedelta(days=n) for n in range(0, 106, 3))
        if expected_for_day(sandbox, data_type, day)
    ]
    days += with_documents[:1] + with_documents[-1:]
    _probe_days[data_type.name] = sorted(set(days))
    return _probe_days[data_type.name]


@pytest.mark.parametrize("semantics", ["default", "inclusive", "exclusive", "utc"])
@pytest.mark.parametrize("data_type", DATED, ids=[t.name for t in DATED])
def test_one_day_window_returns_exactly_that_days_documents(
    sandbox: RunningSandbox, data_type: DataType, semantics: str
) -> None:
    if semantics != "default":
        set_faults(sandbox, date_semantics={data_type.name: semantics})
    checked = 0
    for day in probe_days(sandbox, data_type):
        pages, _ = fetch(sandbox, data_type, day, day)
        expected = expected_for_day(sandbox, data_type, day)
        assert ids(documents(pages), data_type) == expected, day
        checked += len(expected)
    assert checked > 0


def test_multi_day_window_has_no_duplicates_across_pages(sandbox: RunningSandbox) -> None:
    set_faults(sandbox, page_size=7)
    data_type = DATA_TYPES["sleep"]
    start, end = dt.date(2025, 3, 1), dt.date(2025, 3, 31)
    pages, client = fetch(sandbox, data_type, start, end)
    expected = sorted(
        doc_id
        for n in range((end - start).days + 1)
        for doc_id in expected_for_day(sandbox, data_type, start + dt.timedelta(days=n))
    )
    assert ids(documents(pages), data_type) == expected
    assert client.stats.requests[("/v2/usercollection/sleep", "200")] > 4


# -- faults ------------------------------------------------------------------------------------


def test_rate_limited_then_success(sandbox: RunningSandbox) -> None:
    baseline, _ = fetch(sandbox, DATA_TYPES["daily_sleep"], *WINDOW)
    set_faults(sandbox, rate_limit_every=2, retry_after=1, page_size=40)
    started = time.monotonic()
    # Millisecond backoff: any longer wait can only come from the sandbox's Retry-After.
    pages, client = fetch(sandbox, DATA_TYPES["daily_sleep"], *WINDOW, retry=FAST_RETRY)
    elapsed = time.monotonic() - started

    assert documents(pages) == documents(baseline)
    limited = client.stats.requests[("/v2/usercollection/daily_sleep", "429")]
    assert limited >= 1
    assert client.stats.retries == {"rate_limited": limited}
    assert elapsed >= limited * 1.0  # each 429 waited out its `Retry-After: 1`


def test_retry_after_is_honoured_up_to_the_policy_cap(sandbox: RunningSandbox) -> None:
    set_faults(sandbox, rate_limit_every=1, retry_after=3)  # every request: 429, wait 3 s
    policy = dataclasses.replace(FAST_RETRY, attempts=3, retry_after_max=0.2)
    started = time.monotonic()
    with pytest.raises(RateLimitExhausted, match="after 2 retries") as raised:
        fetch(sandbox, DATA_TYPES["daily_sleep"], *WINDOW, retry=policy)
    elapsed = time.monotonic() - started
    assert raised.value.code == ErrorCode.RATE_LIMIT_EXHAUSTED
    assert 2 * 0.2 <= elapsed < 3  # two capped waits, never Oura's 3 s


def test_server_error_burst_then_success(sandbox: RunningSandbox) -> None:
    baseline, _ = fetch(sandbox, DATA_TYPES["daily_activity"], *WINDOW)
    set_faults(sandbox, error_burst=4, error_status=502)
    pages, client = fetch(sandbox, DATA_TYPES["daily_activity"], *WINDOW, retry=FAST_RETRY)

    assert documents(pages) == documents(baseline)
    assert client.stats.retries == {"server_error": 4}
    assert client.stats.requests[("/v2/usercollection/daily_activity", "502")] == 4


def test_persistent_server_errors_fail_after_bounded_retries(sandbox: RunningSandbox) -> None:
    set_faults(sandbox, error_burst=100)
    with pytest.raises(OuraRequestError, match="gave up after 3 retries"):
        fetch(
            sandbox,
            DATA_TYPES["daily_stress"],
            *WINDOW,
            retry=dataclasses.replace(FAST_RETRY, attempts=4),
        )


def test_repeated_next_token_is_a_clear_error_within_bounded_time(
    sandbox: RunningSandbox,
) -> None:
    set_faults(sandbox, repeat_next_token=["daily_readiness"], page_size=5)
    started = time.monotonic()
    with pytest.raises(PaginationError, match="repeated a next_token"):
        fetch(sandbox, DATA_TYPES["daily_readiness"], dt.date(2025, 5, 1), dt.date(2025, 5, 20))
    assert time.monotonic() - started < 10


def test_heart_rate_does_not_follow_a_repeating_token(sandbox: RunningSandbox) -> None:
    """Heart rate asks again from the last instant of a full page instead of following its
    token (docs/oura-api.md#heart-rate): a token that repeats forever cannot hold it."""
    window = (dt.date(2025, 5, 1), dt.date(2025, 5, 3))
    set_faults(sandbox, heartrate_page_size=50)
    expected = [
        sample for page in fetch(sandbox, DATA_TYPES["heartrate"], *window)[0] for sample in page
    ]
    set_faults(sandbox, repeat_next_token=["heartrate"], heartrate_page_size=50)
    started = time.monotonic()
    pages, _ = fetch(sandbox, DATA_TYPES["heartrate"], *window)
    assert time.monotonic() - started < 10
    samples = [sample for page in pages for sample in page]
    assert len(samples) > 100
    assert samples == expected


def test_page_cap_against_the_sandbox(sandbox: RunningSandbox) -> None:
    set_faults(sandbox, page_size=1)
    with pytest.raises(PaginationError, match="more than 5 pages"):
        fetch(sandbox, DATA_TYPES["daily_spo2"], *WINDOW, max_pages=5)


# -- OAuth against the sandbox's token endpoint -------------------------------------------------


def oauth(sandbox: RunningSandbox, database_url: str) -> OAuthTokens:
    return OAuthTokens(database_url, sandbox.token_url, CLIENT_ID, CLIENT_SECRET)


def issued_pair(sandbox: RunningSandbox) -> TokenSet:
    body = httpx.post(f"{sandbox.url}/_sandbox/tokens", timeout=10).json()
    # The sandbox clock is frozen in the past; the store compares expiries with real time.
    return TokenSet(
        body["access_token"],
        body["refresh_token"],
        dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
        body["scope"],
    )


def stored(database_url: str) -> tuple[str, str]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT access_token, refresh_token FROM oauth_tokens").fetchone()
    assert row is not None
    return row[0], row[1]


def accepted(sandbox: RunningSandbox, access_token: str) -> bool:
    response = httpx.get(
        f"{sandbox.url}/v2/usercollection/personal_info",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=10,
    )
    return response.status_code == 200


def test_401_triggers_one_refresh_and_the_new_pair_is_stored(
    sandbox: RunningSandbox, database_url: str
) -> None:
    set_faults(sandbox, strict_auth=True)
    original = issued_pair(sandbox)
    asyncio.run(store_tokens(database_url, original))
    set_faults(sandbox, expire_tokens=True)  # Oura now refuses the stored access token

    pages, client = fetch(
        sandbox, DATA_TYPES["daily_sleep"], *WINDOW, tokens=oauth(sandbox, database_url)
    )

    assert documents(pages)
    assert client.stats.requests[("/v2/usercollection/daily_sleep", "401")] == 1
    assert sandbox_stats(sandbox)["token_calls"] == {"refresh_token": 1}
    access, refresh = stored(database_url)
    assert access != original.access_token
    assert refresh != original.refresh_token
    assert accepted(sandbox, access)


def test_concurrent_refreshers_make_exactly_one_refresh_call(
    sandbox: RunningSandbox, database_url: str
) -> None:
    set_faults(sandbox, strict_auth=True)
    original = issued_pair(sandbox)
    asyncio.run(store_tokens(database_url, original))
    set_faults(sandbox, expire_tokens=True)

    barrier = threading.Barrier(2)
    results: list[str] = []
    errors: list[BaseException] = []

    def refresher() -> None:
        provider = oauth(sandbox, database_url)  # its own connection, like a second process
        barrier.wait()
        try:
            results.append(asyncio.run(provider.refresh(original.access_token)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=refresher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sandbox_stats(sandbox)["token_calls"] == {"refresh_token": 1}
    assert len(results) == 2
    assert results[0] == results[1]
    assert accepted(sandbox, results[0])
    access, refresh = stored(database_url)
    assert access == results[0]
    newest = sandbox.state.by_refresh[refresh]
    assert not newest.refresh_used  # the stored refresh token is the newest, still unspent
    assert newest.access_token == access


def test_reused_refresh_token_asks_for_reauthentication(
    sandbox: RunningSandbox, database_url: str
) -> None:
    original = issued_pair(sandbox)
    asyncio.run(store_tokens(database_url, original))
    # Someone else (a copy of the database, another deployment) spends the refresh token first.
    spent = httpx.post(
        sandbox.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": original.refresh_token,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
        timeout=10,
    )
    assert spent.status_code == 200

    with pytest.raises(ReauthenticationRequired) as caught:
        asyncio.run(oauth(sandbox, database_url).refresh(original.access_token))
    message = str(caught.value)
    assert "invalid_grant" in message
    assert "myhealth auth login" in message
    assert str(original.refresh_token) not in message


def test_bootstrap_refresh_token_against_the_sandbox(
    sandbox: RunningSandbox, database_url: str
) -> None:
    seed = issued_pair(sandbox).refresh_token
    assert seed is not None
    settings = load(
        OuraSettings,
        {
            "DATABASE_URL": database_url,
            "OURA_TOKEN_URL": sandbox.token_url,
            "OURA_CLIENT_ID": CLIENT_ID,
            "OURA_CLIENT_SECRET": CLIENT_SECRET,
            "OURA_REFRESH_TOKEN": seed,
        },
    )
    set_faults(sandbox, strict_auth=True)
    pages, _ = fetch(
        sandbox, DATA_TYPES["personal_info"], None, None, tokens=token_provider(settings)
    )
    assert pages[0][0]["id"]
    assert stored(database_url)[1] != seed
    # A second run with the same (now stale) OURA_REFRESH_TOKEN uses the stored pair.
    fetch(sandbox, DATA_TYPES["personal_info"], None, None, tokens=token_provider(settings))
    assert sandbox_stats(sandbox)["token_calls"] == {"refresh_token": 1}


# -- auth login end to end ---------------------------------------------------------------------


def login_settings(sandbox: RunningSandbox, database_url: str) -> OuraSettings:
    return load(
        OuraSettings,
        {
            "DATABASE_URL": database_url,
            "OURA_API_BASE_URL": sandbox.base_url,
            "OURA_AUTHORIZE_URL": sandbox.authorize_url,
            "OURA_TOKEN_URL": sandbox.token_url,
            "OURA_CLIENT_ID": CLIENT_ID,
            "OURA_CLIENT_SECRET": CLIENT_SECRET,
        },
    )


def test_login_end_to_end_then_collect_with_the_stored_tokens(
    sandbox: RunningSandbox, database_url: str
) -> None:
    set_faults(sandbox, strict_auth=True)
    session = Login(login_settings(sandbox, database_url), None)
    # The browser: Oura's (the sandbox's) consent page redirects straight to our callback.
    response = httpx.get(session.authorize_url(), follow_redirects=True, timeout=10)
    session.thread.join(timeout=20)

    assert response.status_code == 200
    assert session.error is None
    assert session.result == 0
    output = session.out.getvalue()
    assert (
        "Granted scopes: email, personal, daily, heartrate, workout, tag, session, spo2" in output
    )
    assert "warning" not in output
    assert sandbox_stats(sandbox)["token_calls"] == {"authorization_code": 1}

    pages, _ = fetch(
        sandbox, DATA_TYPES["personal_info"], None, None, tokens=oauth(sandbox, database_url)
    )
    assert pages[0][0]["id"]


def test_login_warns_about_scopes_not_granted(sandbox: RunningSandbox, database_url: str) -> None:
    set_faults(sandbox, scope="extapi:personal extapi:daily")
    session = Login(login_settings(sandbox, database_url), None)
    httpx.get(session.authorize_url(), follow_redirects=True, timeout=10)
    session.thread.join(timeout=20)

    assert session.result == 0
    output = session.out.getvalue()
    assert "Granted scopes: personal, daily" in output
    for scope in ("heartrate", "workout", "tag", "session", "spo2", "email"):
        assert f"warning: scope '{scope}' was not granted" in output
