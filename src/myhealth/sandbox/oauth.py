"""The OAuth server: auto-consenting authorize, a token endpoint with single-use rotating
refresh tokens (docs/oura-api.md#oauth)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import urllib.parse
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from myhealth.sandbox.state import SandboxState, TokenPair

TextParam = Annotated[str | None, Query()]


def token_body(pair: TokenPair, ttl: int) -> dict[str, Any]:
    return {
        "token_type": "bearer",
        "access_token": pair.access_token,
        "expires_in": ttl,
        "refresh_token": pair.refresh_token,
        "scope": pair.scope,
        "id_token": None,
    }


def _oautherror_response(status: int, error: str, description: str) -> JSONResponse:
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


def add_oauth_routes(app: FastAPI, state: SandboxState) -> None:
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
            return _oautherror_response(400, "invalid_request", "redirect_uri is required")
        if response_type != "code" or not client_id:
            return _oautherror_response(
                400, "invalid_request", "response_type=code and client_id needed"
            )
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
            return _oautherror_response(
                400, "unsupported_grant_type", f"{grant_type!r} is not supported"
            )
        if not client_id or not client_secret:
            return _oautherror_response(401, "invalid_client", "client credentials are required")
        if state.client_id is not None and (
            client_id != state.client_id or client_secret != state.client_secret
        ):
            return _oautherror_response(401, "invalid_client", "Invalid client_id.")
        ttl = state.faults.access_token_ttl
        with state.lock:
            if grant_type == "authorization_code":
                code = state.codes.get(form.get("code", ""))
                if code is None or code.used or code.expires_at <= state.now():
                    return _oautherror_response(
                        400, "invalid_grant", "code is invalid, used or expired"
                    )
                if code.client_id != client_id or (
                    code.redirect_uri is not None
                    and form.get("redirect_uri", code.redirect_uri) != code.redirect_uri
                ):
                    return _oautherror_response(
                        400, "invalid_grant", "code was issued to another client"
                    )
                code.used = True
                return JSONResponse(token_body(state.issue_tokens(code.scope), ttl))
            refresh = form.get("refresh_token", "")
            pair = state.by_refresh.get(refresh)
            if pair is not None:
                if pair.refresh_used:
                    return _oautherror_response(
                        400, "invalid_grant", "refresh token was already used"
                    )
                pair.refresh_used = True
                pair.superseded = True
                return JSONResponse(token_body(state.issue_tokens(pair.scope), ttl))
            # A refresh token we never issued (the demo's configured one): good once, unless strict.
            if not refresh or state.faults.strict_auth or refresh in state.seeded_refresh_tokens:
                return _oautherror_response(400, "invalid_grant", "refresh token is invalid")
            state.seeded_refresh_tokens.add(refresh)
            return JSONResponse(token_body(state.issue_tokens(), ttl))
