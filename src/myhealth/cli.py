"""The `myhealth` command line: one entry point, one subcommand per service.

`main()` only calls `run(argv, environ)`, which returns the exit code; every subcommand lives
in its own module and exposes `command(args, environ) -> int`. Expected failures (bad
configuration, an unreachable database) surface as one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import sys
from collections.abc import Mapping, Sequence

from myhealth import __version__
from myhealth.platform.config import ConfigError
from myhealth.platform.errors import UserFacingError

# subcommand -> module that implements `command(args, environ) -> int`
COMMANDS: dict[str, str] = {
    "migrate": "myhealth.storage.migrate",
    "processor": "myhealth.processor.server",
    "api": "myhealth.api.server",
    "collect": "myhealth.collector.command",
    "sandbox": "myhealth.sandbox.server",
    "auth": "myhealth.oura.login",
    "token": "myhealth.security.token_command",
    "mcp": "myhealth.assistant.server",
    "summary": "myhealth.summary",
    "export": "myhealth.portability.export",
    "import": "myhealth.portability.importer",
    "webhooks": "myhealth.webhooks.command",
}


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="myhealth", description="Your Oura Ring data in your own PostgreSQL."
    )
    parser.add_argument("--version", action="version", version=f"myhealth {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("migrate", help="apply database migrations to DATABASE_URL (idempotent)")
    sub.add_parser("processor", help="run the data-processor HTTP service")
    sub.add_parser("api", help="run the public API service")

    collect = sub.add_parser("collect", help="one sync run: Oura -> processor")
    collect.add_argument("--start-date", type=_date, metavar="D", help="first day (YYYY-MM-DD)")
    collect.add_argument("--end-date", type=_date, metavar="D", help="last day (YYYY-MM-DD)")
    collect.add_argument(
        "--data-types", metavar="a,b,...", help="comma-separated data types (default: all)"
    )
    collect.add_argument(
        "--no-progress", action="store_true", help="log progress lines instead of bars"
    )

    sandbox = sub.add_parser("sandbox", help="run the Oura-API-v2-compatible sandbox server")
    sandbox.add_argument("--seed", type=int, default=None, help="data seed (SANDBOX_SEED)")

    auth = sub.add_parser("auth", help="Oura account authorization")
    auth_sub = auth.add_subparsers(dest="auth_command", required=True, metavar="ACTION")
    login = auth_sub.add_parser(
        "login",
        help="OAuth2 authorization-code flow; stores tokens",
        description="Connect the Oura account: prints Oura's authorize URL, receives the "
        "redirect (callback server or pasted back) and stores the tokens in DATABASE_URL.",
    )
    login.add_argument(
        "--port", type=int, default=8765, metavar="N", help="callback server port (8765)"
    )
    login.add_argument(
        "--bind",
        default=None,
        metavar="ADDRESS",
        help="address the callback server listens on (127.0.0.1); 0.0.0.0 in a container "
        "whose port is published (`docker compose run -p 127.0.0.1:8765:8765 ...`)",
    )
    login.add_argument(
        "--paste",
        action="store_true",
        help="no callback server: paste the address the browser was redirected to (or the "
        "code) at the terminal; for a browser on another machine",
    )
    login.add_argument(
        "--redirect-uri",
        default=None,
        metavar="URI",
        help="redirect URI registered with Oura (http://127.0.0.1:PORT/callback); one on "
        "another host implies --paste unless --bind is given",
    )
    login.add_argument("--no-browser", action="store_true", help="only print the URL")

    from myhealth.assistant import cli as mcp_cli  # argparse only; the server loads on use
    from myhealth.security import token_command

    token_command.add_parser(sub)
    mcp_cli.add_parser(sub)
    sub.add_parser("summary", help="the latest days in the terminal (scores, last night, trends)")
    export = sub.add_parser(
        "export", help="every stored document as JSON Lines, one file per type, plus a manifest"
    )
    export.add_argument("--out", required=True, metavar="DIR", help="new directory to write")
    export.add_argument("--start-date", type=_date, metavar="D", help="first day (YYYY-MM-DD)")
    export.add_argument("--end-date", type=_date, metavar="D", help="last day (YYYY-MM-DD)")
    export.add_argument(
        "--data-types", metavar="a,b,...", help="comma-separated data types (default: all)"
    )
    export.add_argument(
        "--csv", action="store_true", help="also write the three daily views as CSV files"
    )
    import_ = sub.add_parser(
        "import", help="load an export into DATABASE_URL (verified first; idempotent)"
    )
    import_.add_argument("directory", metavar="DIR", help="a directory written by `export`")
    webhooks = sub.add_parser("webhooks", help="Oura webhook subscriptions (3 events x 17 types)")
    webhooks_sub = webhooks.add_subparsers(dest="webhooks_command", required=True, metavar="ACTION")
    subscribe = webhooks_sub.add_parser("subscribe", help="create the missing subscriptions")
    subscribe.add_argument("--callback-url", metavar="U", help="default: WEBHOOK_CALLBACK_URL")
    webhooks_sub.add_parser("list", help="every subscription with its state and expiry")
    renew = webhooks_sub.add_parser("renew", help="renew those expiring soon")
    renew.add_argument(
        "--within-days", type=float, metavar="N", help="default: WEBHOOK_RENEW_WITHIN_DAYS (7)"
    )
    delete = webhooks_sub.add_parser("delete", help="delete the subscriptions")
    delete.add_argument("--callback-url", metavar="U", help="only those for this callback URL")
    return parser


def run(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    args = build_parser().parse_args(argv)
    module = importlib.import_module(COMMANDS[args.command])
    try:
        code: int = module.command(args, environ)
    except ConfigError as exc:
        print(f"myhealth {args.command}: configuration error: {exc}", file=sys.stderr)
        return 2
    except UserFacingError as exc:
        print(f"myhealth {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return code


def main() -> None:
    sys.exit(run(sys.argv[1:], os.environ))
