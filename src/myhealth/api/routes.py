"""Every route of the public API, in one place (docs/api.md)."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry, Gauge
from psycopg_pool import AsyncConnectionPool
from pydantic import BeforeValidator
from starlette.responses import JSONResponse, Response

from myhealth.api import models, paging
from myhealth.api.queries import TREND_METRICS, Reader
from myhealth.api.token_auth import ApiTokenChecker, TokenState
from myhealth.insights import report
from myhealth.oura.catalog import DATA_TYPES, DataType
from myhealth.platform.config import ApiSettings
from myhealth.platform.metrics import metrics_response
from myhealth.security import api_tokens, tokens
from myhealth.storage.db import ping

MAX_RANGE_DAYS = 3660
MAX_HEART_RATE_SPAN = dt.timedelta(days=31)
DEFAULT_HEART_RATE_SPAN = dt.timedelta(hours=24)
DEFAULT_PAGE = 1000
MAX_PAGE = 10000

# Every catalogue type is served from the document archive except heart rate, which has its
# own route over the `heart_rate` table (spec: samples, not documents).
DOCUMENT_TYPES: dict[str, DataType] = {
    name: data_type for name, data_type in DATA_TYPES.items() if data_type.window != "datetime"
}


@dataclass
class ApiContext:
    """Everything the routes depend on; one per app (no globals)."""

    settings: ApiSettings
    reader: Reader
    probe_pool: AsyncConnectionPool  # readiness only: a busy reader pool is not a dead database
    registry: CollectorRegistry
    db_up: Gauge
    api_tokens: ApiTokenChecker
    draining: bool = field(default=False)


# The dependencies are `async def` although they never await: FastAPI runs a plain `def`
# dependency in a worker thread, two thread hops a request (docs/performance.md#the-api-reads).
async def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(get_context)]


Responses = dict[int | str, dict[str, Any]]


def _error(description: str) -> dict[str, Any]:
    return {"model": models.ErrorResponse, "description": description}


RATE_LIMITED: Responses = {429: _error("Too many requests; retry after `Retry-After` seconds.")}
INVALID: Responses = {422: _error("Invalid parameters (`detail` says which).")}
UNAUTHENTICATED: Responses = {
    401: _error(
        "Missing, malformed, expired or wrongly signed bearer token; or a long-lived token "
        "that is unknown, expired, revoked, or used for anything but GET."
    )
}
DB_DOWN: Responses = {
    503: _error("The database is unavailable."),
    504: _error("The request took longer than API_REQUEST_TIMEOUT_SECONDS."),
}
PROTECTED: Responses = {**UNAUTHENTICATED, **INVALID, **RATE_LIMITED, **DB_DOWN}

bearer_scheme = HTTPBearer(
    auto_error=False,
    description=(
        "`Authorization: Bearer <token>` with either kind of token: an access token (a JWT) "
        "from `POST /auth/login`, or a long-lived read-only token (`mhp_…`) from "
        "`myhealth token create`, which is accepted on `GET /api/v1/*` only."
    ),
)

READ_ONLY_METHODS = frozenset({"GET"})


async def require_token(
    request: Request,
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> None:
    challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    if credentials is None:
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    if api_tokens.is_api_token(credentials.credentials):
        # Checked before the method so a probe learns nothing about a token it cannot use.
        state = await context.api_tokens.state(credentials.credentials)
        if state is not TokenState.ACTIVE:
            message = "token is unknown" if state is TokenState.UNKNOWN else f"token {state}"
            raise HTTPException(401, message, headers=challenge)
        if request.method not in READ_ONLY_METHODS:
            raise HTTPException(401, "long-lived tokens are read-only (GET)", headers=challenge)
        return
    settings = context.settings
    secret = settings.JWT_SECRET.get_secret_value()
    required_kid = (
        tokens.key_id(secret, settings.API_KEY.get_secret_value())
        if settings.JWT_REQUIRE_CURRENT_API_KEY
        else None
    )
    try:
        tokens.verify(secret, credentials.credentials, kid=required_kid)
    except tokens.InvalidToken as exc:
        raise HTTPException(401, str(exc), headers=challenge) from None


def _date_range(
    context: ApiContext, start: dt.date | None, end: dt.date | None, default_days: int
) -> tuple[dt.date, dt.date]:
    try:
        if end is None:
            end = dt.datetime.now(context.settings.timezone).date()
            if start is not None and start > end:
                end = start  # a range in the future is empty, not an error
        if start is None:
            start = end - dt.timedelta(days=default_days - 1)
    except OverflowError:
        raise HTTPException(422, "date range is outside the supported calendar") from None
    if start > end:
        raise HTTPException(422, f"start_date {start} is after end_date {end}")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise HTTPException(422, f"date range is longer than {MAX_RANGE_DAYS} days")
    return start, end


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date_only(value: object) -> object:
    """Accept `YYYY-MM-DD` only (pydantic alone would also take `0` as a Unix timestamp)."""
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError(f"invalid date {value!r} (expected YYYY-MM-DD)")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date_only)]
StartDate = Annotated[
    IsoDate | None,
    Query(description="First day, inclusive (YYYY-MM-DD).", examples=["2026-01-01"]),
]
EndDate = Annotated[
    IsoDate | None,
    Query(description="Last day, inclusive (YYYY-MM-DD; default today).", examples=["2026-01-31"]),
]

_ISO_INSTANT = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})"
)


def _iso_instant(value: object) -> object:
    """Accept RFC 3339 date-times with an offset only: a naive time is ambiguous (422)."""
    if not isinstance(value, str):
        return value
    match = _ISO_INSTANT.fullmatch(value)
    if match is None:
        raise ValueError(
            f"invalid date-time {value!r} (expected ISO 8601 with an offset, "
            "e.g. 2026-01-01T00:00:00Z or 2026-01-01T00:00:00-05:00)"
        )
    day, time, fraction, offset = match.groups()
    micro = f".{(fraction or '')[:6]:0<6}"
    offset = "+00:00" if offset in ("Z", "z") else offset
    return dt.datetime.fromisoformat(f"{day}T{time}{micro}{offset}")


Instant = Annotated[dt.datetime, BeforeValidator(_iso_instant)]
Limit = Annotated[
    int,
    Query(ge=1, le=MAX_PAGE, description=f"Page size (1-{MAX_PAGE}).", examples=[DEFAULT_PAGE]),
]
CursorParam = Annotated[
    str | None,
    Query(
        max_length=2048,
        description="`next_cursor` of the previous page; send the same other parameters.",
    ),
]


def _instant_range(
    start: dt.datetime | None, end: dt.datetime | None
) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC: the last 24 h by default; one side alone means 24 h from/to it."""
    try:
        if start is not None:
            start = start.astimezone(dt.UTC)
        if end is not None:
            end = end.astimezone(dt.UTC)
        if end is None:
            end = dt.datetime.now(dt.UTC) if start is None else start + DEFAULT_HEART_RATE_SPAN
        if start is None:
            start = end - DEFAULT_HEART_RATE_SPAN
    except OverflowError:
        raise HTTPException(422, "time range is outside the supported calendar") from None
    if start > end:
        raise HTTPException(422, f"start {start.isoformat()} is after end {end.isoformat()}")
    if end - start > MAX_HEART_RATE_SPAN:
        raise HTTPException(422, f"time range is longer than {MAX_HEART_RATE_SPAN.days} days")
    return start, end


