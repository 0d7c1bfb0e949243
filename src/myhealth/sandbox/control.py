"""`/_sandbox/*`: the switches tests and demos use (faults, clock, stats, reset, tokens)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from myhealth.sandbox.oauth import token_body
from myhealth.sandbox.responses import error_response, parse_time
from myhealth.sandbox.state import Faults, SandboxState


def add_control_routes(app: FastAPI, state: SandboxState) -> None:
    @app.get("/_sandbox/faults")
    async def get_faults() -> dict[str, Any]:
        return state.faults.model_dump()

    @app.post("/_sandbox/faults")
    async def set_faults(request: Request) -> Response:
        body = await request.json()
        if not isinstance(body, dict):
            return error_response(422, "expected a JSON object")
        expire = bool(body.pop("expire_tokens", False))
        try:
            faults = Faults.model_validate({**state.faults.model_dump(), **body})
        except ValidationError as exc:
            return error_response(422, json.loads(exc.json(include_url=False)))
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
                    state.clock.set(parse_time(body["now"]) if body["now"] else None)
                seconds = float(body.get("advance_seconds", 0)) + 86400 * float(
                    body.get("advance_days", 0)
                )
                state.clock.advance(dt.timedelta(seconds=seconds))
        except (TypeError, ValueError) as exc:
            return error_response(422, str(exc))
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
        return token_body(state.issue_tokens(), state.faults.access_token_ttl)
