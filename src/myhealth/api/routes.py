"""Every route of the public API, in one place (docs/api.md)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry, Gauge
from psycopg_pool import AsyncConnectionPool
from pydantic import BeforeValidator
from starlette.responses import JSONResponse, Response

from myhealth.api import models
from myhealth.api.queries import TREND_METRICS, Reader
from myhealth.platform.config import ApiSettings
from myhealth.platform.metrics import metrics_response
from myhealth.security import tokens
from myhealth.storage.db import ping

MAX_RANGE_DAYS = 3660


@dataclass
class ApiContext:
    """Everything the routes depend on; one per app (no globals)."""

    settings: ApiSettings
    reader: Reader
    probe_pool: AsyncConnectionPool  # readiness only: a busy reader pool is not a dead database
    registry: CollectorRegistry
    db_up: Gauge
    draining: bool = field(default=False)


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(get_context)]


Responses = dict[int | str, dict[str, Any]]


def _error(description: str) -> dict[str, Any]:
    return {"model": models.ErrorResponse, "description": description}


RATE_LIMITED: Responses = {429: _error("Too many requests; retry after `Retry-After` seconds.")}
INVALID: Responses = {422: _error("Invalid parameters (`detail` says which).")}
UNAUTHENTICATED: Responses = {
    401: _error("Missing, malformed, expired or wrongly signed bearer token.")
}
DB_DOWN: Responses = {
    503: _error("The database is unavailable."),
    504: _error("The request took longer than API_REQUEST_TIMEOUT_SECONDS."),
}
PROTECTED: Responses = {**UNAUTHENTICATED, **INVALID, **RATE_LIMITED, **DB_DOWN}

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="An access token from `POST /auth/login`, as `Authorization: Bearer <token>`.",
)


def require_token(
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> tokens.Claims:
    challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    if credentials is None:
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    settings = context.settings
    secret = settings.JWT_SECRET.get_secret_value()
    required_kid = (
        tokens.key_id(secret, settings.API_KEY.get_secret_value())
        if settings.JWT_REQUIRE_CURRENT_API_KEY
        else None
    )
    try:
        return tokens.verify(secret, credentials.credentials, kid=required_kid)
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
    return metrics_response(context.registry)