def _decode_cursor(
    token: str, params: dict[str, str | None], key_size: int
) -> tuple[list[str], list[str]]:
    try:
        cursor = paging.decode(token, params, scope_size=2, key_size=key_size)
    except paging.InvalidCursor as exc:
        raise HTTPException(422, str(exc)) from None
    return cursor.scope, cursor.after


def _malformed_cursor() -> HTTPException:
    return HTTPException(422, "malformed cursor (not a cursor this API issued)")


public = APIRouter(tags=["authentication"])
probes = APIRouter(tags=["operations"])
data = APIRouter(
    prefix="/api/v1",
    tags=["data"],
    dependencies=[Depends(require_token)],
    responses=PROTECTED,
)


@public.post(
    "/auth/login",
    response_model=models.TokenResponse,
    responses={
        400: _error("The body could not be read (not UTF-8 JSON)."),
        401: _error("Wrong API key."),
        413: _error("The body is larger than API_MAX_BODY_BYTES."),
        **INVALID,
        **RATE_LIMITED,
    },
    summary="Exchange the API key for an access token",
)
async def login(body: models.LoginRequest, context: Context) -> models.TokenResponse:
    settings = context.settings
    if not tokens.api_key_matches(settings.API_KEY.get_secret_value(), body.api_key):
        raise HTTPException(401, "invalid API key")
    secret = settings.JWT_SECRET.get_secret_value()
    kid = tokens.key_id(secret, settings.API_KEY.get_secret_value())
    token = tokens.issue(secret, settings.JWT_TTL_SECONDS, kid=kid)
    return models.TokenResponse(access_token=token, expires_in=settings.JWT_TTL_SECONDS)


