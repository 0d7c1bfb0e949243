"""`myhealth mcp`: the read-only Model Context Protocol server (docs/mcp.md).

Over stdio (the default) the assistant starts this command and is the only client; the
database role in `DATABASE_URL` is its authority, so nothing else is checked. With `--http`
it serves streamable HTTP at `/mcp` as its own process, and every request must carry a
long-lived token from `myhealth token create` (`Authorization: Bearer mhp_…`), checked
against the same table and function as the API's (`myhealth.api.token_auth`), so revoking a
token shuts out the assistant at once too.
"""

from __future__ import annotations

import argparse
import inspect
import math
from collections.abc import Mapping
from typing import Any

import anyio
import psycopg
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from psycopg_pool import PoolTimeout
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from myhealth import __version__
from myhealth.api.token_auth import ApiTokenChecker, TokenState
from myhealth.assistant import tools
from myhealth.assistant.queries import AssistantReader
from myhealth.platform import logging as mh_logging
from myhealth.platform.config import McpSettings, load
from myhealth.platform.errors import UserFacingError
from myhealth.security import api_tokens
from myhealth.storage.db import create_pool, describe

SERVICE = "mcp"
STATEMENT_TIMEOUT_MS = 10_000
MCP_PATH = "/mcp"

INSTRUCTIONS = """\
Read-only access to one person's Oura Ring data (sleep, activity, readiness, heart rate,
workouts, sessions, tags). Start with `list_data_types` to see which dates have data. Answers
are summaries with limits (ranges in days, at most 100 items); a refused range says the
limit. Dates are YYYY-MM-DD in the owner's time zone; instants are UTC."""


def _bind(tool: tools.Tool, deps: tools.Deps) -> tools.Tool:
    """`tool` without its first parameter (`deps`), with the same name, docstring and typed,
    described parameters, so the SDK derives the same input schema."""
    signature = inspect.signature(tool, eval_str=True)
    parameters = list(signature.parameters.values())[1:]

    async def bound(**arguments: Any) -> dict[str, Any]:
        # Expected failures reach the model as a sentence (anything else would arrive only
        # as "Error executing tool").
        try:
            return await tool(deps, **arguments)
        except psycopg.errors.QueryCanceled:
            raise ToolError("the query took too long; ask for a shorter range") from None
        except (psycopg.OperationalError, PoolTimeout):
            raise ToolError("the database is unavailable; try again later") from None

    bound.__name__ = tool.__name__
    bound.__doc__ = tool.__doc__
    bound.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return bound


def build_server(deps: tools.Deps) -> MCPServer:
    server: MCPServer = MCPServer(
        name="myhealth", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )
    for tool in tools.TOOLS:
        description = inspect.cleandoc(tool.__doc__ or "")
        server.add_tool(_bind(tool, deps), name=tool.__name__, description=description)
    return server


class RequireApiToken:
    """401 unless the request carries an active long-lived token (pure ASGI, so it also
    guards requests the MCP app would answer itself). The lifespan passes through."""

    def __init__(self, app: ASGIApp, checker: ApiTokenChecker) -> None:
        self.app = app
        self.checker = checker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scheme, _, presented = Headers(scope=scope).get("authorization", "").partition(" ")
        presented = presented.strip()
        if scheme.lower() != "bearer" or not api_tokens.is_api_token(presented):
            detail = "a long-lived token is required (myhealth token create)"
        else:
            state = await self.checker.state(presented)
            if state is TokenState.ACTIVE:
                await self.app(scope, receive, send)
                return
            detail = "token is unknown" if state is TokenState.UNKNOWN else f"token {state}"
        challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        await JSONResponse({"detail": detail}, 401, headers=challenge)(scope, receive, send)


def allowed_hosts(public_hosts: list[str]) -> TransportSecuritySettings:
    """The SDK's DNS-rebinding protection: the Host header must be a local name or one of
    `public_hosts` (the names a reverse proxy forwards with), on any port."""
    local = ["127.0.0.1", "localhost", "[::1]"]
    names = [*local, *public_hosts]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[pattern for name in names for pattern in (name, f"{name}:*")],
        allowed_origins=[f"http://{name}:*" for name in local]
        + [f"https://{name}" for name in public_hosts],
    )


def command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = load(McpSettings, environ)
    # stdout carries the protocol over stdio: logs go to stderr (platform logging does).
    mh_logging.configure(SERVICE, settings.LOG_LEVEL)
    log = mh_logging.get_logger(__name__)
    pool = create_pool(settings.database_url, min_size=1, max_size=4, name=SERVICE)
    deps = tools.Deps(
        reader=AssistantReader(pool, statement_timeout_ms=STATEMENT_TIMEOUT_MS),
        timezone=settings.USER_TIMEZONE,
    )
    server = build_server(deps)
    log.info("starting", transport="http" if args.http else "stdio",
             database=describe(settings.database_url))  # fmt: skip

    async def stdio() -> None:
        async with pool:
            await server.run_stdio_async()

    async def http() -> None:
        checker = ApiTokenChecker(pool, statement_timeout_ms=STATEMENT_TIMEOUT_MS)
        app = RequireApiToken(
            server.streamable_http_app(
                streamable_http_path=MCP_PATH,
                stateless_http=True,
                host=args.host,
                transport_security=allowed_hosts(args.public_host),
            ),
            checker,
        )
        config = uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            log_level=settings.LOG_LEVEL,
            access_log=False,  # one line per request adds nothing to the SDK's own logging
            timeout_graceful_shutdown=math.ceil(STATEMENT_TIMEOUT_MS / 1000) + 1,
        )
        uvicorn_server = uvicorn.Server(config)
        async with pool:
            await uvicorn_server.serve()
        if not uvicorn_server.started:
            raise UserFacingError(f"could not start on {args.host}:{args.port}")

    anyio.run(http if args.http else stdio)
    return 0
