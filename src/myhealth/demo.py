"""`make demo`: the whole product on one machine, with a year of synthetic Oura data.

Starts a throwaway PostgreSQL (or uses DATABASE_URL), migrates it, starts the sandbox (an
Oura-compatible server), the processor and the API as subprocesses, backfills the last
~12 months through the real pipeline (`myhealth collect`), checks the API answers,
prints how to use it and ends with the terminal view (`myhealth summary`). Ctrl-C stops
everything it started. `--exit-after-backfill` stops after the backfill, the health check
and the summary (CI).

A DATABASE_URL database is used only when it is empty or an earlier demo filled it: the demo
never mixes the sandbox's synthetic person into a real account's data.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx
import psycopg
from psycopg import sql
from rich.console import Console
from rich.markup import escape

from myhealth.storage.db import DatabaseUnavailable, connect, describe
from myhealth.storage.local_cluster import LocalCluster

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0


class DemoError(Exception):
    """Something the person running the demo has to know about; printed as one line."""


# How the demo recognises a database it may fill. Looking at the data itself ("are these the
# sandbox's documents?") would tie this guard to the generator and still be a guess, so the
# rule is about provenance instead:
#   * a database holding no rows at all (no schema yet, or a fresh `migrate`) may be used,
#     and the demo then marks it with this table before writing anything else;
#   * a marked database holds only what earlier demos put there and may be used again;
#   * anything else — rows in any table of an unmarked database, or stored OAuth tokens
#     (the demo reads the sandbox with a static key and never stores tokens, so a token pair
#     means a real `myhealth auth login` happened) — is refused before anything is written.
DEMO_MARKER_TABLE = "myhealth_demo"
# Rows here do not count as data: `migrate` writes them, and so does the demo itself.
BOOKKEEPING_TABLES = frozenset({"schema_migrations", DEMO_MARKER_TABLE})
_USER_TABLES = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
ORDER BY 1, 2
"""


def tables_with_rows(conn: psycopg.Connection) -> list[str]:
    """Every user table (any schema) holding at least one row, bookkeeping excepted."""
    found = []
    for schema, table in conn.execute(_USER_TABLES).fetchall():
        if schema == "public" and table in BOOKKEEPING_TABLES:
            continue
        query = sql.SQL("SELECT EXISTS (SELECT FROM {})").format(sql.Identifier(schema, table))
        row = conn.execute(query).fetchone()
        if row is not None and row[0]:
            found.append(table if schema == "public" else f"{schema}.{table}")
    return found


def claim_database(url: str) -> None:
    """Refuse a database holding data the demo did not write; mark an empty one as the demo's.

    Reads in a read-only transaction, so a refusal changes nothing."""
    where = describe(url)
    advice = (
        "unset DATABASE_URL to use a throwaway database (`env -u DATABASE_URL make demo`), "
        "or point it at an empty database"
    )
    try:
        with connect(url) as conn:
            conn.execute("SET TRANSACTION READ ONLY")
            marked = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL", (f"public.{DEMO_MARKER_TABLE}",)
            ).fetchone() == (True,)
            with_rows = tables_with_rows(conn)
            conn.rollback()
            if "oauth_tokens" in with_rows:
                raise DemoError(
                    f"the database at {where} (DATABASE_URL) holds Oura OAuth tokens, so a "
                    "real account is connected to it; the demo would mix the sandbox's "
                    f"synthetic data into it, so it stops here and changes nothing; {advice}"
                )
            if with_rows and not marked:
                shown = ", ".join(with_rows[:5]) + (", ..." if len(with_rows) > 5 else "")
                raise DemoError(
                    f"the database at {where} (DATABASE_URL) holds data the demo did not put "
                    f"there (rows in {shown}); the demo would mix the sandbox's synthetic data "
                    f"into it, so it stops here and changes nothing; {advice}"
                )
            if not marked:
                conn.execute(
                    sql.SQL(
                        "CREATE TABLE public.{} (claimed_at timestamptz NOT NULL DEFAULT now(), "
                        "note text NOT NULL)"
                    ).format(sql.Identifier(DEMO_MARKER_TABLE))
                )
                conn.execute(
                    sql.SQL("INSERT INTO public.{} (note) VALUES (%s)").format(
                        sql.Identifier(DEMO_MARKER_TABLE)
                    ),
                    ("filled by `make demo` with the sandbox's synthetic data",),
                )
                conn.commit()
    except DatabaseUnavailable as exc:
        raise DemoError(str(exc)) from None
    except psycopg.Error as exc:
        # E.g. no permission to read a table: whatever it holds is not the demo's.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "no details"
        raise DemoError(
            f"cannot check that the database at {where} (DATABASE_URL) is safe for the demo "
            f"(SQLSTATE {exc.sqlstate or 'none'}: {reason}); {advice}"
        ) from None


