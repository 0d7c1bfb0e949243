"""A throwaway PostgreSQL cluster from the installed binaries (tests, `make demo`, benchmarks).

`LocalCluster` runs initdb into a temporary directory, starts `postgres` on 127.0.0.1 on a
free port, and removes everything on `stop()`. PostgreSQL refuses to run as root, so when we
are root (CI, containers) the server runs as the `postgres` system user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import psycopg

SUPERUSER = "myhealth"


def find_bindir() -> Path:
    """The directory holding initdb/pg_ctl: $PG_BINDIR, PATH, or the newest Debian install."""
    if env := os.environ.get("PG_BINDIR"):
        return Path(env)
    if found := shutil.which("initdb"):
        return Path(found).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if not candidates:
        raise RuntimeError("PostgreSQL binaries not found: install PostgreSQL or set PG_BINDIR")
    return Path(candidates[-1]).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LocalCluster:
    def __init__(self, base_dir: str | os.PathLike[str] | None = None, port: int | None = None):
        self.bindir = find_bindir()
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="myhealth-pg-", dir=base_dir))
        self.datadir = self.root / "data"
        self.logfile = self.root / "postgres.log"
        self._as_postgres = os.geteuid() == 0

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, dbname: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *argv: str) -> None:
        cmd = list(argv)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603 - fixed argv
        if result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {result.stderr.strip() or result.stdout}")

    def start(self) -> LocalCluster:
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self._run(
            str(self.bindir / "initdb"),
            "-D", str(self.datadir),
            "-U", SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories='{self.root}' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
            "-c shared_buffers=128MB"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D", str(self.datadir),
            "-l", str(self.logfile),
            "-o", options,
            "-w", "-t", "60",
            "start",
        )  # fmt: skip
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def create_database(self, name: str, template: str | None = None) -> str:
        with psycopg.connect(self.url, autocommit=True) as conn:
            sql = f'CREATE DATABASE "{name}"'
            if template:
                sql += f' TEMPLATE "{template}"'
            conn.execute(sql.encode())
        return self.url_for(name)

    def restart(self) -> None:
        """Stop the server (disconnecting every client) and start it again on the same port."""
        # -l: the new server must not inherit our output pipes (run() would wait on them).
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.logfile),
                  "-m", "fast", "-w", "-t", "60", "restart")  # fmt: skip
        self._wait_ready()

    def stop(self) -> None:
        if self.datadir.exists():
            with contextlib.suppress(RuntimeError):  # already stopped
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate",
                          "-w", "stop")  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
