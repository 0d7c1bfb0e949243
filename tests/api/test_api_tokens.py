"""Long-lived API tokens (docs/api.md#long-lived-tokens), end to end: `myhealth token` as a
real process, the API as a real process connected as the read-only role, a real PostgreSQL.

Create → use → list shows the use → revoke → 401 at once; an expired token → 401; a token
never opens a write, `/auth/login` or a non-GET method; the plaintext is in no log and
nowhere in the database; the read-only role can check tokens but not read the table."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from myhealth import cli
from myhealth.api.token_auth import ApiTokenChecker, TokenState
from myhealth.platform.config import ProcessorSettings, load
from myhealth.processor.server import running
from myhealth.security import api_tokens
from myhealth.storage.local_cluster import LocalCluster
from myhealth.storage.reader_access import READER_FUNCTIONS, READER_ROLE
from tests.reader_role import as_reader, run_migrate

from .conftest import MIGRATED_TEMPLATE
from .process import ApiProcess, running_api


def myhealth(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "myhealth", *args],
        env={"PATH": os.environ["PATH"], "DATABASE_URL": database_url, "LOG_LEVEL": "debug"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def create_token(database_url: str, name: str, *extra: str) -> tuple[str, str]:
    """(the token, everything else the command wrote)."""
    result = myhealth(database_url, "token", "create", "--name", name, *extra)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert api_tokens.well_formed(token), result.stdout
    return token, result.stderr


def run_cli(database_url: str, *args: str) -> int:
    """The command line in this process (the same `run` as the console script)."""
    try:
        return cli.run(args, {"DATABASE_URL": database_url})
    except SystemExit as exc:  # argparse's exit on a usage error
        return int(exc.code or 0)


def token_list(database_url: str, capsys: pytest.CaptureFixture[str]) -> dict[str, list[str]]:
    """`token list` parsed: name -> [created, last used, expires, state] (active rows win)."""
    capsys.readouterr()
    assert run_cli(database_url, "token", "list") == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.split() == ["NAME", "CREATED", "LAST", "USED", "EXPIRES", "STATE"]
    parsed: dict[str, list[str]] = {}
    for line in lines:
        cells = [cell.strip() for cell in line.split("  ") if cell.strip()]
        parsed.setdefault(cells[0], cells[1:])
    return parsed


@pytest.fixture(scope="module")
def reader_database(reader_role: str, pg_cluster: LocalCluster) -> str:
    """One database for the module (each test uses token names of its own)."""
    url = pg_cluster.create_database("api_tokens", template=MIGRATED_TEMPLATE)
    run_migrate(url)  # grants the reader its privileges on this database
    return url


@pytest.fixture(scope="module")
def api(reader_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    """The API as a real process, connected as the read-only role, logging at debug."""
    with running_api(
        as_reader(reader_database),
        tmp_path_factory.mktemp("api-tokens"),
        LOG_LEVEL="debug",
        RATE_LIMIT_PER_MINUTE="100000",
        API_SHUTDOWN_DELAY_SECONDS="0",
    ) as process:
        yield process


def database_text(database_url: str) -> str:
    """Every row of every table in the database, as text."""
    with psycopg.connect(database_url) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables"
                " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            )
        ]
        chunks: list[str] = []
        for table in tables:
            query = sql.SQL("SELECT t::text FROM {} AS t").format(sql.SQL(table))
            chunks.extend(row[0] for row in conn.execute(query))
    return "\n".join(chunks)


def get(api: ApiProcess, path: str, token: str) -> httpx.Response:
    return httpx.get(f"{api.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_create_use_list_revoke(
    api: ApiProcess,
    reader_database: str,
    pg_cluster: LocalCluster,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token, create_output = create_token(reader_database, "home-assistant", "--ttl", "30")
    assert "home-assistant" in token_list(reader_database, capsys)
    listed = token_list(reader_database, capsys)["home-assistant"]
    assert listed[1] == "never"
    assert listed[3] == "active"

    for path in ("/api/v1/sleep", "/api/v1/dashboard", "/api/v1/trends/steps"):
        response = get(api, path, token)
        assert response.status_code == 200, (path, response.text)
    listed = token_list(reader_database, capsys)["home-assistant"]
    assert listed[1] != "never"
    assert listed[1].endswith("UTC")

    capsys.readouterr()
    assert run_cli(reader_database, "token", "revoke", "home-assistant") == 0
    revoke_output = capsys.readouterr()
    assert revoke_output.err == "token 'home-assistant' revoked\n"
    response = get(api, "/api/v1/sleep", token)  # at once: no cache outlives the revoke
    assert response.status_code == 401
    assert response.json() == {"detail": "token revoked"}
    assert token_list(reader_database, capsys)["home-assistant"][3] == "revoked"

    # The name is free again (rotation); the old token stays dead.
    rotated, _ = create_token(reader_database, "home-assistant")
    assert get(api, "/api/v1/sleep", rotated).status_code == 200
    assert get(api, "/api/v1/sleep", token).status_code == 401

    # The plaintext is nowhere: not in the commands' or the API's logs, not in the database.
    assert run_cli(reader_database, "token", "revoke", "home-assistant") == 0
    logs = create_output + revoke_output.out + revoke_output.err + api.output()
    logs += "".join(capsys.readouterr())
    secret_part = token.removeprefix(api_tokens.PREFIX)
    assert api.output().strip()  # the API did log (at debug), so the scan means something
    assert secret_part not in logs
    dump = database_text(reader_database) + pg_cluster.logfile.read_text(errors="replace")
    assert "home-assistant" in dump  # the text does hold the tokens' rows
    for leaked in (secret_part, rotated.removeprefix(api_tokens.PREFIX)):
        assert leaked not in dump
    assert api_tokens.digest(token).hex() in dump  # what it holds instead


def test_unknown_names_and_bad_arguments_are_clear_errors(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(database_url, "token", "revoke", "nobody") == 1
    assert capsys.readouterr().err.strip() == (
        "myhealth token: no token named 'nobody' (revoked ones cannot be revoked again)"
    )
    assert run_cli(database_url, "token", "create", "--name", "cron") == 0
    token = capsys.readouterr().out.strip()
    assert api_tokens.well_formed(token)
    assert run_cli(database_url, "token", "create", "--name", "cron") == 1
    assert "a token named 'cron' exists" in capsys.readouterr().err
    for ttl in ("0", "1826", "soon"):
        assert run_cli(database_url, "token", "create", "--name", "x", "--ttl", ttl) == 2, ttl
        assert "--ttl" in capsys.readouterr().err
    assert run_cli(database_url, "token", "list") == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("cron ")


def test_the_read_only_role_cannot_manage_tokens(
    reader_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for action in (["create", "--name", "sneaky"], ["list"], ["revoke", "cron"]):
        capsys.readouterr()
        assert run_cli(as_reader(reader_database), "token", *action) == 1, action
        assert "may not manage tokens" in capsys.readouterr().err


def test_expired_tokens_are_refused(
    api: ApiProcess, reader_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    token, _ = create_token(reader_database, "old", "--ttl", "1")
    assert get(api, "/api/v1/sleep", token).status_code == 200
    with psycopg.connect(reader_database) as conn:
        conn.execute(
            "UPDATE api_tokens SET created_at = now() - interval '2 days',"
            " expires_at = now() - interval '1 second' WHERE name = 'old'"
        )
    response = get(api, "/api/v1/sleep", token)
    assert response.status_code == 401
    assert response.json() == {"detail": "token expired"}
    assert token_list(reader_database, capsys)["old"][3] == "expired"


def test_a_token_opens_get_api_routes_only(api: ApiProcess, reader_database: str) -> None:
    token, _ = create_token(reader_database, "script")
    bearer = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=api.url, timeout=10) as http:
        assert http.get("/api/v1/readiness", headers=bearer).status_code == 200
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            response = http.request(method, "/api/v1/sleep", headers=bearer)
            assert response.status_code in (401, 405), (method, response.text)
        # Never a way to a login JWT: not as the API key, not as the bearer of a login.
        assert http.post("/auth/login", json={"api_key": token}).status_code == 401
        login = http.post("/auth/login", headers=bearer, json={"api_key": "wrong"})
        assert login.status_code == 401
        # A token-shaped string that is not a token, and a JWT-looking one, are refused.
        forged = api_tokens.generate()
        assert http.get("/api/v1/sleep", headers={"Authorization": f"Bearer {forged}"}).json() == {
            "detail": "token is unknown"
        }
        assert (
            http.get("/api/v1/sleep", headers={"Authorization": "Bearer mhp_short"}).status_code
            == 401
        )


def test_the_reader_checks_tokens_without_reading_the_table(
    reader_database: str, pg_cluster: LocalCluster
) -> None:
    token, _ = create_token(reader_database, "grants")
    digest = api_tokens.digest(token)
    with psycopg.connect(as_reader(reader_database), autocommit=True) as conn:
        conn.execute("SET default_transaction_read_only = off")
        for statement in (
            "SELECT * FROM api_tokens",
            "UPDATE api_tokens SET revoked_at = NULL",
            "UPDATE api_tokens SET last_used_at = now()",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        row = conn.execute(
            "SELECT name, state FROM api_token_authenticate(%s, true)", (digest,)
        ).fetchone()
        assert row == ("grants", "active")
        unknown = conn.execute(
            "SELECT * FROM api_token_authenticate(%s, false)", (b"\0" * 32,)
        ).fetchall()
        assert unknown == []
    # PUBLIC may not call it: a role that was granted nothing is refused.
    parts = urlsplit(reader_database)
    outsider = parts._replace(netloc=f"token_outsider:outsider@{parts.hostname}:{parts.port}")
    with psycopg.connect(reader_database, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS token_outsider")
        conn.execute("CREATE ROLE token_outsider LOGIN PASSWORD 'outsider'")
    try:
        with (
            psycopg.connect(outsider.geturl()) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            conn.execute("SELECT * FROM api_token_authenticate(%s, false)", (digest,))
    finally:
        with psycopg.connect(reader_database, autocommit=True) as conn:
            conn.execute("DROP OWNED BY token_outsider")
            conn.execute("DROP ROLE token_outsider")
    assert pg_cluster.port == parts.port


def test_last_use_is_written_at_most_once_per_interval(reader_database: str) -> None:
    token, _ = create_token(reader_database, "poller")
    now = [1000.0]

    def last_used() -> object:
        with psycopg.connect(reader_database) as conn:
            row = conn.execute(
                "SELECT last_used_at FROM api_tokens WHERE name = 'poller'"
            ).fetchone()
        assert row is not None
        return row[0]

    async def scenario() -> list[object]:
        seen = []
        pool = AsyncConnectionPool(as_reader(reader_database), min_size=1, max_size=2, open=False)
        await pool.open()
        try:
            checker = ApiTokenChecker(
                pool, statement_timeout_ms=5000, touch_interval=60, clock=lambda: now[0]
            )
            assert await checker.state(token) is TokenState.ACTIVE
            seen.append(last_used())
            for _ in range(20):  # a storm within the minute: no write
                now[0] += 2
                assert await checker.state(token) is TokenState.ACTIVE
            seen.append(last_used())
            now[0] += 60
            assert await checker.state(token) is TokenState.ACTIVE
            seen.append(last_used())
        finally:
            await pool.close()
        return seen

    first, during_storm, after_interval = asyncio.run(scenario())
    assert first is not None
    assert during_storm == first
    assert after_interval != first


def test_a_token_never_opens_the_processors_ingest(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The processor's routes take INGEST_TOKEN only: a long-lived API token is refused."""
    assert run_cli(database_url, "token", "create", "--name", "ingest-probe") == 0
    token = capsys.readouterr().out.strip()
    environ = {"DATABASE_URL": database_url, "INGEST_TOKEN": "processor-ingest-secret-0123456789"}
    bearer = {"Authorization": f"Bearer {token}"}
    body = {"data_type": "daily_sleep", "documents": [{"id": "x", "day": "2026-01-01"}]}
    with running(load(ProcessorSettings, environ)) as url:
        ingest = httpx.post(f"{url}/api/v1/ingest", json=body, headers=bearer, timeout=10)
        assert ingest.status_code == 401
        read = httpx.get(f"{url}/api/v1/metrics/daily_sleep", headers=bearer, timeout=10)
        assert read.status_code == 401
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM oura_documents").fetchone() == (0,)