@dataclass
class Service:
    name: str
    port: int
    probe: str  # path answering 200 once the service is usable
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Demo:
    workdir: Path
    environ: Mapping[str, str]
    console: Console
    days: int
    ports: dict[str, int]
    cluster: LocalCluster | None = None
    services: list[Service] = field(default_factory=list)
    database_url: str = ""
    api_key: str = field(default_factory=lambda: "demo-" + secrets.token_urlsafe(18))
    ingest_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    # ---- steps ---------------------------------------------------------------------------

    def check_ports(self) -> None:
        for name, port in self.ports.items():
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    raise DemoError(
                        f"port {port} (the {name}) is in use; stop what uses it or pass "
                        f"--{name}-port"
                    ) from None

    def start_database(self) -> None:
        if url := self.environ.get("DATABASE_URL"):
            claim_database(url)
            self.database_url = url
            self.console.print(
                f"[green]✓[/] PostgreSQL: using DATABASE_URL ({describe(url)}; empty or "
                "filled by an earlier demo)",
                soft_wrap=True,
            )
            return
        # In the system temp dir: when we are root the server runs as `postgres`, which may
        # not be allowed into the work tree.
        self.cluster = LocalCluster()
        try:
            with self.console.status("Starting a throwaway PostgreSQL…"):
                self.cluster.start()
                self.database_url = self.cluster.create_database("myhealth")
        except (RuntimeError, OSError) as exc:
            raise DemoError(f"could not start PostgreSQL: {exc}") from None
        self.console.print(
            f"[green]✓[/] PostgreSQL: throwaway cluster on 127.0.0.1:{self.cluster.port} "
            f"(in {self.cluster.root}, removed on exit)",
            soft_wrap=True,
        )

    def migrate(self) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "myhealth", "migrate"],
            env=self._env(DATABASE_URL=self.database_url, LOG_LEVEL="warning"),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise DemoError(f"migrate failed: {result.stderr.strip() or result.stdout.strip()}")
        self.console.print("[green]✓[/] Database migrated")

    def start_services(self) -> None:
        common = {"HOST": "127.0.0.1", "LOG_LEVEL": "info"}
        timezone = self.environ.get("USER_TIMEZONE", "UTC")
        plans = [
            (Service("sandbox", self.ports["sandbox"], "/health"), {}),
            (
                Service("processor", self.ports["processor"], "/ready"),
                {"DATABASE_URL": self.database_url, "INGEST_TOKEN": self.ingest_token},
            ),
            (
                Service("api", self.ports["api"], "/ready"),
                {
                    "DATABASE_URL": self.database_url,
                    "API_KEY": self.api_key,
                    "JWT_SECRET": self.jwt_secret,
                    "USER_TIMEZONE": timezone,
                    "API_SHUTDOWN_DELAY_SECONDS": "0",  # nobody to drain for on a laptop
                },
            ),
        ]
        for service, extra in plans:
            self._spawn(service, {**common, "PORT": str(service.port), **extra})
        for service in self.services:
            with self.console.status(f"Waiting for the {service.name}…"):
                self._wait_ready(service)
            self.console.print(f"[green]✓[/] {service.name:<9} {service.url}")

    def backfill(self) -> None:
        timezone = self.environ.get("USER_TIMEZONE", "UTC")
        today = dt.datetime.now(zoneinfo.ZoneInfo(timezone)).date()
        start = today - dt.timedelta(days=self.days)
        sandbox = self._service("sandbox").url
        self.console.print(f"\nBackfilling {self.days} days from the sandbox (since {start})…")
        env = self._env(
            DATABASE_URL=self.database_url,
            OURA_API_BASE_URL=sandbox,
            OURA_TOKEN_URL=f"{sandbox}/oauth/token",
            OURA_API_KEY="demo",
            PROCESSOR_URL=self._service("processor").url,
            INGEST_TOKEN=self.ingest_token,
            USER_TIMEZONE=timezone,
            # On a terminal the progress bars say enough; elsewhere (CI) progress is logged.
            LOG_LEVEL="warning" if sys.stdout.isatty() else "info",
        )
        argv = [sys.executable, "-m", "myhealth", "collect", "--start-date", start.isoformat()]
        # In the foreground, on the terminal: `collect` draws its own progress bars.
        code = subprocess.run(argv, env=env, check=False).returncode  # noqa: S603 (our own CLI)
        if code != 0:
            raise DemoError(f"the backfill failed (myhealth collect exited {code})")
        self.console.print("[green]✓[/] Backfill complete")

    def health_check(self) -> dict[str, object]:
        api = self._service("api").url
        with httpx.Client(base_url=api, timeout=10) as client:
            login = client.post("/auth/login", json={"api_key": self.api_key})
            if login.status_code != 200:
                raise DemoError(f"API login failed: {login.status_code} {login.text}")
            token = login.json()["access_token"]
            response = client.get("/api/v1/dashboard", headers={"Authorization": f"Bearer {token}"})
        if response.status_code != 200:
            raise DemoError(f"API dashboard failed: {response.status_code} {response.text}")
        dashboard: dict[str, object] = response.json()
        if dashboard.get("date") is None:
            raise DemoError("the API answers but has no data after the backfill")
        self.console.print(f"[green]✓[/] API serves data up to {dashboard['date']}")
        return dashboard

    def print_usage(self, dashboard: Mapping[str, object]) -> None:
        api = self._service("api").url
        body = json.dumps({"api_key": self.api_key})
        extract = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])'"
        login = (
            f"curl -s -X POST {api}/auth/login -H 'Content-Type: application/json' "
            f"-d {shlex.quote(body)} | {extract}"
        )
        curl = f'curl -s -H "Authorization: Bearer $({login})" {api}/api/v1/dashboard'
        self.console.print(
            "\n[bold]myHealth is running.[/]\n"
            f"  API:               {api}\n"
            f"  API key:           {self.api_key}\n"
            f"  Processor:         {self._service('processor').url}   (PROCESSOR_URL)\n"
            f"  Ingest token:      {self.ingest_token}   (INGEST_TOKEN)\n"
            f"  Interactive docs:  {api}/docs   (OpenAPI: {api}/openapi.json)\n"
            f"  Oura sandbox:      {self._service('sandbox').url}\n"
            f"  Database:          {describe(self.database_url)}\n"
            f"  Service logs:      {self.workdir}/logs/\n"
            f"\nLatest day: {dashboard.get('date')}. Log in and fetch the dashboard:\n",
            soft_wrap=True,
        )
        # Printed without markup or wrapping so it can be pasted as is.
        print(curl, flush=True)

    def show_summary(self) -> None:
        """`myhealth summary` on the backfilled data, on the demo's own stdout (coloured on a
        terminal, plain text in a log)."""
        self.console.print("\n[bold]What the terminal view shows (`myhealth summary`):[/]\n")
        sys.stdout.flush()
        env = self._env(
            DATABASE_URL=self.database_url,
            USER_TIMEZONE=self.environ.get("USER_TIMEZONE", "UTC"),
            LOG_LEVEL="warning",
        )
        argv = [sys.executable, "-m", "myhealth", "summary"]
        code = subprocess.run(argv, env=env, check=False).returncode  # noqa: S603 (our own CLI)
        if code != 0:
            raise DemoError(f"the summary failed (myhealth summary exited {code})")

    def wait(self) -> None:
        self.console.print("\nPress Ctrl-C to stop everything.")
        while True:
            for service in self.services:
                assert service.process is not None
                if service.process.poll() is not None:
                    raise DemoError(
                        f"the {service.name} stopped (exit {service.process.returncode}); "
                        f"see {service.log}"
                    )
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop every process this demo started (whole process groups), then the database."""
        for service in reversed(self.services):
            process = service.process
            if process is None or process.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for service in reversed(self.services):
            process = service.process
            if process is None:
                continue
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None

    # ---- helpers -------------------------------------------------------------------------

    def _env(self, **overrides: str) -> dict[str, str]:
        keep = (
            "PATH",
            "HOME",
            "LANG",
            "LC_ALL",
            "TERM",
            "COLUMNS",
            "TZ",
            "PG_BINDIR",
            "PYTHONPATH",
        )
        base = {key: self.environ[key] for key in keep if key in self.environ}
        return {**base, **overrides}

    def _service(self, name: str) -> Service:
        return next(service for service in self.services if service.name == name)

    def _spawn(self, service: Service, overrides: dict[str, str]) -> None:
        logs = self.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        service.log = logs / f"{service.name}.log"
        with service.log.open("wb") as sink:
            # Own session: a Ctrl-C reaches only the demo, which then stops the services in
            # order; killpg also reaches anything a service started.
            service.process = subprocess.Popen(  # noqa: S603 (our own CLI, fixed arguments)
                [sys.executable, "-m", "myhealth", service.name],
                env=self._env(**overrides),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.services.append(service)

    def _wait_ready(self, service: Service) -> None:
        assert service.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                tail = _tail(service.log)
                raise DemoError(
                    f"the {service.name} exited with {service.process.returncode} at start:\n{tail}"
                )
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(service.url + service.probe, timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise DemoError(f"the {service.name} was not ready after {READY_TIMEOUT_SECONDS:.0f} s")


def _tail(path: Path | None, lines: int = 15) -> str:
    if path is None or not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m myhealth.demo", description=__doc__)
    parser.add_argument(
        "--exit-after-backfill",
        action="store_true",
        help="stop everything after the backfill and a health check (CI)",
    )
    parser.add_argument("--days", type=int, default=365, help="days of history (365)")
    parser.add_argument("--api-port", type=int, default=8080)
    parser.add_argument("--processor-port", type=int, default=8081)
    parser.add_argument("--sandbox-port", type=int, default=8090)
    parser.add_argument(
        "--workdir", type=Path, default=Path(".demo"), help="logs and the throwaway database"
    )
    return parser


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    args = build_parser().parse_args(argv)
    console = Console(stderr=False, highlight=False)
    args.workdir.mkdir(parents=True, exist_ok=True)
    demo = Demo(
        workdir=args.workdir.resolve(),
        environ=environ,
        console=console,
        days=args.days,
        ports={
            "api": args.api_port,
            "processor": args.processor_port,
            "sandbox": args.sandbox_port,
        },
    )
    # Ctrl-C must work even when started where SIGINT is ignored (e.g. `cmd &` in scripts).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        demo.check_ports()
        demo.start_database()
        demo.migrate()
        demo.start_services()
        demo.backfill()
        dashboard = demo.health_check()
        demo.print_usage(dashboard)
        demo.show_summary()
        if args.exit_after_backfill:
            return 0
        demo.wait()
        return 0
    except DemoError as exc:
        console.print(f"[red]✗[/] {escape(str(exc))}", soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        console.print("\nStopping…")
        return 0
    finally:
        # A second Ctrl-C while stopping must not leave things running: ignore it.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        demo.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, previous)
        console.print("Stopped everything the demo started.")


def main() -> None:
    sys.exit(run(sys.argv[1:], os.environ))


if __name__ == "__main__":
    main()