RANGE_NOTE = (
    "Default range: the 30 days ending today in `USER_TIMEZONE`; at most "
    f"{MAX_RANGE_DAYS} days. Ordered by date; days without data are absent."
)


@data.get(
    "/sleep", response_model=models.SleepSeries, summary="Daily sleep", description=RANGE_NOTE
)
async def sleep(context: Context, start_date: StartDate = None, end_date: EndDate = None) -> Any:
    start, end = _date_range(context, start_date, end_date, 30)
    return {"data": await context.reader.daily("sleep_metrics", start, end)}


@data.get(
    "/activity",
    response_model=models.ActivitySeries,
    summary="Daily activity",
    description=RANGE_NOTE,
)
async def activity(context: Context, start_date: StartDate = None, end_date: EndDate = None) -> Any:
    start, end = _date_range(context, start_date, end_date, 30)
    return {"data": await context.reader.daily("activity_metrics", start, end)}


@data.get(
    "/readiness",
    response_model=models.ReadinessSeries,
    summary="Daily readiness",
    description=RANGE_NOTE,
)
async def readiness(
    context: Context, start_date: StartDate = None, end_date: EndDate = None
) -> Any:
    start, end = _date_range(context, start_date, end_date, 30)
    return {"data": await context.reader.daily("readiness_metrics", start, end)}


@data.get(
    "/dashboard",
    response_model=models.Dashboard,
    summary="Latest scores, 7/30-day means and the last sync",
    description=(
        "`date` is the latest date in the three daily relations; `avg_7d`/`avg_30d` are the "
        "unrounded means of the non-null scores over the 7/30 days ending on `date`."
    ),
)
async def dashboard(context: Context) -> Any:
    row = await context.reader.dashboard()

    def section(name: str, *extra: str) -> dict[str, Any]:
        keys = ("score", "avg_7d", "avg_30d", *extra)
        return {key: row[f"{name}_{key}"] for key in keys}

    last_sync = None
    if row["last_sync_status"] is not None:
        finished = row["last_sync_finished_at"]
        last_sync = {
            "finished_at": finished.astimezone(dt.UTC) if finished else None,
            "status": row["last_sync_status"],
            "data_types": row["last_sync_data_types"],
        }
    return {
        "date": row["date"],
        "sleep": section("sleep"),
        "activity": section("activity", "steps"),
        "readiness": section("readiness", "hrv", "resting_hr"),
        "last_sync": last_sync,
    }


METRIC_LIST = ", ".join(
    f"`{name}` ({source.description})" for name, source in TREND_METRICS.items()
)


