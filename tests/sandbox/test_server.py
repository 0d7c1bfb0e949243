"""The sandbox over real HTTP: Oura's wire format, date semantics, paging, OAuth, fault switches."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from myhealth.oura.catalog import DATA_TYPES
from myhealth.platform.config import SandboxSettings
from myhealth.sandbox.server import RunningSandbox, running

SPEC: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "data" / "oura" / "openapi.json").read_text()
)
NOW = dt.datetime(2025, 3, 20, 12, 0, tzinfo=dt.UTC)  # the sandbox's frozen "now"
BEARER = {"Authorization": "Bearer any-token"}
BASE = "/v2/usercollection"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with running(SandboxSettings(USER_TIMEZONE="Europe/Helsinki"), now=NOW) as server:
        yield server


@pytest.fixture
def client(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, headers=BEARER, timeout=30) as http:
        http.post("/_sandbox/reset").raise_for_status()
        yield http
        http.post("/_sandbox/reset").raise_for_status()


def faults(client: httpx.Client, **values: Any) -> dict[str, Any]:
    response = client.post("/_sandbox/faults", json=values)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def days(client: httpx.Client, route: str, start: str, end: str) -> list[str]:
    response = client.get(f"{BASE}/{route}", params={"start_date": start, "end_date": end})
    assert response.status_code == 200, response.text
    return [doc["day"] for doc in response.json()["data"]]


def list_schema(route: str) -> jsonschema.Draft202012Validator:
    ref = SPEC["paths"][f"{BASE}/{route}"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    ref = ref["anyOf"][0] if "anyOf" in ref else ref
    return jsonschema.Draft202012Validator({**ref, "components": SPEC["components"]})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_started_by_hand_it_answers_the_acceptance_curl() -> None:
    port = free_port()
    environ = {**os.environ, "PORT": str(port), "LOG_LEVEL": "warning"}
    process = subprocess.Popen(
        [sys.executable, "-c", "from myhealth.cli import main; main()", "sandbox"],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "sandbox did not come up"
                time.sleep(0.2)
        response = httpx.get(
            f"{url}/v2/usercollection/daily_sleep?start_date=2025-01-01&end_date=2025-01-31",
            headers={"Authorization": "Bearer x"},
        )
        assert response.status_code == 200
        body = response.json()
        assert len(body["data"]) == 31
        assert body["next_token"] is None
        assert [d["day"] for d in body["data"]][:2] == ["2025-01-01", "2025-01-02"]
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize(
    "data_type", [name for name, t in DATA_TYPES.items() if t.wrapped], ids=str
)
def test_list_responses_match_the_openapi_envelopes(client: httpx.Client, data_type: str) -> None:
    route = DATA_TYPES[data_type].route
    params = {"start_date": "2025-02-01", "end_date": "2025-03-15"}
    if data_type == "heartrate":
        params = {"start_datetime": "2025-03-01T00:00:00+02:00", "end_datetime": "2025-03-02"}
    elif data_type == "ring_configuration":
        params = {}
    body = client.get(f"{BASE}/{route}", params=params).json()
    assert set(body) == {"data", "next_token"}
    errors = [e.message for e in list_schema(route).iter_errors(body)]
    assert not errors, errors[:3]
    if data_type not in ("rest_mode_period",):
        assert body["data"], data_type
    mirrored = client.get(f"/v2/sandbox/usercollection/{route}", params=params).json()
    assert mirrored == body


def test_personal_info_is_a_bare_object(client: httpx.Client) -> None:
    body = client.get(f"{BASE}/personal_info").json()
    assert "data" not in body
    assert body["id"]
    schema = {"$ref": "#/components/schemas/PersonalInfoResponse", **SPEC}
    assert not list(jsonschema.Draft202012Validator(schema).iter_errors(body))


@pytest.mark.parametrize(
    "data_type",
    [n for n, t in DATA_TYPES.items() if t.single_document_route and n != "rest_mode_period"],
)
def test_single_document_routes_return_the_bare_document(
    client: httpx.Client, data_type: str
) -> None:
    route = DATA_TYPES[data_type].route
    listed = client.get(
        f"{BASE}/{route}", params={"start_date": "2025-02-01", "end_date": "2025-03-15"}
    ).json()["data"]
    doc = next(d for d in listed if "id" in d)
    assert client.get(f"{BASE}/{route}/{doc['id']}").json() == doc


def test_unknown_document_is_404_with_oura_body(client: httpx.Client) -> None:
    for path in ("daily_sleep/not-existing", "sleep/00000000-0000-4000-8000-000000000000"):
        response = client.get(f"{BASE}/{path}")
        assert response.status_code == 404
        assert response.json() == {"detail": "Document not found."}


def test_malformed_dates_are_422_pydantic_style(client: httpx.Client) -> None:
    response = client.get(f"{BASE}/sleep", params={"start_date": "abc", "end_date": "2025-01-02"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail[0]["loc"][:2] == ["query", "start_date"]
    assert {"type", "loc", "msg", "input"} <= set(detail[0])
    assert detail[0]["type"] == "datetime_from_date_parsing"
    # Like Oura: numbers parse as unix timestamps, so "1".."2" is a valid, empty window.
    body = client.get(f"{BASE}/sleep", params={"start_date": "1", "end_date": "2"}).json()
    assert body == {"data": [], "next_token": None}


def test_date_semantics_per_collection(client: httpx.Client) -> None:
    assert days(client, "daily_sleep", "2025-02-10", "2025-02-10") == ["2025-02-10"]
    assert days(client, "daily_readiness", "2025-02-10", "2025-02-11") == [
        "2025-02-10",
        "2025-02-11",
    ]
    assert days(client, "daily_activity", "2025-02-10", "2025-02-10") == []
    assert days(client, "daily_activity", "2025-02-10", "2025-02-11") == ["2025-02-10"]
    assert days(client, "daily_activity", "2025-02-10", "2025-02-10T23:59:59") == ["2025-02-10"]
    # sleep: by bedtime_start, so the night filed under the 11th starts on the 10th
    assert "2025-02-11" in days(client, "sleep", "2025-02-10", "2025-02-11")
    assert days(client, "sleep", "2025-02-11", "2025-02-11") == []
    # configurable: make daily_activity inclusive
    faults(client, date_semantics={"daily_activity": "inclusive"})
    assert days(client, "daily_activity", "2025-02-10", "2025-02-10") == ["2025-02-10"]


def test_workouts_are_filtered_by_utc_date(client: httpx.Client) -> None:
    everything = client.get(
        f"{BASE}/workout", params={"start_date": "2025-01-01", "end_date": "2025-03-01"}
    ).json()["data"]
    for doc in everything:
        start = dt.datetime.fromisoformat(doc["start_datetime"]).astimezone(dt.UTC)
        day = start.date().isoformat()
        next_day = (start.date() + dt.timedelta(days=1)).isoformat()
        ids = [d["id"] for d in client.get(
            f"{BASE}/workout", params={"start_date": day, "end_date": next_day}
        ).json()["data"]]  # fmt: skip
        assert doc["id"] in ids


def test_paging_is_complete_and_tokens_are_bound_to_the_query(client: httpx.Client) -> None:
    params = {"start_date": "2024-06-01", "end_date": "2025-03-01"}
    faults(client, page_size=1000)
    whole = client.get(f"{BASE}/daily_sleep", params=params).json()
    assert whole["next_token"] is None
    faults(client, page_size=40)
    pages, collected, token = 0, [], None
    while True:
        query = {**params, **({"next_token": token} if token else {})}
        body = client.get(f"{BASE}/daily_sleep", params=query).json()
        collected += body["data"]
        pages += 1
        token = body["next_token"]
        if token is None:
            break
        assert len(body["data"]) == 40
    assert collected == whole["data"]
    assert pages == len(whole["data"]) // 40 + 1
    first = client.get(f"{BASE}/daily_sleep", params=params).json()["next_token"]
    replay = client.get(
        f"{BASE}/daily_sleep",
        params={"start_date": "2024-07-01", "end_date": "2025-03-01", "next_token": first},
    )
    assert replay.status_code == 400


def test_repeated_next_token_switch(client: httpx.Client) -> None:
    faults(client, page_size=10, repeat_next_token=["daily_readiness"])
    params = {"start_date": "2025-01-01", "end_date": "2025-03-01"}
    first = client.get(f"{BASE}/daily_readiness", params=params).json()["next_token"]
    second = client.get(f"{BASE}/daily_readiness", params={**params, "next_token": first})
    assert second.json()["next_token"] == first
    other = client.get(f"{BASE}/daily_sleep", params=params).json()["next_token"]
    following = client.get(f"{BASE}/daily_sleep", params={**params, "next_token": other})
    assert following.json()["next_token"] not in (None, other)


def test_heartrate_pages_of_1000_utc_rows(client: httpx.Client) -> None:
    params = {"start_datetime": "2025-03-01T00:00:00+02:00", "end_datetime": "2025-03-06T00:00Z"}
    rows, token, pages = [], None, 0
    while True:
        query = {**params, **({"next_token": token} if token else {})}
        body = client.get(f"{BASE}/heartrate", params=query).json()
        assert len(body["data"]) <= 1000
        rows += body["data"]
        pages += 1
        token = body["next_token"]
        if token is None:
            break
    assert pages >= 2
    assert len(rows) > 1000
    stamps = [row["timestamp_unix"] for row in rows]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == len(stamps)
    assert rows[0]["timestamp"] >= "2025-02-28T22:00:00+00:00"
    assert rows[-1]["timestamp"] < "2025-03-06T00:00:00+00:00"
    zero = client.get(
        f"{BASE}/heartrate", params={"start_datetime": "2025-03-01", "end_datetime": "2025-03-01"}
    )
    assert zero.json() == {"data": [], "next_token": None}
    latest = client.get(f"{BASE}/heartrate", params={"latest": "true"}).json()["data"]
    assert len(latest) == 1
    assert latest[0]["timestamp_unix"] <= NOW.timestamp() * 1000


def test_rate_limit_is_429_with_headers_and_200s_carry_none(client: httpx.Client) -> None:
    faults(client, rate_limit_every=2, retry_after=1)
    ok = client.get(f"{BASE}/personal_info")
    limited = client.get(f"{BASE}/personal_info")
    assert ok.status_code == 200
    assert not [h for h in ok.headers if h.lower().startswith(("x-ratelimit", "retry-after"))]
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1"
    for header in ("Limit", "Window", "Reset", "Tier"):
        assert limited.headers[f"X-RateLimit-{header}"]
    assert "detail" in limited.json()


def test_5xx_burst_then_recovery(client: httpx.Client) -> None:
    faults(client, error_burst=3, error_status=502)
    statuses = [client.get(f"{BASE}/personal_info").status_code for _ in range(4)]
    assert statuses == [502, 502, 502, 200]


def test_slow_responses(client: httpx.Client) -> None:
    faults(client, delay_ms=300)
    started = time.monotonic()
    assert client.get(f"{BASE}/personal_info").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_missing_bearer_is_401(sandbox: RunningSandbox) -> None:
    response = httpx.get(f"{sandbox.url}{BASE}/personal_info")
    assert response.status_code == 401
    assert "detail" in response.json()


def test_oauth_code_flow_rotation_and_reuse(client: httpx.Client, sandbox: RunningSandbox) -> None:
    redirect = "http://127.0.0.1:8765/callback"
    authorize = client.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": "cid",
            "redirect_uri": redirect,
            "state": "xyz",
            "scope": "daily heartrate",
        },
    )
    assert authorize.status_code == 302
    location = urllib.parse.urlsplit(authorize.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect
    query = dict(urllib.parse.parse_qsl(location.query))
    assert query["state"] == "xyz"
    form = {"client_id": "cid", "client_secret": "secret", "redirect_uri": redirect}
    first = client.post(
        "/oauth/token", data={**form, "grant_type": "authorization_code", "code": query["code"]}
    ).json()
    assert first["token_type"] == "bearer"
    assert first["expires_in"] > 0
    assert first["scope"] == "extapi:daily extapi:heartrate"
    again = client.post(
        "/oauth/token", data={**form, "grant_type": "authorization_code", "code": query["code"]}
    )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"

    refresh = {"client_id": "cid", "client_secret": "secret", "grant_type": "refresh_token"}
    second = client.post("/oauth/token", data={**refresh, "refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    reused = client.post("/oauth/token", data={**refresh, "refresh_token": first["refresh_token"]})
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert reused.json()["error_description"]

    def status_with(token: str) -> int:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.get(f"{sandbox.url}{BASE}/personal_info", headers=headers).status_code

    assert status_with(first["access_token"]) == 401  # superseded by the refresh
    assert status_with(second.json()["access_token"]) == 200
    stats = client.get("/_sandbox/stats").json()
    assert stats["token_calls"] == {"authorization_code": 2, "refresh_token": 2}

    faults(client, expire_tokens=True)
    assert status_with(second.json()["access_token"]) == 401
    assert status_with("some-other-token") == 200  # like Oura's sandbox
    faults(client, strict_auth=True)
    assert status_with("some-other-token") == 401


def test_unknown_refresh_token_works_once_unless_strict(client: httpx.Client) -> None:
    form = {"client_id": "c", "client_secret": "s", "grant_type": "refresh_token"}
    assert client.post("/oauth/token", data={**form, "refresh_token": "demo"}).status_code == 200
    assert client.post("/oauth/token", data={**form, "refresh_token": "demo"}).status_code == 400
    faults(client, strict_auth=True)
    assert client.post("/oauth/token", data={**form, "refresh_token": "other"}).status_code == 400
    bad = client.post("/oauth/token", data={**form, "grant_type": "client_credentials"})
    assert bad.json()["error"] == "unsupported_grant_type"


def test_client_credentials_are_checked_when_configured() -> None:
    with running(now=NOW, client_id="cid", client_secret="right") as server:
        form = {"grant_type": "refresh_token", "refresh_token": "r", "client_id": "cid"}
        wrong = httpx.post(f"{server.token_url}", data={**form, "client_secret": "wrong"})
        assert wrong.status_code == 401
        assert wrong.json()["error"] == "invalid_client"
        right = httpx.post(f"{server.token_url}", data={**form, "client_secret": "right"})
        assert right.status_code == 200


def test_revise_switch_changes_recent_days_and_keeps_ids(client: httpx.Client) -> None:
    params = {"start_date": "2025-03-10", "end_date": "2025-03-20"}
    before = client.get(f"{BASE}/daily_sleep", params=params).json()["data"]
    faults(client, revise_days=3)
    after = client.get(f"{BASE}/daily_sleep", params=params).json()["data"]
    assert [d["id"] for d in before] == [d["id"] for d in after]
    changed = [b["day"] for b, a in zip(before, after, strict=True) if a != b]
    assert changed
    assert min(changed) >= "2025-03-18"
    sleep = client.get(f"{BASE}/sleep", params=params).json()["data"]
    assert any(d.get("sleep_analysis_reason") == "bedtime_edit" for d in sleep)


def test_clock_serves_nothing_in_the_future_and_moves(client: httpx.Client) -> None:
    clock = client.get("/_sandbox/clock").json()
    assert clock["today"] == "2025-03-20"
    assert days(client, "daily_sleep", "2025-03-15", "2025-04-30")[-1] == "2025-03-20"
    # Today's activity is there already, growing through the day.
    activity = client.get(
        f"{BASE}/daily_activity", params={"start_date": "2025-03-19", "end_date": "2025-03-21"}
    ).json()["data"]
    yesterday, today = activity
    assert today["day"] == "2025-03-20"
    assert 0 < today["steps"] < yesterday["steps"] * 2
    assert today["met"]["items"][-1] is None
    assert today["met"]["items"][0] is not None
    assert None not in yesterday["met"]["items"]
    hr = client.get(
        f"{BASE}/heartrate",
        params={"start_datetime": "2025-03-20T00:00Z", "end_datetime": "2025-03-25T00:00Z"},
    ).json()
    assert max(row["timestamp_unix"] for row in hr["data"]) <= NOW.timestamp() * 1000
    client.post("/_sandbox/clock", json={"advance_days": 1})
    assert days(client, "daily_sleep", "2025-03-15", "2025-04-30")[-1] == "2025-03-21"
    grown = client.get(f"{BASE}/daily_activity/{today['id']}").json()
    assert None not in grown["met"]["items"]
    assert grown["steps"] > today["steps"]
    client.post("/_sandbox/clock", json={"now": "2025-04-01T09:00:00+00:00"})
    assert client.get("/_sandbox/clock").json()["today"] == "2025-04-01"


def test_invalid_documents_switch(client: httpx.Client) -> None:
    faults(client, invalid_documents=2)
    params = {"start_date": "2025-03-01", "end_date": "2025-03-05"}
    data = client.get(f"{BASE}/daily_readiness", params=params).json()["data"]
    broken = [d for d in data if not isinstance(d["day"], str)]
    assert len(broken) == 2
    assert len(data) == 7
    assert all(isinstance(d["score"], str) for d in broken)


def test_faults_are_validated(client: httpx.Client) -> None:
    response = client.post("/_sandbox/faults", json={"rate_limit_every": -1})
    assert response.status_code == 422
    assert client.post("/_sandbox/faults", json={"nonsense": 1}).status_code == 422
    assert client.get("/_sandbox/faults").json()["rate_limit_every"] == 0


def test_stats_and_metrics(client: httpx.Client) -> None:
    client.get(f"{BASE}/daily_sleep/not-existing")
    stats = client.get("/_sandbox/stats").json()
    assert stats["requests"]["GET /v2/usercollection/daily_sleep/{document_id} 404"] == 1
    metrics = client.get("/metrics").text
    assert 'myhealth_http_requests_total{method="GET",route="/v2/usercollection/daily_sleep' in (
        metrics.replace('service="sandbox",', "")
    )
    assert 'myhealth_build_info{service="sandbox"' in metrics


@pytest.mark.parametrize(
    ("start", "end"),
    [("0024-11-11", "2025-03-20"), ("0001-01-01", "9999-12-31"), ("2021-01-01T00:00:00", None)],
)
def test_extreme_windows_return_the_whole_history(
    client: httpx.Client, start: str, end: str | None
) -> None:
    faults(client, page_size=5000)
    params = {"start_date": start, **({"end_date": end} if end else {})}
    body = client.get(f"{BASE}/daily_readiness", params=params).json()
    assert body["data"][0]["day"] == "2021-01-01"
    assert body["data"][-1]["day"] == "2025-03-20"
    assert len(body["data"]) == (dt.date(2025, 3, 20) - dt.date(2021, 1, 1)).days + 1


def test_invalid_documents_are_rejected_by_the_product_models(client: httpx.Client) -> None:
    from myhealth.oura import models

    faults(client, invalid_documents=1)
    for data_type, params in (
        ("daily_sleep", {"start_date": "2025-03-01", "end_date": "2025-03-03"}),
        ("sleep", {"start_date": "2025-03-01", "end_date": "2025-03-03"}),
        ("heartrate", {"start_datetime": "2025-03-01T00:00Z", "end_datetime": "2025-03-01T01:00Z"}),
    ):
        data = client.get(f"{BASE}/{data_type}", params=params).json()["data"]
        *good, bad = data
        for doc in good:
            models.parse(data_type, doc)
        with pytest.raises(models.InvalidDocument):
            models.parse(data_type, bad)


def test_same_seed_serves_the_same_bytes_and_another_seed_differs() -> None:
    params = {"start_date": "2025-02-01", "end_date": "2025-02-07"}
    bodies = []
    for seed in (5, 5, 6):
        with running(SandboxSettings(SANDBOX_SEED=seed), now=NOW) as server:
            response = httpx.get(f"{server.url}{BASE}/sleep", params=params, headers=BEARER)
            bodies.append(response.content)
    assert bodies[0] == bodies[1]
    assert bodies[0] != bodies[2]


def test_scope_enforcement_and_lapsed_membership(
    client: httpx.Client, sandbox: RunningSandbox
) -> None:
    pair = sandbox.state.issue_tokens("extapi:personal extapi:daily")
    headers = {"Authorization": f"Bearer {pair.access_token}"}
    window = {"start_date": "2025-03-01", "end_date": "2025-03-02"}

    def status(route: str) -> int:
        return client.get(f"{BASE}/{route}", params=window, headers=headers).status_code

    assert status("workout") == 200  # off by default, like the sandbox Oura runs
    faults(client, enforce_scopes=True)
    assert status("workout") == 403
    assert status("daily_sleep") == 200
    assert status("personal_info") == 200
    assert client.get(f"{BASE}/workout", params=window).status_code == 200  # not ours: allowed
    faults(client, forbidden=True)
    assert status("daily_sleep") == 403


@pytest.mark.parametrize("data_type", ["daily_sleep", "daily_cardiovascular_age", "heartrate"])
def test_hostile_documents_switch(client: httpx.Client, data_type: str) -> None:
    """The page is the exact page without the switch, plus hostile raw texts at its end."""
    from myhealth.platform.bounded_json import read_envelope
    from myhealth.sandbox import hostile

    params = (
        {"start_datetime": "2025-03-01T00:00Z", "end_datetime": "2025-03-01T01:00Z"}
        if data_type == "heartrate"
        else {"start_date": "2025-03-01", "end_date": "2025-03-05"}
    )
    plain = client.get(f"{BASE}/{data_type}", params=params).json()
    faults(client, hostile_documents=True)
    response = client.get(f"{BASE}/{data_type}", params=params)

    envelope = read_envelope(response.content, "data", max_documents=10_000)
    assert envelope.documents is not None
    count = len(plain["data"])
    assert [doc.value for doc in envelope.documents[:count]] == plain["data"]
    assert envelope.members == {"next_token": plain["next_token"]}
    extra = envelope.documents[count:]
    kind = hostile.kind_for(DATA_TYPES[data_type])
    assert f'"{hostile.MARKER}":"{kind}"' in extra[0].text
    assert len(extra) == (2 if data_type == "heartrate" else 1)
    if data_type == "heartrate":  # the naive sample decodes cleanly; the product reads it as UTC
        assert extra[1].problem is None
        assert "+" not in extra[1].value["timestamp"]
