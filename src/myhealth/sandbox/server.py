"""`myhealth sandbox`: an Oura API v2 compatible HTTP server over the synthetic person.

The app is assembled here from one module per job: `data_routes` (over `documents`,
`availability`, `windows`, `page_tokens`), `oauth`, `control`, `fault_guard`, `webhooks`.

Routes (mirrored under `/v2/sandbox/usercollection/...`):
  GET  /v2/usercollection/<route>                 {data, next_token}
  GET  /v2/usercollection/<route>/{document_id}   the bare document, 404 {"detail": ...}
  GET  /v2/usercollection/heartrate               start_datetime/end_datetime, ~1000 rows a page
  GET  /v2/usercollection/personal_info           the bare object
  GET  /oauth/authorize, POST /oauth/token        auto-consent; single-use rotating refresh tokens
  GET/POST /_sandbox/{faults,clock,stats,reset,tokens}   switches for tests and demos
  /v2/webhook/subscription..., /_sandbox/webhooks/...    webhooks (sandbox/webhooks.py)
  GET  /metrics, /health
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import zoneinfo
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response

from myhealth.platform.config import SandboxSettings, load
from myhealth.platform.http import serve, serve_in_thread, uvicorn_config
from myhealth.platform.logging import configure, get_logger
from myhealth.platform.metrics import HttpMetrics, instrument, metrics_response, new_registry
from myhealth.sandbox.control import add_control_routes
from myhealth.sandbox.data_routes import add_data_routes
from myhealth.sandbox.documents import Sandbox
from myhealth.sandbox.fault_guard import fault_guard
from myhealth.sandbox.generator import DEFAULT_HOME_ZONE, DEFAULT_TRIP_ZONE, Person
from myhealth.sandbox.oauth import add_oauth_routes
from myhealth.sandbox.state import Clock, Faults, SandboxState
from myhealth.sandbox.webhooks import WebhookHub, add_webhook_routes


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
    hub = WebhookHub(sandbox)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await hub.close()  # deliveries in flight and the callback client

    app = FastAPI(
        title="myHealth Oura sandbox",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.sandbox = state
    registry = new_registry("sandbox")
    metrics = HttpMetrics(registry, "sandbox")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics_route() -> Response:
        return metrics_response(registry)

    add_data_routes(app, sandbox)
    add_oauth_routes(app, state)
    add_control_routes(app, state)
    app.state.webhooks = hub
    add_webhook_routes(app, hub)
    app.middleware("http")(fault_guard(state))
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
