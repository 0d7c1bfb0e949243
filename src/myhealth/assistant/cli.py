"""The `myhealth mcp` command line (kept apart so `myhealth --help` does not import the SDK)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mcp = sub.add_parser(
        "mcp",
        help="a read-only Model Context Protocol server over your data (stdio)",
        description="Serves read-only tools over the data in DATABASE_URL to an AI assistant: "
        "over stdio by default (the assistant starts this command), or over streamable HTTP "
        "with --http, where every request needs a long-lived token (myhealth token create).",
    )
    mcp.add_argument(
        "--http", action="store_true", help="serve streamable HTTP at /mcp instead of stdio"
    )
    mcp.add_argument("--host", default="127.0.0.1", help="HTTP listen address (127.0.0.1)")
    mcp.add_argument("--port", type=int, default=8082, metavar="N", help="HTTP port (8082)")
    mcp.add_argument(
        "--public-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name a reverse proxy forwards with (e.g. health.example.com); repeatable. "
        "Requests naming any other host are refused (DNS-rebinding protection)",
    )
