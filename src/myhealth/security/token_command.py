"""`myhealth token create|list|revoke`: long-lived, read-only API tokens
(docs/api.md#long-lived-tokens).

Run with the owner's `DATABASE_URL` (the API's read-only role cannot see the table). `create`
prints the token once, on stdout, and nowhere else: the database keeps its SHA-256 only, and
nothing here logs it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Mapping
from typing import ClassVar, TextIO

import psycopg

from myhealth.platform.config import DatabaseSettings, load
from myhealth.platform.errors import ErrorCode, UserFacingError
from myhealth.security import api_tokens
from myhealth.storage.db import connect


class TokenNotFound(UserFacingError):
    code: ClassVar[ErrorCode] = ErrorCode.TOKEN_NOT_FOUND


class TokenNameTaken(UserFacingError):
    code: ClassVar[ErrorCode] = ErrorCode.TOKEN_NAME_TAKEN


def ttl_days(value: str) -> int:
    """`--ttl`: whole days, 1 to MAX_TTL_DAYS."""
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of days") from None
    if not 1 <= days <= api_tokens.MAX_TTL_DAYS:
        raise argparse.ArgumentTypeError(
            f"must be between 1 and {api_tokens.MAX_TTL_DAYS} days, not {days}"
        )
    return days


def token_name(value: str) -> str:
    if api_tokens.NAME_PATTERN.fullmatch(value) is None:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a token name (1-64 of A-Z a-z 0-9 _ . -, starting with a "
            "letter or digit)"
        )
    return value


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = sub.add_parser("token", help="long-lived, revocable, read-only API tokens")
    actions = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create",
        help="make a token and print it once",
        description="Makes a read-only token for GET /api/v1/* and prints it once; only its "
        "hash is stored.",
    )
    create.add_argument(
        "--name", required=True, type=token_name, help="a name to list and revoke it by"
    )
    create.add_argument(
        "--ttl",
        type=ttl_days,
        default=api_tokens.DEFAULT_TTL_DAYS,
        metavar="DAYS",
        help=f"days until it expires ({api_tokens.DEFAULT_TTL_DAYS}; at most "
        f"{api_tokens.MAX_TTL_DAYS})",
    )
    actions.add_parser("list", help="every token: name, created, last used, expiry, state")
    revoke = actions.add_parser("revoke", help="revoke a token at once")
    revoke.add_argument("name", type=token_name, metavar="NAME")


def create(conn: psycopg.Connection, name: str, ttl: int) -> tuple[str, dt.datetime]:
    """A new token named `name`: (the token, its expiry)."""
    token = api_tokens.generate()
    try:
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO api_tokens (name, token_hash, expires_at)"
                " VALUES (%s, %s, now() + make_interval(days => %s)) RETURNING expires_at",
                (name, api_tokens.digest(token), ttl),
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise TokenNameTaken(
            f"a token named {name!r} exists (revoke it first, or choose another name)"
        ) from None
    assert row is not None
    return token, row[0]


def revoke(conn: psycopg.Connection, name: str) -> None:
    with conn.transaction():
        row = conn.execute(
            "UPDATE api_tokens SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL"
            " RETURNING token_id",
            (name,),
        ).fetchone()
    if row is None:
        raise TokenNotFound(f"no token named {name!r} (revoked ones cannot be revoked again)")


LIST_COLUMNS = ("NAME", "CREATED", "LAST USED", "EXPIRES", "STATE")


def rows(conn: psycopg.Connection) -> list[tuple[str, ...]]:
    """One row per token, active ones first, then by name and creation."""
    result = conn.execute(
        """
        SELECT name, created_at, last_used_at, expires_at,
               CASE WHEN revoked_at IS NOT NULL THEN 'revoked'
                    WHEN expires_at <= now() THEN 'expired' ELSE 'active' END AS state
        FROM api_tokens
        ORDER BY revoked_at IS NOT NULL, name, created_at
        """
    ).fetchall()
    return [
        (name, _when(created), _when(used) if used else "never", _when(expires), state)
        for name, created, used, expires, state in result
    ]


def _when(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def print_table(table: list[tuple[str, ...]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in [LIST_COLUMNS, *table]) for i in range(5)]
    for row in [LIST_COLUMNS, *table]:
        print(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(), file=out
        )


def command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = load(DatabaseSettings, environ)
    with connect(settings.database_url) as conn:
        try:
            _run(args, conn)
        except psycopg.errors.UndefinedTable:
            raise UserFacingError("no api_tokens table: run `myhealth migrate` first") from None
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction):
            raise UserFacingError(
                "the role in DATABASE_URL may not manage tokens (the API's read-only role "
                "cannot); use the owner's, the role that runs `myhealth migrate`"
            ) from None
    return 0


def _run(args: argparse.Namespace, conn: psycopg.Connection) -> None:
    action: str = args.token_command
    if action == "create":
        token, expires = create(conn, args.name, args.ttl)
        print(token)
        print(
            f"token {args.name!r} expires {_when(expires)}; it is shown only now. Send it as "
            "`Authorization: Bearer <token>` (GET /api/v1/* only).",
            file=sys.stderr,
        )
    elif action == "list":
        table = rows(conn)
        if table:
            print_table(table, sys.stdout)
        else:
            print("no tokens (myhealth token create --name NAME)", file=sys.stderr)
    else:
        revoke(conn, args.name)
        print(f"token {args.name!r} revoked", file=sys.stderr)