@data.get(
    "/trends/{metric}",
    response_model=models.Trend,
    responses={404: _error("Unknown metric.")},
    summary="A metric aggregated by day, week or month",
    description=(
        f"Metrics: {METRIC_LIST}. Weeks start on Monday; a bucket's `start` is its calendar "
        "start; empty buckets are left out. Heart-rate samples are bucketed by their date in "
        "`USER_TIMEZONE`. Default range: the 90 days ending today; at most "
        f"{MAX_RANGE_DAYS} days."
    ),
)
async def trends(
    context: Context,
    metric: Annotated[
        str, Path(description="The metric.", json_schema_extra={"enum": list(TREND_METRICS)})
    ],
    start_date: StartDate = None,
    end_date: EndDate = None,
    bucket: Annotated[models.Bucket, Query(description="Bucket size.")] = "day",
) -> Any:
    if metric not in TREND_METRICS:
        raise HTTPException(404, f"unknown metric {metric!r}; known: {', '.join(TREND_METRICS)}")
    start, end = _date_range(context, start_date, end_date, 90)
    points = await context.reader.trend(metric, bucket, start, end, context.settings.USER_TIMEZONE)
    return {"metric": metric, "bucket": bucket, "points": points}


DOCUMENT_TYPE_LIST = ", ".join(f"`{name}`" for name in DOCUMENT_TYPES)


@data.get(
    "/data/{type}",
    response_model=models.DocumentPage,
    responses={404: _error("Unknown data type.")},
    summary="Stored Oura documents of one type, paged",
    description=(
        f"Types: {DOCUMENT_TYPE_LIST} (heart rate: `/api/v1/heart_rate`). The documents as "
        "Oura sent them (latest version) whose day (`day`, or `start_day` for tags and "
        "rest-mode periods) is in the range, inclusive; `personal_info` and "
        "`ring_configuration` have no day and ignore the range. Ordered by day, then id. "
        "Default range: the 30 days ending today in `USER_TIMEZONE`; at most "
        f"{MAX_RANGE_DAYS} days. Follow `next_cursor` with the same parameters for every page."
    ),
)
async def documents(
    context: Context,
    type: Annotated[  # the spec names the parameter `type`
        str, Path(description="The data type.", json_schema_extra={"enum": list(DOCUMENT_TYPES)})
    ],
    start_date: StartDate = None,
    end_date: EndDate = None,
    limit: Limit = DEFAULT_PAGE,
    cursor: CursorParam = None,
) -> Response:
    data_type = DOCUMENT_TYPES.get(type)
    if data_type is None:
        raise HTTPException(404, f"unknown data type {type!r}; known: {DOCUMENT_TYPE_LIST}")
    dated = data_type.day_field is not None
    params = {
        "type": type,
        "start_date": start_date.isoformat() if start_date else None,
        "end_date": end_date.isoformat() if end_date else None,
    }
    after: tuple[dt.date | None, str] | None = None
    if cursor is None:
        start, end = _date_range(context, start_date, end_date, 30)
    else:
        scope, key = _decode_cursor(cursor, params, key_size=2)
        try:
            start, end = (dt.date.fromisoformat(day) for day in scope)
            after = (dt.date.fromisoformat(key[0]) if dated else None, key[1])
        except ValueError:
            raise _malformed_cursor() from None
        start, end = _date_range(context, start, end, 30)
    rows = await context.reader.documents(type, dated, start, end, after, limit + 1)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = paging.Cursor(
            params=params,
            scope=[start.isoformat(), end.isoformat()],
            after=[last["day"].isoformat() if dated else "", last["id"]],
        ).encode()
    # The stored jsonb goes out as PostgreSQL renders it, not parsed and re-serialised.
    body = (
        '{"data":['
        + ",".join(row["document"] for row in rows)
        + '],"next_cursor":'
        + json.dumps(next_cursor)
        + "}"
    )
    return Response(body, media_type="application/json")


