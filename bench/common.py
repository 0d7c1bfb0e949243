"""What every benchmark shares: sizes, the machine description, services run as separate
processes, memory readings, tables and result files.

Services are started as `python -m ...` children of this process (never through `uv run`), so
the pid we watch is the service itself and its memory is its own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from myhealth.storage.local_cluster import LocalCluster, free_port
from myhealth.storage.migrate import apply as apply_migrations

RESULTS_DIR = Path(__file__).parent / "results"
QUICK_RESULTS_DIR = RESULTS_DIR / "tmp"  # git-ignored: quick runs never replace the real numbers

INGEST_TOKEN = "bench-ingest-token"
API_KEY = "bench-api-key"
JWT_SECRET = "bench-jwt-secret-that-is-long-enough-0123456789"
SEED = 42


@dataclass(frozen=True)
class Sizes:
    """How much work each benchmark does; `quick` is for the smoke test and a first look."""

    quick: bool
    history_days: int  # days of history served by the sandbox and backfilled
    ingest_batches: int  # batches per ingest case
    ingest_seconds: float  # time cap per ingest case
    api_requests: int  # requests per endpoint from the load generator (cap)
    api_seconds: float  # time cap per endpoint
    api_concurrency: int
    floor_requests: int  # direct SQL runs per endpoint (cap)
    step_timeout: float  # any single subprocess step (collect) is killed after this
    api_rate: float = 50.0  # open loop: requests scheduled per second, per endpoint
    api_rate_seconds: float = 30.0  # open loop: how long that rate is kept up, per endpoint

    @classmethod
    def for_mode(cls, quick: bool) -> Sizes:
        if quick:
            return cls(True, 20, 3, 10.0, 20, 2.0, 4, 10, 120.0, 20.0, 2.0)
        return cls(False, 5 * 365 + 1, 10, 30.0, 2000, 20.0, 8, 300, 900.0, 50.0, 30.0)


@dataclass
class Context:
    """One benchmark run: sizes, where results go, the clock every service shares."""

    sizes: Sizes
    results_dir: Path
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0))
    shared: dict[str, Any] = field(default_factory=dict)  # state handed between benchmarks

    @property
    def today(self) -> dt.date:
        return self.now.date()

    @property
    def first_day(self) -> dt.date:
        return self.today - dt.timedelta(days=self.sizes.history_days - 1)


# ---------------------------------------------------------------------- the machine


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def machine(postgres_version: str | None = None) -> dict[str, Any]:
    load1, load5, load15 = os.getloadavg()
    cores = os.cpu_count() or 1
    return {
        "cores": cores,
        "memory_gib": _memory_gib(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "postgresql": postgres_version,
        "os": f"{platform.system()} {platform.release()}",
        "load_average": [round(load1, 2), round(load5, 2), round(load15, 2)],
        # A load above the core count means other work competed for the CPUs during the run.
        "shared_with_other_work": load1 > cores * 0.75,
    }


def postgres_version(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


# ---------------------------------------------------------------------- databases


class Databases:
    """One throwaway cluster per benchmark run; a migrated template cloned per database."""

    TEMPLATE = "bench_template"

    def __init__(self) -> None:
        self.cluster = LocalCluster()
        self._count = 0

    def start(self) -> Databases:
        self.cluster.start()
        url = self.cluster.create_database(self.TEMPLATE)
        with psycopg.connect(url) as conn:
            apply_migrations(conn)
        return self

    def cpu_seconds(self) -> float:
        """CPU time of the whole PostgreSQL server so far: the postmaster, the backends that
        ended (reaped into its cutime/cstime) and the live ones."""
        postmaster = int((self.cluster.datadir / "postmaster.pid").read_text().split()[0])
        total = 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:
                continue
            pid = int(stat.parent.name)
            if pid == postmaster:
                total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
            elif int(fields[1]) == postmaster:
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def fresh(self, name: str) -> str:
        """A new, migrated, empty database."""
        self._count += 1
        return self.cluster.create_database(f"{name}_{self._count}", template=self.TEMPLATE)

    def stop(self) -> None:
        self.cluster.stop()


# ---------------------------------------------------------------------- processes


def kib_field(pid: int, name: str) -> int | None:
    """A `/proc/<pid>/status` memory field (VmRSS, VmHWM) in KiB, None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{name}:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def mib(kib: int | None) -> float | None:
    return None if kib is None else round(kib / 1024, 1)