def test_the_openapi_document_names_both_kinds_of_bearer_token(api: ApiProcess) -> None:
    document = httpx.get(f"{api.url}/openapi.json", timeout=10).json()
    schemes = document["components"]["securitySchemes"]
    assert list(schemes) == ["HTTPBearer"]
    description = schemes["HTTPBearer"]["description"]
    assert "POST /auth/login" in description
    assert "`mhp_…`" in description
    assert "`myhealth token create`" in description
    assert "`GET /api/v1/*` only" in description
    unauthorized = document["paths"]["/api/v1/sleep"]["get"]["responses"]["401"]["description"]
    assert "revoked" in unauthorized


def test_the_reader_executes_exactly_the_listed_security_definer_functions(
    reader_database: str,
) -> None:
    """A SECURITY DEFINER function runs with its owner's rights: the reader may call only
    those `reader_access.READER_FUNCTIONS` lists (PUBLIC's default EXECUTE is revoked)."""
    with psycopg.connect(reader_database) as conn:
        rows = conn.execute(
            "SELECT p.oid::regprocedure::text, has_function_privilege(%s, p.oid, 'EXECUTE')"
            " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'public' AND p.prosecdef",
            (READER_ROLE,),
        ).fetchall()
    definers: dict[str, bool] = dict(rows)
    listed = {signature.replace(" ", "") for signature in READER_FUNCTIONS}
    assert set(definers) >= listed
    assert {name for name, allowed in definers.items() if allowed} == listed