@data.get(
    "/heart_rate",
    response_model=models.HeartRatePage,
    summary="Heart-rate samples, paged",
    description=(
        "Samples with `start <= timestamp < end`, ordered by timestamp, then source. `start` "
        "and `end` are ISO 8601 date-times with an offset (`Z` or `±HH:MM`); a time without "
        "an offset is rejected (422). Default: the last 24 h; with only `start` or only "
        "`end`, the 24 h from or to it; at most "
        f"{MAX_HEART_RATE_SPAN.days} days. Follow `next_cursor` with the same parameters."
    ),
)
async def heart_rate(
    context: Context,
    start: Annotated[
        Instant | None,
        Query(description="First instant, inclusive.", examples=["2026-01-01T00:00:00Z"]),
    ] = None,
    end: Annotated[
        Instant | None,
        Query(description="Last instant, exclusive.", examples=["2026-01-02T00:00:00Z"]),
    ] = None,
    limit: Limit = DEFAULT_PAGE,
    cursor: CursorParam = None,
) -> Any:
    params = {
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
    }
    after: tuple[dt.datetime, str] | None = None
    if cursor is None:
        first, last = _instant_range(start, end)
    else:
        scope, key = _decode_cursor(cursor, params, key_size=2)
        try:
            first, last = (dt.datetime.fromisoformat(instant) for instant in scope)
            after = (dt.datetime.fromisoformat(key[0]), key[1])
        except ValueError:
            raise _malformed_cursor() from None
        if any(instant.tzinfo is None for instant in (first, last, after[0])):
            raise _malformed_cursor()
        first, last = _instant_range(first, last)
    rows = await context.reader.heart_rate(first, last, after, limit + 1)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = paging.Cursor(
            params=params,
            scope=[first.isoformat(), last.isoformat()],
            after=[rows[-1]["timestamp"].astimezone(dt.UTC).isoformat(), rows[-1]["source"]],
        ).encode()
    samples = [
        {
            "timestamp": row["timestamp"].astimezone(dt.UTC),
            "bpm": row["bpm"],
            "source": row["source"],
        }
        for row in rows
    ]
    return {"data": samples, "next_cursor": next_cursor}


@data.get(
    "/insights",
    response_model=models.Insights,
    responses={404: _error("No insights for that date (no data that day, or none at all).")},
    summary="Personal baselines, the day's deviations from them, and raised flags",
    description=(
        "For `date` (default: the latest day with a night's data): each metric's value, its "
        "baseline (median and MAD of the 60 days before, once 14 of them have a value), the "
        "robust z-score, and the flags raised that day with an explanation in plain words. "
        "404 for a day without data."
    ),
)
async def insights(
    context: Context,
    date: Annotated[
        IsoDate | None,
        Query(description="The day (YYYY-MM-DD).", examples=["2026-01-31"]),
    ] = None,
) -> Any:
    day, metric_rows, flag_rows = await context.reader.insights(date)
    if day is None:
        raise HTTPException(404, "no insights yet: no data has been stored")
    if not metric_rows:
        raise HTTPException(404, f"no insights for {day.isoformat()}: no data that day")
    return report.day_report(day, metric_rows, flag_rows)


@probes.get("/health", response_model=models.Status, summary="Liveness")
async def health() -> models.Status:
    return models.Status(status="ok")


@probes.get(
    "/ready",
    response_model=models.Status,
    responses={503: {"model": models.Status, "description": "Shutting down or no database."}},
    summary="Readiness: the database answers and the service is not shutting down",
)
async def ready(context: Context) -> Response:
    if context.draining:
        return JSONResponse({"status": "shutting down"}, status_code=503)
    up = await ping(context.probe_pool)
    context.db_up.labels("api").set(1 if up else 0)
    if not up:
        return JSONResponse({"status": "database unavailable"}, status_code=503)
    return JSONResponse({"status": "ready"})


@probes.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(context: Context) -> Response:
    # Each scrape pings, as the processor does: without it `myhealth_db_up` would keep its
    # start value of 0 wherever nothing calls /ready (Compose), and MyhealthDatabaseUnreachable
    # would fire on a healthy API.
    context.db_up.labels("api").set(1 if await ping(context.probe_pool) else 0)
    return metrics_response(context.registry)