class Service:
    """A myHealth service (or the bench's sandbox launcher) as a child process on loopback."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        port: int,
        ready_path: str,
        log_dir: Path,
    ) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ready_path = ready_path
        self.log_path = log_dir / f"{name}-{port}.log"
        self._log = self.log_path.open("wb")
        started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, *argv],
            env={**base_env(), **env, "HOST": "127.0.0.1", "PORT": str(port)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.startup_seconds = self._wait_ready(started)

    def _wait_ready(self, started: float, timeout: float = 60.0) -> float:
        deadline = started + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: see {self.log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self.url + self.ready_path).status_code == 200:
                        return time.monotonic() - started
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s: see {self.log_path}")

    @property
    def rss_mib(self) -> float | None:
        return mib(kib_field(self.process.pid, "VmRSS"))

    @property
    def peak_mib(self) -> float | None:
        return mib(kib_field(self.process.pid, "VmHWM"))

    @property
    def cpu_seconds(self) -> float:
        """User + system CPU time so far (/proc/<pid>/stat utime, stime)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return math.nan
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def base_env() -> dict[str, str]:
    """The environment children inherit: PATH and friends, no stray myHealth settings."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "VIRTUAL_ENV", "PYTHONPATH", "PG_BINDIR")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env["LOG_LEVEL"] = "warning"
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).parent.parent), *filter(None, [env.get("PYTHONPATH")])]
    )
    return env


def start_sandbox(ctx: Context, log_dir: Path, *, replay: bool = False) -> Service:
    return Service(
        "sandbox",
        [
            "-m",
            "bench.sandbox_process",
            "--now",
            ctx.now.isoformat(),
            "--first-day",
            ctx.first_day.isoformat(),
            "--seed",
            str(SEED),
            *(["--replay"] if replay else []),
        ],
        {},
        free_port(),
        "/health",
        log_dir,
    )


def start_processor(database_url: str, log_dir: Path) -> Service:
    env = {"DATABASE_URL": database_url, "INGEST_TOKEN": INGEST_TOKEN}
    return Service(
        "processor", ["-m", "myhealth", "processor"], env, free_port(), "/ready", log_dir
    )


def start_api(database_url: str, log_dir: Path) -> Service:
    env = {
        "DATABASE_URL": database_url,
        "API_KEY": API_KEY,
        "JWT_SECRET": JWT_SECRET,
        "RATE_LIMIT_PER_MINUTE": "100000000",  # the benchmark is one client hammering
        "API_SHUTDOWN_DELAY_SECONDS": "0",
    }
    return Service("api", ["-m", "myhealth", "api"], env, free_port(), "/ready", log_dir)


@dataclass
class Finished:
    returncode: int
    seconds: float
    max_rss_mib: float
    cpu_seconds: float
    stdout: str
    stderr: str


def run_measured(argv: Sequence[str], env: Mapping[str, str], timeout: float) -> Finished:
    """Run a Python child to completion through `bench/spawn.py`, which measures its wall time
    and peak memory (os.wait4 rusage ru_maxrss) without inheriting ours."""
    with tempfile.TemporaryDirectory(prefix="bench-spawn-") as scratch:
        result_path = Path(scratch) / "result.json"
        launcher = [sys.executable, "-S", str(Path(__file__).parent / "spawn.py")]
        process = subprocess.Popen(
            [*launcher, str(result_path), sys.executable, *argv],
            env={**base_env(), **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a timeout kills the launcher and the child together
        )
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise RuntimeError(f"{' '.join(argv)} still running after {timeout:.0f} s") from None
        except BaseException:  # interrupted: never leave the child behind
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
        if process.returncode != 0 or not result_path.exists():
            raise RuntimeError(f"launcher failed: {stderr.decode(errors='replace')[-2000:]}")
        result = json.loads(result_path.read_text())
    return Finished(
        int(result["returncode"]),
        float(result["seconds"]),
        round(int(result["max_rss_kib"]) / 1024, 1),  # Linux: KiB
        round(float(result["cpu_seconds"]), 2),
        stdout.decode(errors="replace"),
        stderr.decode(errors="replace"),
    )


# ---------------------------------------------------------------------- statistics, output


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation): a latency some request really had."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def ratio(ours: float | None, floor: float | None) -> float | None:
    if ours is None or floor is None or floor <= 0:
        return None
    return round(ours / floor, 2)


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append(
            "  ".join(
                v.ljust(w) if i == 0 else v.rjust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


def write_result(
    ctx: Context,
    name: str,
    *,
    parameters: Mapping[str, Any],
    results: Mapping[str, Any],
    tables: Sequence[str],
    postgres: str | None,
) -> Path:
    text = "\n\n".join(tables)
    print(f"\n{text}\n", flush=True)
    ctx.results_dir.mkdir(parents=True, exist_ok=True)
    path = ctx.results_dir / f"{name}.json"
    document = {
        "benchmark": name,
        "quick": ctx.sizes.quick,
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(postgres),
        "parameters": dict(parameters),
        "results": dict(results),
        "table": text,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    return path
