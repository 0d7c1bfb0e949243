"""`myhealth auth login`: the OAuth2 authorization-code flow for the ring's owner at a terminal.

1. Check that the database is reachable and migrated, *before* anything else: Oura's codes are
   single-use, so a code exchanged while the database is down would be lost with its tokens.
2. Print (and open) Oura's authorize URL with a random `state`.
3. Receive the redirect on a one-shot callback server (`--bind`:`--port`, 127.0.0.1:8765 by
   default; `--bind 0.0.0.0` inside a container whose port is published), or, in paste-back
   mode (`--paste`, or a `--redirect-uri` on another host), read the redirected address — or
   only the code — pasted at the terminal. The browser then need not run on this machine.
4. Check `state`, exchange the code at `OURA_TOKEN_URL`, store the token pair in PostgreSQL.
5. Say which scopes were granted (without the `extapi:` prefix Oura adds) and which data types
   will stay empty because a scope is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import http.server
import re
import secrets
import sys
import time
import webbrowser
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any, Protocol
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import psycopg

from myhealth.oura.auth import TokenRequestRefused, TokenSet, request_tokens, store_tokens
from myhealth.platform.config import OuraSettings, load
from myhealth.platform.errors import UserFacingError
from myhealth.storage.db import connect, describe

DEFAULT_CALLBACK_PATH = "/callback"
DEFAULT_BIND = "127.0.0.1"
DEFAULT_PORT = 8765
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
# What a bare authorization code may look like when pasted instead of the whole address:
# one URL-safe token (Oura's and the sandbox's codes are), so prose or a half-copied URL is
# refused instead of being sent to the token endpoint.
BARE_CODE = re.compile(r"[A-Za-z0-9._~+/=-]{8,}")
# Oura's authorization codes live 10 minutes; waiting longer is pointless.
WAIT_SECONDS = 600.0

# Scope -> the data types that need it. `spo2Daily` was renamed `spo2` (docs/oura-api.md#scopes);
# types without a scope of their own are served under `daily`.
SCOPE_DATA_TYPES: dict[str, tuple[str, ...]] = {
    "personal": ("personal_info",),
    "email": ("personal_info.email",),
    "daily": (
        "daily_activity",
        "daily_cardiovascular_age",
        "daily_readiness",
        "daily_resilience",
        "daily_sleep",
        "daily_stress",
        "rest_mode_period",
        "ring_configuration",
        "sleep",
        "sleep_time",
        "vo2_max",
    ),
    "heartrate": ("heartrate",),
    "workout": ("workout",),
    "tag": ("tag", "enhanced_tag"),
    "session": ("session",),
    "spo2": ("daily_spo2",),
}
SCOPE_ALIASES = {"spo2Daily": "spo2"}


def granted_scopes(scope: str | None) -> list[str]:
    """Scope names from a token response, `extapi:` prefixes stripped, in the given order."""
    names: list[str] = []
    for raw in (scope or "").replace(",", " ").split():
        name = raw.removeprefix("extapi:")
        if name and name not in names:
            names.append(name)
    return names


def missing_scopes(granted: list[str]) -> list[str]:
    normalised = {SCOPE_ALIASES.get(name, name) for name in granted}
    return [scope for scope in SCOPE_DATA_TYPES if scope not in normalised]


def authorize_url(base: str, client_id: str, redirect_uri: str, state: str) -> str:
    # No `scope` parameter: Oura then offers every scope, whatever this spec version calls them.
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": state,
        }
    )
    return f"{base}{'&' if '?' in base else '?'}{query}"


class LineSource(Protocol):
    def readline(self) -> str: ...


@dataclass(frozen=True)
class Callback:
    params: Mapping[str, str]
    # True when only the code was pasted: there is no `state` to check.
    bare_code: bool = False


def _first_values(query: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(query, keep_blank_values=True).items()}


class _CallbackServer(http.server.HTTPServer):
    def __init__(self, bind: str, port: int, path: str) -> None:
        self.expected_path = path
        self.result: Callback | None = None
        super().__init__((bind, port), _CallbackHandler)


class _CallbackHandler(http.server.BaseHTTPRequestHandler):
    server: _CallbackServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != self.server.expected_path:
            self._answer(404, "Not the myHealth callback.")
            return
        params = _first_values(parts.query)
        self.server.result = Callback(params)
        if "code" in params:
            self._answer(200, "myHealth received the authorization. You can close this tab.")
        else:
            reason = params.get("error_description") or params.get("error") or "no code"
            self._answer(400, f"Authorization failed: {reason}")

    def _answer(self, status: int, text: str) -> None:
        body = f"<!doctype html><title>myHealth</title><p>{html.escape(text)}</p>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return  # the query string holds the code: never log it


def _open_server(bind: str, port: int, path: str) -> _CallbackServer:
    try:
        server = _CallbackServer(bind, port, path)
    except OSError as exc:
        raise UserFacingError(
            f"cannot listen on {bind}:{port} for the callback ({exc.strerror or exc}); "
            "pass another --port (and register that redirect URI with Oura), another --bind, "
            "or use --paste"
        ) from None
    server.timeout = 1.0
    return server


def _wait(server: _CallbackServer, deadline: float) -> Callback:
    while server.result is None:
        if time.monotonic() > deadline:
            raise UserFacingError(
                "no authorization arrived in time; run `myhealth auth login` again"
            )
        server.handle_request()
    return server.result


def parse_pasted(text: str) -> Callback:
    """The redirected address (or its query string), or only the code, as pasted.

    A bare code carries no `state` to check. The check guards against a redirect that this
    login did not start reaching it; a code the person copies by hand is their own choice."""
    text = text.strip()
    if not text:
        raise UserFacingError("nothing was pasted; run `myhealth auth login` again")
    if "://" in text or "?" in text or "code=" in text or "error=" in text:
        # A whole address, one without its scheme (`127.0.0.1:8765/callback?code=…`), or only
        # its query string.
        query = text.partition("?")[2] if "?" in text else text
        params = _first_values(query.partition("#")[0])
        if "code" not in params and "error" not in params:
            raise UserFacingError(
                "the pasted address has no code= in it: paste the whole address the browser "
                "was sent to after approving (it starts with the redirect URI)"
            )
        return Callback(params)
    if BARE_CODE.fullmatch(text):
        return Callback({"code": text}, bare_code=True)
    raise UserFacingError(
        "what was pasted is neither the redirected address nor an authorization code; "
        "run `myhealth auth login` again and paste the whole address from the browser"
    )


def _read_pasted(stdin: LineSource, out: IO[str]) -> Callback:
    print(
        "After approving, your browser is sent to the redirect URI (the page may fail to "
        "load: that is fine).\nPaste the full address from its address bar (or only the "
        "code), then Enter:",
        file=out,
    )
    out.flush()
    return parse_pasted(stdin.readline())


def check_token_store(database_url: str) -> None:
    """Fail unless `oauth_tokens` exists and this connection may write it.

    Runs before the authorize URL is printed: the code Oura hands out is single-use, so
    finding out after the exchange that the tokens cannot be stored would lose them."""
    with connect(database_url) as conn:
        row = conn.execute(
            "SELECT to_regclass('oauth_tokens') IS NOT NULL, "
            "CASE WHEN to_regclass('oauth_tokens') IS NULL THEN false ELSE "
            "has_table_privilege(to_regclass('oauth_tokens'), 'INSERT') "
            "AND has_table_privilege(to_regclass('oauth_tokens'), 'UPDATE') END, "
            "current_setting('transaction_read_only') = 'on'"
        ).fetchone()
    assert row is not None
    migrated, writable, read_only = row
    where = describe(database_url)
    if not migrated:
        raise UserFacingError(
            f"the database at {where} has no myHealth schema: run `myhealth migrate` first"
        )
    if not writable or read_only:
        raise UserFacingError(
            f"the database user in DATABASE_URL cannot write the tokens at {where} "
            "(a read-only role?): use the owner's connection string, as `migrate` does"
        )


async def exchange_code(
    settings: OuraSettings,
    code: str,
    redirect_uri: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> TokenSet:
    client_id, client_secret = _client_credentials(settings)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "client_secret": client_secret,
    }
    try:
        tokens = await request_tokens(str(settings.OURA_TOKEN_URL), form, transport=transport)
    except TokenRequestRefused as exc:
        hints = {
            "invalid_grant": "the code expired (codes live 10 minutes) or was already used; "
            "run `myhealth auth login` again",
            "invalid_client": "check OURA_CLIENT_ID and OURA_CLIENT_SECRET",
            "invalid_redirect_uri": f"{redirect_uri} must match a redirect URI registered "
            "with the Oura application exactly",
        }
        hint = hints.get(exc.error, "see docs/oura-setup.md")
        raise UserFacingError(f"{exc}; {hint}") from None
    if tokens.refresh_token is None:
        raise UserFacingError("Oura's token answer has no refresh_token; cannot stay connected")
    return tokens


def _client_credentials(settings: OuraSettings) -> tuple[str, str]:
    if not settings.OURA_CLIENT_ID or settings.OURA_CLIENT_SECRET is None:
        raise UserFacingError(
            "OURA_CLIENT_ID and OURA_CLIENT_SECRET must be set to the Oura application's "
            "credentials (docs/oura-setup.md)",
            exit_code=2,
        )
    return settings.OURA_CLIENT_ID, settings.OURA_CLIENT_SECRET.get_secret_value()


def login(
    settings: OuraSettings,
    *,
    port: int = DEFAULT_PORT,
    bind: str | None = None,
    redirect_uri: str | None = None,
    paste: bool = False,
    open_browser: bool = True,
    out: IO[str] | None = None,
    stdin: LineSource | None = None,
    wait_seconds: float = WAIT_SECONDS,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """Run the whole flow; `bind` None means 127.0.0.1 (and no callback server for a
    redirect URI on another host: that host is not us, so the address is pasted back)."""
    out = out if out is not None else sys.stdout
    stdin = stdin if stdin is not None else sys.stdin
    client_id, _ = _client_credentials(settings)
    check_token_store(settings.database_url)
    redirect = redirect_uri or f"http://127.0.0.1:{port}{DEFAULT_CALLBACK_PATH}"
    target = urlsplit(redirect)
    local = target.hostname in LOCAL_HOSTS
    if local and target.port not in (None, port):
        port = target.port
    serve = not paste and (local or bind is not None)
    state = secrets.token_urlsafe(24)
    url = authorize_url(str(settings.OURA_AUTHORIZE_URL), client_id, redirect, state)

    server = _open_server(bind or DEFAULT_BIND, port, target.path or "/") if serve else None
    try:
        print("Open this address, sign in to Oura and approve access for myHealth:", file=out)
        print(f"\n  {url}\n", file=out)
        if server is not None:
            print(
                f"Waiting for Oura to redirect to {redirect} "
                f"(listening on {bind or DEFAULT_BIND}:{port}) ...",
                file=out,
            )
        out.flush()
        if open_browser and not paste:
            # The URL is printed too, so a missing browser is not an error.
            with contextlib.suppress(webbrowser.Error):
                webbrowser.open(url)
        if server is not None:
            callback = _wait(server, time.monotonic() + wait_seconds)
        else:
            callback = _read_pasted(stdin, out)
    finally:
        if server is not None:
            server.server_close()

    params = callback.params
    if "error" in params:
        reason = params.get("error_description") or params["error"]
        raise UserFacingError(f"Oura did not authorize myHealth: {reason}")
    if not callback.bare_code and not secrets.compare_digest(params.get("state", ""), state):
        raise UserFacingError(
            "the redirect carried the wrong state (not the request this login started); "
            "nothing was stored; run `myhealth auth login` again"
        )
    code = params.get("code")
    if not code:
        raise UserFacingError("the redirect carried no authorization code")

    tokens = asyncio.run(exchange_code(settings, code, redirect, transport=transport))
    try:
        asyncio.run(store_tokens(settings.database_url, tokens))
    except psycopg.Error as exc:
        # Checked before the URL was printed, so this is rare (the database went away
        # meanwhile); the code is spent either way, so say what to do.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "no details"
        raise UserFacingError(
            f"could not store the tokens (SQLSTATE {exc.sqlstate or 'none'}: {reason}); "
            "run `myhealth auth login` again once the database is back"
        ) from None

    granted = granted_scopes(tokens.scope)
    print("Connected to Oura; the tokens are stored in the database.", file=out)
    print(f"Granted scopes: {', '.join(granted) if granted else '(none reported)'}", file=out)
    for scope in missing_scopes(granted) if tokens.scope is not None else []:
        types = ", ".join(SCOPE_DATA_TYPES[scope])
        print(
            f"warning: scope '{scope}' was not granted: {types} will stay empty "
            "(run `myhealth auth login` again and allow it)",
            file=out,
        )
    out.flush()
    return 0


def command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    if getattr(args, "auth_command", "login") != "login":
        raise UserFacingError(f"unknown auth action {args.auth_command!r}", exit_code=2)
    settings = load(OuraSettings, environ)
    return login(
        settings,
        port=args.port,
        bind=args.bind,
        redirect_uri=args.redirect_uri,
        paste=args.paste,
        open_browser=not args.no_browser,
    )
