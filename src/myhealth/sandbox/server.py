"""`myhealth sandbox`: an Oura API v2 compatible HTTP server over the synthetic person.

Routes (mirrored under `/v2/sandbox/usercollection/...`):
  GET  /v2/usercollection/<route>                 {data, next_token}
  GET  /v2/usercollection/<route>/{document_id}   the bare document, 404 {"detail": ...}
  GET  /v2/usercollection/heartrate               start_datetime/end_datetime, ~1000 rows a page
  GET  /v2/usercollection/personal_info           the bare object
  GET  /oauth/authorize, POST /oauth/token        auto-consent; single-use rotating refresh tokens
  GET/POST /_sandbox/{faults,clock,stats,reset,tokens}   switches for tests and demos
  GET  /metrics, /health
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import bisect
import contextlib
import datetime as dt
import hashlib
import json
import secrets
import time
import urllib.parse
import zoneinfo
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from myhealth.oura.catalog import DATA_TYPES, DataType
from myhealth.platform.config import SandboxSettings, load
from myhealth.platform.http import serve, serve_in_thread, uvicorn_config
from myhealth.platform.logging import configure, get_logger
from myhealth.platform.metrics import (
    HttpMetrics,
    instrument,
    metrics_response,
    new_registry,
    route_template,
)
from myhealth.sandbox import hostile
from myhealth.sandbox.generator import DEFAULT_HOME_ZONE, DEFAULT_TRIP_ZONE, Document, Person
from myhealth.sandbox.state import Clock, Faults, SandboxState, TokenPair

PREFIXES = ("/v2/usercollection", "/v2/sandbox/usercollection")
NOT_FOUND = {"detail": "Document not found."}
LOOKAROUND = dt.timedelta(days=2)  # candidate days beyond the window (UTC skew, bedtimes)

# The document field used by exclusive/utc date semantics, and the day field.
TIME_FIELD = {
    "daily_activity": "timestamp",
    "daily_readiness": "timestamp",
    "daily_sleep": "timestamp",
    "enhanced_tag": "start_time",
    "rest_mode_period": "start_time",
    "session": "start_datetime",
    "sleep": "bedtime_start",
    "tag": "timestamp",
    "vo2_max": "timestamp",
    "workout": "start_datetime",
}
# Documents that only exist once something has happened: the time it happened.
READY_FIELD = {
    "sleep": "bedtime_end",
    "workout": "end_datetime",
    "session": "end_datetime",
    "enhanced_tag": "start_time",
    "tag": "timestamp",
    "rest_mode_period": "start_time",
}
AFTER_WAKING = ("daily_sleep", "daily_readiness", "daily_spo2", "sleep_time")

DateParam = Annotated[dt.datetime | dt.date | None, Query()]
DateTimeParam = Annotated[dt.datetime | None, Query()]
TextParam = Annotated[str | None, Query()]


def _error(status: int, detail: Any, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=dict(headers or {}))


def _unix_ms(row: Document) -> int:
    value: int = row["timestamp_unix"]
    return value


def _shifted(day: dt.date, delta: dt.timedelta) -> dt.date:
    """`day + delta`, saturating at the ends of the calendar (Oura accepts year 0024)."""
    try:
        return day + delta
    except OverflowError:
        return dt.date.min if delta < dt.timedelta() else dt.date.max


def _parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


class Sandbox:
    """The document logic behind the routes (no HTTP here)."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.person = state.person
        self._secret = secrets.token_bytes(16)

    # ------------------------------------------------------------------ next_token

    def _digest(self, route: str, params: Mapping[str, str]) -> str:
        canonical = "&".join(
            f"{key}={params[key]}" for key in sorted(params) if key != "next_token"
        )
        raw = self._secret + f"{route}?{canonical}".encode()
        return hashlib.sha256(raw).hexdigest()[:16]

    def encode_token(self, route: str, params: Mapping[str, str], cursor: dict[str, int]) -> str:
        payload = {**cursor, "q": self._digest(route, params)}
        return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")

    def decode_token(
        self, route: str, params: Mapping[str, str], token: str
    ) -> dict[str, int] | None:
        """The cursor in `token`, or None when it is not ours or was made for other params."""
        try:
            padded = token + "=" * (-len(token) % 4)
            payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        except (ValueError, binascii.Error):
            return None
        if not isinstance(payload, dict) or payload.pop("q", None) != self._digest(route, params):
            return None
        if not all(isinstance(v, int) for v in payload.values()):
            return None
        return payload

    # ------------------------------------------------------------------ availability

    def ready_at(self, data_type: str, day: dt.date, doc: Document) -> dt.datetime:
        """When `doc` first exists: nothing is served before its moment on the clock."""
        zone = self.person.zone(day)
        if data_type in READY_FIELD and isinstance(doc.get(READY_FIELD[data_type]), str):
            return _parse_time(doc[READY_FIELD[data_type]])
        if data_type in AFTER_WAKING:
            woke = self.person.wake_time(day)
            return woke if woke is not None else dt.datetime.combine(day, dt.time(12), zone)
        if data_type == "daily_activity":  # from 04:00, growing through the day
            return _parse_time(doc["timestamp"])
        return dt.datetime.combine(day, dt.time(12), zone)

    def _served(self, data_type: str, doc: Document, now: dt.datetime) -> Document:
        ongoing = (
            data_type == "rest_mode_period"
            and isinstance(doc.get("end_time"), str)
            and _parse_time(doc["end_time"]) > now
        )
        if ongoing:
            doc = {**doc, "end_day": None, "end_time": None}
        if data_type == "daily_activity":
            elapsed = (now - _parse_time(doc["timestamp"])).total_seconds()
            if elapsed < 86400:
                doc = _activity_so_far(doc, int(elapsed // 60))
        return doc

    def day_documents(self, data_type: str, day: dt.date) -> list[tuple[int, Document]]:
        """(index, document) of `day` as served right now (clock, revisions)."""
        state = self.state
        if day > state.today():
            return []
        now = state.now()
        docs = self.person.documents(data_type, day, state.revision_for(day))
        return [
            (index, self._served(data_type, doc, now))
            for index, doc in enumerate(docs)
            if self.ready_at(data_type, day, doc) <= now
        ]

    # ------------------------------------------------------------------ date windows

    def _matches(self, data_type: str, doc: Document, start: dt.datetime, end: dt.datetime) -> bool:
        semantics = self.state.faults.semantics(data_type)
        day_field = DATA_TYPES[data_type].day_field or "day"
        if semantics == "inclusive":
            day = dt.date.fromisoformat(doc[day_field])
            return start.date() <= day <= end.date()
        field = TIME_FIELD.get(data_type)
        moment = (
            _parse_time(doc[field])
            if field and isinstance(doc.get(field), str)
            else dt.datetime.combine(dt.date.fromisoformat(doc[day_field]), dt.time(), dt.UTC)
        )
        if semantics == "utc":
            moment = moment.astimezone(dt.UTC)
        # A bound without an offset is read in the document's own offset (local wall time).
        low = start if start.tzinfo else start.replace(tzinfo=moment.tzinfo)
        high = end if end.tzinfo else end.replace(tzinfo=moment.tzinfo)
        return low <= moment < high

    def list_documents(
        self,
        data_type: str,
        start: dt.datetime,
        end: dt.datetime,
        cursor: tuple[dt.date, int] | None,
        limit: int,
    ) -> tuple[list[Document], tuple[dt.date, int] | None]:
        """One page of documents in the window, and the cursor of the next one (or None)."""
        first = max(self.person.first_day, _shifted(start.date(), -LOOKAROUND))
        last = min(self.state.today(), _shifted(end.date(), LOOKAROUND))
        if cursor is not None:
            first = max(first, cursor[0])
        page: list[Document] = []
        day = first
        while day <= last:
            for index, doc in self.day_documents(data_type, day):
                if cursor is not None and day == cursor[0] and index < cursor[1]:
                    continue
                if not self._matches(data_type, doc, start, end):
                    continue
                if len(page) == limit:
                    return page, (day, index)
                page.append(doc)
            day += dt.timedelta(days=1)
        return page, None

    def find_document(self, data_type: str, document_id: str) -> Document | None:
        if data_type == "ring_configuration":
            rings = self.person.ring_configurations()
            return next((ring for ring in rings if ring["id"] == document_id), None)
        decoded = self.person.decode_id(data_type, document_id)
        if decoded is None:
            return None
        day, _ = decoded
        if day < self.person.first_day:
            return None
        return next(
            (doc for _, doc in self.day_documents(data_type, day) if doc.get("id") == document_id),
            None,
        )

    # ------------------------------------------------------------------ heart rate

    def heart_rate(
        self, start: dt.datetime, end: dt.datetime, after: int | None, limit: int
    ) -> tuple[list[Document], int | None]:
        """Rows with start <= timestamp < end (and >= `after`), and the next row's epoch."""
        low = int(start.timestamp()) if after is None else max(int(start.timestamp()), after)
        high = int(min(end, self.state.now()).timestamp())
        page: list[Document] = []
        day = max(self.person.first_day, dt.datetime.fromtimestamp(low, dt.UTC).date())
        while low < high:
            day_start = int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp())
            if day_start >= high:
                break
            rows = self.person.heart_rate(day)
            first = bisect.bisect_left(rows, low * 1000, key=_unix_ms)
            for row in rows[first:]:
                moment = row["timestamp_unix"] // 1000
                if moment >= high:
                    break
                if len(page) == limit:
                    return page, moment
                page.append(row)
            day += dt.timedelta(days=1)
        return page, None

    def latest_heart_rate(self) -> list[Document]:
        now = self.state.now()
        cutoff = int(now.timestamp()) * 1000
        for back in range(3):
            rows = self.person.heart_rate(now.date() - dt.timedelta(days=back))
            earlier = [row for row in rows if row["timestamp_unix"] <= cutoff]
            if earlier:
                return [earlier[-1]]
        return []


_ACTIVITY_TOTALS = (
    "active_calories",
    "equivalent_walking_distance",
    "high_activity_met_minutes",
    "high_activity_time",
    "low_activity_met_minutes",
    "low_activity_time",
    "medium_activity_met_minutes",
    "medium_activity_time",
    "resting_time",
    "sedentary_met_minutes",
    "sedentary_time",
    "steps",
)


def _activity_so_far(doc: Document, minutes: int) -> Document:
    """The day's activity as Oura shows it `minutes` after 04:00: it grows through the day.

    MET minutes still to come are null, `class_5_min` blocks still to come are '0' (no data),
    and the totals are the share of the day so far.
    """
    share = minutes / 1440
    met = doc["met"]
    items = met["items"][:minutes]
    partial = {
        **doc,
        "met": {**met, "items": items + [None] * (1440 - minutes)},
        "average_met_minutes": round(sum(items) / len(items), 3) if items else 0.0,
        "score": doc["score"] if share > 0.5 else None,
        "inactivity_alerts": doc["inactivity_alerts"] if share > 0.5 else 0,
    }
    for key in _ACTIVITY_TOTALS:
        partial[key] = round(doc[key] * share)
    resting_calories = doc["total_calories"] - doc["active_calories"]
    partial["total_calories"] = round(resting_calories * share) + partial["active_calories"]
    partial["meters_to_target"] = max(
        0, doc["target_meters"] - partial["equivalent_walking_distance"]
    )
    if "class_5_min" in doc:
        partial["class_5_min"] = doc["class_5_min"][: minutes // 5].ljust(288, "0")
    return partial


def _bounds(
    start: dt.datetime | dt.date | None, end: dt.datetime | dt.date | None, today: dt.date
) -> tuple[dt.datetime, dt.datetime]:
    def as_datetime(value: dt.datetime | dt.date) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        return dt.datetime.combine(value, dt.time())

    high = as_datetime(end) if end is not None else as_datetime(today + dt.timedelta(days=1))
    low = as_datetime(start) if start is not None else high - dt.timedelta(days=1)
    return low, high


def _comparable(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _broken_copy(doc: Document, number: int, day_field: str | None) -> Document:
    """A document with wrong types, for quarantine tests."""
    broken = dict(doc)
    if "id" in broken:
        broken["id"] = f"invalid-{number}-{broken['id']}"
    if day_field:
        broken[day_field] = 20_250_101 + number
    if "bpm" in broken:
        broken["bpm"] = "fast"
        broken["timestamp"] = 12345
    if "score" in broken:
        broken["score"] = "high"
    return broken


def _query(request: Request) -> dict[str, str]:
    return {key: value for key, value in request.query_params.items()}


def _add_data_routes(app: FastAPI, sandbox: Sandbox) -> None:
    state = sandbox.state

    def page_response(
        request: Request, data_type: DataType, docs: list[Document], next_token: str | None
    ) -> Response:
        first_page = request.query_params.get("next_token") in (None, "")
        if first_page and state.faults.invalid_documents:
            docs = docs + [
                _broken_copy(docs[i % len(docs)], i, data_type.day_field)
                for i in range(state.faults.invalid_documents if docs else 0)
            ]
        if first_page and state.faults.hostile_documents and docs:
            kind = hostile.kind_for(data_type)
            texts = hostile.hostile_texts(data_type, kind, hostile.model_document(docs))
            body = hostile.page_text(docs, texts, next_token)
            return Response(body.encode(), media_type="application/json")
        return JSONResponse({"data": docs, "next_token": next_token})

    def next_token_for(data_type: DataType, params: dict[str, str], cursor: dict[str, int]) -> str:
        received = params.get("next_token")
        if received and data_type.route in state.faults.repeat_next_token:
            return received  # the "cycle" fault: hand the same token back
        return sandbox.encode_token(data_type.route, params, cursor)

    def make_list(data_type: DataType) -> Callable[..., Awaitable[Response]]:
        async def list_route(
            request: Request,
            start_date: DateParam = None,
            end_date: DateParam = None,
            next_token: TextParam = None,
            fields: TextParam = None,  # accepted, ignored (Oura ignores unknown names too)
        ) -> Response:
            params = _query(request)
            start, end = _bounds(start_date, end_date, state.today())
            if _comparable(start) > _comparable(end):
                return _error(400, f"Start date {start} is greater than end date {end}.")
            cursor = None
            if next_token:
                decoded = sandbox.decode_token(data_type.route, params, next_token)
                if decoded is None or set(decoded) != {"d", "i"}:
                    return _error(400, "Invalid next_token.")
                cursor = (dt.date.fromordinal(decoded["d"]), decoded["i"])
            docs, following = sandbox.list_documents(
                data_type.name, start, end, cursor, state.faults.page_size
            )
            token = None
            if following is not None:
                token = next_token_for(
                    data_type, params, {"d": following[0].toordinal(), "i": following[1]}
                )
            return page_response(request, data_type, docs, token)

        return list_route

    def make_single(data_type: DataType) -> Callable[..., Awaitable[Response]]:
        async def single_route(document_id: str) -> Response:
            doc = sandbox.find_document(data_type.name, document_id)
            return JSONResponse(doc) if doc is not None else JSONResponse(NOT_FOUND, 404)

        return single_route

    heartrate = DATA_TYPES["heartrate"]

    async def heartrate_route(
        request: Request,
        start_datetime: DateTimeParam = None,
        end_datetime: DateTimeParam = None,
        next_token: TextParam = None,
        latest: Annotated[bool | None, Query()] = None,
        fields: TextParam = None,
    ) -> Response:
        if latest:
            return JSONResponse({"data": sandbox.latest_heart_rate(), "next_token": None})
        params = _query(request)
        now = state.now()
        end = _comparable(end_datetime) if end_datetime else now
        start = _comparable(start_datetime) if start_datetime else end - dt.timedelta(days=1)
        if start > end:
            return _error(400, f"Start datetime {start} is greater than end datetime {end}.")
        after = None
        if next_token:
            decoded = sandbox.decode_token(heartrate.route, params, next_token)
            if decoded is None or set(decoded) != {"t"}:
                return _error(400, "Invalid next_token.")
            after = decoded["t"]
        rows, following = sandbox.heart_rate(start, end, after, state.faults.heartrate_page_size)
        token = None
        if following is not None:
            token = next_token_for(heartrate, params, {"t": following})
        return page_response(request, heartrate, rows, token)

    async def personal_info_route() -> Response:
        return JSONResponse(sandbox.person.personal_info())

    async def ring_configuration_route(
        request: Request, next_token: TextParam = None, fields: TextParam = None
    ) -> Response:
        ring = DATA_TYPES["ring_configuration"]
        return page_response(request, ring, sandbox.person.ring_configurations(), None)

    for prefix in PREFIXES:
        for data_type in DATA_TYPES.values():
            path = f"{prefix}/{data_type.route}"
            endpoint: Callable[..., Awaitable[Response]]
            if data_type.name == "heartrate":
                endpoint = heartrate_route
            elif data_type.name == "personal_info":
                endpoint = personal_info_route
            elif data_type.name == "ring_configuration":
                endpoint = ring_configuration_route
            else:
                endpoint = make_list(data_type)
            app.add_api_route(path, endpoint, methods=["GET"], name=f"{prefix}:{data_type.name}")
            if data_type.single_document_route:
                app.add_api_route(
                    path + "/{document_id}",
                    make_single(data_type),
                    methods=["GET"],
                    name=f"{prefix}:{data_type.name}:single",
                )


def _token_body(pair: TokenPair, ttl: int) -> dict[str, Any]:
    return {
        "token_type": "bearer",
        "access_token": pair.access_token,
        "expires_in": ttl,
        "refresh_token": pair.refresh_token,
        "scope": pair.scope,
        "id_token": None,
    }


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _granted_scope(requested: str | None, consented: str) -> str:
    """What the user consents to: the requested scopes (all when none are named, as Oura then
    prompts for everything) that the `scope` switch allows, with Oura's `extapi:` prefix."""
    if not requested:
        return consented
    allowed = consented.split()
    granted = []
    for name in requested.replace(",", " ").split():
        prefixed = "extapi:spo2" if name == "spo2Daily" else f"extapi:{name}"
        if prefixed in allowed and prefixed not in granted:
            granted.append(prefixed)
    return " ".join(granted)


def _add_oauth_routes(app: FastAPI, state: SandboxState) -> None:
    @app.get("/oauth/authorize")
    async def authorize(
        response_type: TextParam = None,
        client_id: TextParam = None,
        redirect_uri: TextParam = None,
        state_: Annotated[str | None, Query(alias="state")] = None,
        scope: TextParam = None,
    ) -> Response:
        """Consents on the user's behalf and redirects straight back with a code."""
        if not redirect_uri:
            return _oauth_error(400, "invalid_request", "redirect_uri is required")
        if response_type != "code" or not client_id:
            return _oauth_error(400, "invalid_request", "response_type=code and client_id needed")
        granted = _granted_scope(scope, state.faults.scope)
        code = state.new_code(client_id, redirect_uri, granted)
        query = {"code": code, **({"state": state_} if state_ is not None else {})}
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(redirect_uri + separator + urllib.parse.urlencode(query), 302)

    @app.post("/oauth/token")
    async def token(request: Request) -> Response:
        form = {
            key: values[-1]
            for key, values in urllib.parse.parse_qs((await request.body()).decode()).items()
        }
        grant_type = form.get("grant_type", "")
        with state.lock:
            state.token_calls[grant_type or "missing"] += 1
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            with contextlib.suppress(ValueError, binascii.Error):
                client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
        if grant_type not in ("authorization_code", "refresh_token"):
            return _oauth_error(400, "unsupported_grant_type", f"{grant_type!r} is not supported")
        if not client_id or not client_secret:
            return _oauth_error(401, "invalid_client", "client credentials are required")
        if state.client_id is not None and (
            client_id != state.client_id or client_secret != state.client_secret
        ):
            return _oauth_error(401, "invalid_client", "Invalid client_id.")
        ttl = state.faults.access_token_ttl
        with state.lock:
            if grant_type == "authorization_code":
                code = state.codes.get(form.get("code", ""))
                if code is None or code.used or code.expires_at <= state.now():
                    return _oauth_error(400, "invalid_grant", "code is invalid, used or expired")
                if code.client_id != client_id or (
                    code.redirect_uri is not None
                    and form.get("redirect_uri", code.redirect_uri) != code.redirect_uri
                ):
                    return _oauth_error(400, "invalid_grant", "code was issued to another client")
                code.used = True
                return JSONResponse(_token_body(state.issue_tokens(code.scope), ttl))
            refresh = form.get("refresh_token", "")
            pair = state.by_refresh.get(refresh)
            if pair is not None:
                if pair.refresh_used:
                    return _oauth_error(400, "invalid_grant", "refresh token was already used")
                pair.refresh_used = True
                pair.superseded = True
                return JSONResponse(_token_body(state.issue_tokens(pair.scope), ttl))
            # A refresh token we never issued (the demo's configured one): good once, unless strict.
            if not refresh or state.faults.strict_auth or refresh in state.seeded_refresh_tokens:
                return _oauth_error(400, "invalid_grant", "refresh token is invalid")
            state.seeded_refresh_tokens.add(refresh)
            return JSONResponse(_token_body(state.issue_tokens(), ttl))


def _add_control_routes(app: FastAPI, state: SandboxState) -> None:
    @app.get("/_sandbox/faults")
    async def get_faults() -> dict[str, Any]:
        return state.faults.model_dump()

    @app.post("/_sandbox/faults")
    async def set_faults(request: Request) -> Response:
        body = await request.json()
        if not isinstance(body, dict):
            return _error(422, "expected a JSON object")
        expire = bool(body.pop("expire_tokens", False))
        try:
            faults = Faults.model_validate({**state.faults.model_dump(), **body})
        except ValidationError as exc:
            return _error(422, json.loads(exc.json(include_url=False)))
        with state.lock:
            state.faults = faults
        if expire:
            state.expire_tokens()
        return JSONResponse(faults.model_dump())

    @app.post("/_sandbox/reset")
    async def reset() -> dict[str, Any]:
        state.reset()
        return state.faults.model_dump()

    def clock_body() -> dict[str, Any]:
        return {
            "now": state.now().isoformat(),
            "today": state.today().isoformat(),
            "timezone": str(state.timezone),
        }

    @app.get("/_sandbox/clock")
    async def get_clock() -> dict[str, Any]:
        return clock_body()

    @app.post("/_sandbox/clock")
    async def set_clock(request: Request) -> Response:
        """Body: {"now": "<ISO datetime>" | null} and/or {"advance_seconds" | "advance_days": n}."""
        body = await request.json()
        try:
            with state.lock:
                if "now" in body:
                    state.clock.set(_parse_time(body["now"]) if body["now"] else None)
                seconds = float(body.get("advance_seconds", 0)) + 86400 * float(
                    body.get("advance_days", 0)
                )
                state.clock.advance(dt.timedelta(seconds=seconds))
        except (TypeError, ValueError) as exc:
            return _error(422, str(exc))
        return JSONResponse(clock_body())

    @app.get("/_sandbox/stats")
    async def stats() -> dict[str, Any]:
        with state.lock:
            by_route: dict[str, int] = {}
            for key, count in state.requests.items():
                route = key.rsplit(" ", 1)[0]
                by_route[route] = by_route.get(route, 0) + count
            return {
                "requests": dict(state.requests),
                "requests_by_route": by_route,
                "data_requests": state.data_requests,
                "token_calls": dict(state.token_calls),
                "token_calls_total": sum(state.token_calls.values()),
            }

    @app.post("/_sandbox/tokens")
    async def new_tokens() -> dict[str, Any]:
        """A fresh token pair without the OAuth dance (demo and test convenience)."""
        return _token_body(state.issue_tokens(), state.faults.access_token_ttl)


# The OAuth scope each route needs; types without a scope of their own are `daily`
# (docs/oura-api.md#scopes).
ROUTE_SCOPES: dict[str, set[str]] = {
    "heartrate": {"heartrate"},
    "workout": {"workout"},
    "session": {"session"},
    "tag": {"tag"},
    "enhanced_tag": {"tag"},
    "daily_spo2": {"spo2", "spo2Daily"},
    "personal_info": {"personal", "email"},
}


def _scope_needed(path: str) -> set[str]:
    for prefix in PREFIXES:
        if path.startswith(prefix + "/"):
            route = path[len(prefix) + 1 :].split("/")[0]
            return ROUTE_SCOPES.get(route, {"daily"})
    return set()


def _guard(state: SandboxState) -> Callable[..., Awaitable[Response]]:
    """Faults and bearer auth on the data routes; request counting on every route."""

    async def middleware(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await _guarded(request, call_next)
        with state.lock:
            state.requests[
                f"{request.method} {route_template(request)} {response.status_code}"
            ] += 1
        return response

    async def _guarded(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if not request.url.path.startswith("/v2/"):
            return await call_next(request)
        faults = state.faults
        if faults.delay_ms:
            await asyncio.sleep(faults.delay_ms / 1000)
        with state.lock:
            state.data_requests += 1
            number = state.data_requests
            burst = state.faults.error_burst > 0
            if burst:
                state.faults.error_burst -= 1
        if burst:
            return _error(faults.error_status, "Service temporarily unavailable.")
        if faults.rate_limit_every and number % faults.rate_limit_every == 0:
            return _error(
                429,
                "Rate limit exceeded.",
                {
                    "Retry-After": str(faults.retry_after),
                    "X-RateLimit-Limit": "5000",
                    "X-RateLimit-Window": "300",
                    "X-RateLimit-Reset": str(int(time.time()) + faults.retry_after),
                    "X-RateLimit-Tier": "access_token",
                },
            )
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _error(401, "Not authenticated.")
        if not state.access_allowed(token.strip()):
            return _error(401, "Access token is expired, malformed or revoked.")
        if faults.forbidden:
            return _error(403, "Access forbidden: the Oura membership has expired.")
        if faults.enforce_scopes:
            needed = _scope_needed(request.url.path)
            granted = state.scope_of(token.strip())
            if needed and granted is not None and not needed & granted:
                return _error(403, f"Access forbidden: the token lacks the {min(needed)} scope.")
        return await call_next(request)

    return middleware


def _zones(user_timezone: str) -> tuple[str, str]:
    """The person's home zone (USER_TIMEZONE unless UTC) and where they travel each March."""
    home = DEFAULT_HOME_ZONE if user_timezone == "UTC" else user_timezone
    trip = DEFAULT_HOME_ZONE if home.startswith("America/") else DEFAULT_TRIP_ZONE
    return home, trip


def create_app(
    settings: SandboxSettings,
    *,
    now: dt.datetime | None = None,
    faults: Faults | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    first_day: dt.date | None = None,
) -> FastAPI:
    """The sandbox app. `now` freezes the clock; `client_id`/`client_secret` make the token
    endpoint check credentials. The state is at `app.state.sandbox` (a `SandboxState`)."""
    home, trip = _zones(settings.USER_TIMEZONE)
    person_kwargs: dict[str, Any] = {"home_zone": home, "trip_zone": trip}
    if first_day is not None:
        person_kwargs["first_day"] = first_day
    state = SandboxState(
        person=Person(settings.SANDBOX_SEED, **person_kwargs),
        timezone=zoneinfo.ZoneInfo(settings.USER_TIMEZONE),
        clock=Clock(now),
        faults=faults or Faults(),
        client_id=client_id,
        client_secret=client_secret,
    )
    sandbox = Sandbox(state)
    app = FastAPI(title="myHealth Oura sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sandbox = state
    registry = new_registry("sandbox")
    metrics = HttpMetrics(registry, "sandbox")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics_route() -> Response:
        return metrics_response(registry)

    _add_data_routes(app, sandbox)
    _add_oauth_routes(app, state)
    _add_control_routes(app, state)
    app.middleware("http")(_guard(state))
    app.middleware("http")(instrument(app, metrics))  # outermost: sees every final status
    return app


@dataclass
class RunningSandbox:
    url: str
    state: SandboxState
    app: FastAPI

    @property
    def base_url(self) -> str:
        return self.url

    @property
    def token_url(self) -> str:
        return f"{self.url}/oauth/token"

    @property
    def authorize_url(self) -> str:
        return f"{self.url}/oauth/authorize"


@contextlib.contextmanager
def running(
    settings: SandboxSettings | None = None, **create_kwargs: Any
) -> Iterator[RunningSandbox]:
    """Serve the sandbox on 127.0.0.1 (a free port) in a background thread for a `with` block.

    `create_kwargs` go to `create_app` (`now=`, `faults=`, `client_id=`, ...).
    """
    settings = settings or SandboxSettings()
    app = create_app(settings, **create_kwargs)
    with serve_in_thread(app, name="sandbox", graceful_shutdown_seconds=1) as url:
        yield RunningSandbox(url, app.state.sandbox, app)


def command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = load(SandboxSettings, environ)
    seed = getattr(args, "seed", None)
    if seed is not None:
        settings = settings.model_copy(update={"SANDBOX_SEED": seed})
    configure("sandbox", settings.LOG_LEVEL)
    get_logger("sandbox").info(
        "starting",
        host=settings.HOST,
        port=settings.PORT,
        seed=settings.SANDBOX_SEED,
        timezone=settings.USER_TIMEZONE,
    )
    config = uvicorn_config(
        create_app(settings), settings.HOST, settings.PORT, log_level=settings.LOG_LEVEL
    )
    serve(config, on_draining=lambda: None, drain_seconds=0)
    return 0
