"""Create or update the writer and reader logins of the myHealth database, as the master user.

Run by the migration hook (migration.manageRoles) before `myhealth migrate`, on every sync:
- each login exists, can log in, and has the password its Secrets Manager secret holds now
  (so a changed secret reaches the database on the next sync);
- the writer reads and writes every table and sequence in schema public, and default privileges
  give it the same on tables the master user creates later (migrations);
- the reader gets no table privilege here: it is made a member of `myhealth_reader`, the role
  to which `myhealth migrate` grants SELECT on an explicit list of relations (never
  `oauth_tokens`, nothing a later migration adds unlisted; src/myhealth/storage/reader_access.py).

Settings (environment): DATABASE_URL (the master login), MYHEALTH_DB_WRITER_USER,
MYHEALTH_DB_WRITER_PASSWORD, MYHEALTH_DB_READER_USER, MYHEALTH_DB_READER_PASSWORD.
Exit codes: 0 done, 2 a setting is missing or invalid, 1 the database refused.
"""

from __future__ import annotations

import os
import sys

import psycopg
from psycopg import sql

SCHEMA = "public"
WRITE = "SELECT, INSERT, UPDATE, DELETE"
# The group role `myhealth migrate` grants SELECT to (src/myhealth/storage/reader_access.py).
READER_GROUP = "myhealth_reader"


class SettingError(Exception):
    """A required environment variable is missing or unusable."""


def setting(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise SettingError(f"{name} is not set")
    return value


def ensure_login(cur: psycopg.Cursor[tuple[object, ...]], user: str, password: str) -> None:
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,))
    verb = "ALTER" if cur.fetchone() else "CREATE"
    cur.execute(
        sql.SQL(
            verb + " ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}"
        ).format(sql.Identifier(user), sql.Literal(password))
    )


def connect_and_use(cur: psycopg.Cursor[tuple[object, ...]], user: str) -> None:
    role, schema = sql.Identifier(user), sql.Identifier(SCHEMA)
    cur.execute(
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(cur.connection.info.dbname), role
        )
    )
    cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role))


def grant_writer(cur: psycopg.Cursor[tuple[object, ...]], user: str) -> None:
    connect_and_use(cur, user)
    role, schema = sql.Identifier(user), sql.Identifier(SCHEMA)
    for kind, privileges in (("TABLES", WRITE), ("SEQUENCES", "USAGE, SELECT, UPDATE")):
        cur.execute(
            sql.SQL("GRANT " + privileges + " ON ALL " + kind + " IN SCHEMA {} TO {}").format(
                schema, role
            )
        )
        cur.execute(
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT "
                + privileges
                + " ON "
                + kind
                + " TO {}"
            ).format(schema, role)
        )


def grant_reader(cur: psycopg.Cursor[tuple[object, ...]], user: str) -> None:
    """Membership in the reader group only; which relations it may read is migrate's decision."""
    connect_and_use(cur, user)
    if user == READER_GROUP:
        return
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READER_GROUP,))
    if cur.fetchone() is None:
        cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(READER_GROUP)))
    cur.execute(
        sql.SQL("GRANT {} TO {}").format(sql.Identifier(READER_GROUP), sql.Identifier(user))
    )


def main() -> int:
    try:
        url = setting("DATABASE_URL")
        writer = (setting("MYHEALTH_DB_WRITER_USER"), setting("MYHEALTH_DB_WRITER_PASSWORD"))
        reader = (setting("MYHEALTH_DB_READER_USER"), setting("MYHEALTH_DB_READER_PASSWORD"))
        if writer[0] == reader[0]:
            raise SettingError("the writer and reader logins must differ")
    except SettingError as error:
        print(f"database roles: {error}", file=sys.stderr)
        return 2
    try:
        with psycopg.connect(url) as conn, conn.cursor() as cur:
            ensure_login(cur, *writer)
            ensure_login(cur, *reader)
            grant_writer(cur, writer[0])
            grant_reader(cur, reader[0])
    except psycopg.Error as error:
        print(f"database roles: {error}", file=sys.stderr)
        return 1
    print(f"database roles: {writer[0]} (read/write) and {reader[0]} (read) are in place")
    return 0


if __name__ == "__main__":
    sys.exit(main())
