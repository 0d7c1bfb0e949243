"""Faults survived: real processes (sandbox, processor, API, `myhealth collect`), a real
PostgreSQL that is restarted on purpose, and for each fault the stored data compared with the
sandbox's ground truth, every run row closed, and the project's alert rules evaluated by
promtool over the metrics scraped during the fault.

Each test prints one line: fault, documents expected / stored / duplicated, alerts fired.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from myhealth.storage.local_cluster import LocalCluster
from tests.processes import Service, myhealth_environ, service, start, stop, wait_until

from ..collector.expected import served
from . import alerts
from .conftest import TIMEZONE

INGEST_TOKEN = "fault-suite-ingest-token"
API_KEY = "fault-suite-api-key-0123456789"
JWT_SECRET = "fault-suite-jwt-secret-0123456789abcdef012345"
# Small enough to be quick, large enough that a fault lands mid-run.
TYPES = ["daily_sleep", "daily_activity", "daily_readiness", "sleep", "workout", "heartrate"]
DAYS = 20


# The sandbox's clock stands still at this instant for the whole module: on real time it would
# add a heart-rate sample every five minutes, and a ground truth read after a run could count
# one that did not exist when the run fetched (a false "lost document").
FROZEN = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)


def today() -> dt.date:
    return FROZEN.date()


def window() -> tuple[dt.date, dt.date]:
    return today() - dt.timedelta(days=DAYS - 1), today()


def processor_env(database_url: str) -> dict[str, str]:
    return myhealth_environ(DATABASE_URL=database_url, INGEST_TOKEN=INGEST_TOKEN)


def collect_argv() -> list[str]:
    first, _ = window()
    return ["collect", "--no-progress", "--start-date", first.isoformat(), "--data-types",
            ",".join(TYPES)]  # fmt: skip


def collect_env(database_url: str, sandbox: Service, processor_url: str) -> dict[str, str]:
    return myhealth_environ(
        DATABASE_URL=database_url,
        USER_TIMEZONE=TIMEZONE,
        OURA_API_BASE_URL=sandbox.url,
        OURA_API_KEY="sandbox-accepts-any-bearer",
        PROCESSOR_URL=processor_url,
        INGEST_TOKEN=INGEST_TOKEN,
    )


def sandbox_faults(sandbox: Service, **faults: Any) -> None:
    httpx.post(f"{sandbox.url}/_sandbox/reset", json={}, timeout=10).raise_for_status()
    freeze = {"now": FROZEN.isoformat()}
    httpx.post(f"{sandbox.url}/_sandbox/clock", json=freeze, timeout=10).raise_for_status()
    if faults:
        response = httpx.post(f"{sandbox.url}/_sandbox/faults", json=faults, timeout=10)
        response.raise_for_status()


def query(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, connect_timeout=5) as conn:
        return conn.execute(sql, params).fetchall()


def ledger(database_url: str, sandbox: Service) -> tuple[int, int, int]:
    """(expected, stored, duplicated) documents for the window, against the sandbox."""
    first, last = window()
    expected = stored = duplicated = 0
    for name in TYPES:
        truth = served(sandbox.url, name, first, last, TIMEZONE)
        expected += len(truth)
        wanted: set[Any]
        have: list[Any]
        if name == "heartrate":
            rows = query(database_url, 'SELECT "timestamp", source FROM heart_rate')
            have = [(ts, source) for ts, source in rows]
            wanted = {(dt.datetime.fromisoformat(d["timestamp"]), d["source"]) for d in truth}
        else:
            wanted = {str(doc["id"]) for doc in truth}
            have = [
                str(i)
                for (i,) in query(
                    database_url,
                    "SELECT id FROM oura_documents WHERE data_type = %s",
                    (name,),
                )
            ]
        stored += len(wanted & set(have))
        duplicated += len(have) - len(set(have))
    return expected, stored, duplicated


def open_runs(database_url: str) -> list[tuple[Any, ...]]:
    return query(
        database_url,
        "SELECT run_id, status FROM sync_runs WHERE status = 'running' OR finished_at IS NULL"
        " UNION ALL SELECT run_id, status FROM sync_run_types"
        " WHERE status = 'running' OR finished_at IS NULL",
    )


class Scraper:
    """Scrapes `/metrics` of the running services (as Prometheus would) into samples."""

    def __init__(self) -> None:
        self.scrapes: list[alerts.Samples] = []

    def scrape(self, *services: Service) -> None:
        samples: alerts.Samples = {}
        for running in services:
            try:
                body = httpx.get(f"{running.url}/metrics", timeout=5).text
            except httpx.HTTPError:
                continue  # a service that is down has no samples (the rules see absence)
            samples.update(alerts.parse(body, running.name))
        self.scrapes.append(samples)


def report(
    capsys: pytest.CaptureFixture[str], fault: str, ledger_: tuple[int, int, int], fired: list[str]
) -> None:
    expected, stored, duplicated = ledger_
    with capsys.disabled():
        print(
            f"\nfault {fault}: documents expected {expected} stored {stored}"
            f" duplicated {duplicated}; alerts fired: {', '.join(fired) or 'none'}"
        )


@pytest.fixture
def processor(fault_db: str, tmp_path: Path) -> Iterator[Service]:
    with service("processor", processor_env(fault_db), tmp_path) as running:
        yield running


# Alerts about parts a fault does not run (no API in a collector fault) are not evaluated.
NOT_RUNNING_API = {"MyhealthServiceMetricsMissing"}


def test_postgresql_restarted_during_a_collect(
    fault_cluster: LocalCluster,
    fault_db: str,
    sandbox: Service,
    processor: Service,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox_faults(sandbox, delay_ms=150)  # slow Oura: the restart lands mid-run
    scraper = Scraper()
    run = start(collect_argv(), collect_env(fault_db, sandbox, processor.url), tmp_path / "c.log")
    try:
        wait_until(
            lambda: bool(query(fault_db, "SELECT 1 FROM sync_run_types LIMIT 1")),
            "the run to record its types",
        )
        scraper.scrape(processor)
        assert run.poll() is None, "the run ended before the fault"
        fault_cluster.restart()
        scraper.scrape(processor)
        code = run.wait(timeout=240)
    finally:
        stop(run)
    scraper.scrape(processor)
    log = (tmp_path / "c.log").read_text()
    assert code == 0, log
    assert "collect_bookkeeping_reconnected" in log  # the restart hit the run, which went on
    assert open_runs(fault_db) == []
    counted = ledger(fault_db, sandbox)
    fired = [a for a in alerts.fired(scraper.scrapes, tmp_path) if a not in NOT_RUNNING_API]
    report(capsys, "postgresql restarted during a collect", counted, fired)
    assert counted[0] == counted[1]
    assert counted[2] == 0
    assert fired == []


def test_processor_killed_mid_batch_then_the_next_run_completes(
    fault_db: str,
    sandbox: Service,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox_faults(sandbox, delay_ms=100)
    scraper = Scraper()
    with service("processor", processor_env(fault_db), tmp_path) as processor:
        env = collect_env(fault_db, sandbox, processor.url)
        run = start(collect_argv(), env, tmp_path / "c1.log")
        try:
            wait_until(
                lambda: bool(query(fault_db, "SELECT 1 FROM oura_documents LIMIT 1")),
                "the first batch to be stored",
            )
            scraper.scrape(processor)
            processor.kill()
            first = run.wait(timeout=240)
        finally:
            stop(run)
    assert first == 1, "a run whose processor died cannot succeed"
    assert open_runs(fault_db) == []  # the failed run closed its rows
    sandbox_faults(sandbox)
    with service("processor", processor_env(fault_db), tmp_path) as processor:
        env = collect_env(fault_db, sandbox, processor.url)
        second = subprocess.run(
            [sys.executable, "-m", "myhealth", *collect_argv()],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        scraper.scrape(processor)
    assert second.returncode == 0, second.stderr
    assert open_runs(fault_db) == []
    counted = ledger(fault_db, sandbox)
    # The killed run failed: "last run failed" may fire until the next success, which came.
    fired = [a for a in alerts.fired(scraper.scrapes, tmp_path) if a not in NOT_RUNNING_API]
    report(capsys, "processor SIGKILLed mid-batch", counted, fired)
    assert counted[0] == counted[1]
    assert counted[2] == 0
    assert fired == []


def test_two_concurrent_collects(
    fault_db: str,
    sandbox: Service,
    processor: Service,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox_faults(sandbox, delay_ms=50)
    env = collect_env(fault_db, sandbox, processor.url)
    runs = [start(collect_argv(), env, tmp_path / f"c{i}.log") for i in range(2)]
    try:
        codes = sorted(run.wait(timeout=240) for run in runs)
    finally:
        for run in runs:
            stop(run)
    scraper = Scraper()
    scraper.scrape(processor)
    # One run did the work; the other refused at once (3) — or, when the first had already
    # finished by the time the second started, both succeeded.
    assert codes in ([0, 3], [0, 0]), codes
    assert open_runs(fault_db) == []
    counted = ledger(fault_db, sandbox)
    fired = [a for a in alerts.fired(scraper.scrapes, tmp_path) if a not in NOT_RUNNING_API]
    report(capsys, "two concurrent collects", counted, fired)
    assert counted[0] == counted[1]
    assert counted[2] == 0
    assert fired == []


@pytest.fixture
def api(fault_db: str, tmp_path: Path) -> Iterator[Service]:
    env = myhealth_environ(
        DATABASE_URL=fault_db,
        API_KEY=API_KEY,
        JWT_SECRET=JWT_SECRET,
        USER_TIMEZONE=TIMEZONE,
        RATE_LIMIT_PER_MINUTE="100000",
        API_SHUTDOWN_DELAY_SECONDS="0",
    )
    # The collector synced a minute ago: the API faults are not about the collector.
    query(
        fault_db,
        """INSERT INTO sync_runs (started_at, finished_at, status, data_types)
           VALUES (now() - interval '2 minutes', now() - interval '1 minute', 'succeeded',
                   '{heartrate}') RETURNING 1""",
    )
    with service("api", env, tmp_path) as running:
        wait_until(lambda: httpx.get(f"{running.url}/ready").status_code == 200, "api ready")
        yield running


def login(api: Service) -> dict[str, str]:
    response = httpx.post(f"{api.url}/auth/login", json={"api_key": API_KEY}, timeout=10)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_postgresql_restarted_during_api_load(
    fault_cluster: LocalCluster,
    fault_db: str,
    api: Service,
    processor: Service,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Before the pools checked connections, each stale pooled connection failed one request
    after a restart (9–10 × 503 in a row)."""
    headers = login(api)
    scraper = Scraper()
    with httpx.Client(base_url=api.url, headers=headers, timeout=10) as client:

        def load() -> list[int]:
            async def many() -> list[int]:
                async with httpx.AsyncClient(base_url=api.url, headers=headers) as http:
                    answers = await asyncio.gather(
                        *(http.get("/api/v1/sleep", timeout=10) for _ in range(20))
                    )
                return [answer.status_code for answer in answers]

            return asyncio.run(many())

        assert set(load()) == {200}  # the pool now holds several connections
        scraper.scrape(api, processor)
        fault_cluster.restart()
        after = [client.get("/api/v1/sleep").status_code for _ in range(12)]
        assert after == [200] * 12, after
        assert set(load()) == {200}
        processor_after = httpx.get(
            f"{processor.url}/api/v1/metrics/sleep",
            headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
            timeout=10,
        ).status_code
        assert processor_after == 200
        scraper.scrape(api, processor)
    fired = alerts.fired(scraper.scrapes, tmp_path)
    report(capsys, "postgresql restarted during API load", (0, 0, 0), fired)
    assert fired == []


def test_readiness_answers_while_heavy_trends_drain_the_pool(
    fault_db: str,
    api: Service,
    processor: Service,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """30 year-long heart-rate trends at once used to take every pooled connection, and
    `/ready` failed for seconds (the pod would have been taken out of the Service)."""
    query(
        fault_db,
        """INSERT INTO heart_rate ("timestamp", source, bpm)
           SELECT now() - n * interval '1 minute', 'awake', 50 + n % 40
           FROM generate_series(1, 400000) AS n RETURNING 1""",
    )
    headers = login(api)
    first = (today() - dt.timedelta(days=300)).isoformat()
    trend = f"/api/v1/trends/heart_rate?start_date={first}&end_date={today()}&bucket=day"
    scraper = Scraper()

    async def storm() -> tuple[list[int], list[tuple[int, float]], list[tuple[int, float]]]:
        async with httpx.AsyncClient(base_url=api.url, timeout=60) as http:
            heavy = [asyncio.create_task(http.get(trend, headers=headers)) for _ in range(30)]
            probes: list[tuple[int, float]] = []
            cheap: list[tuple[int, float]] = []
            await asyncio.sleep(0)  # let the storm start
            while not all(task.done() for task in heavy) or not probes:
                for path, answers in (("/ready", probes), ("/api/v1/sleep", cheap)):
                    started = asyncio.get_running_loop().time()
                    answer = await http.get(path, headers=headers, timeout=10)
                    elapsed = asyncio.get_running_loop().time() - started
                    answers.append((answer.status_code, elapsed))
                await asyncio.sleep(0.1)
            return [(await task).status_code for task in heavy], probes, cheap

    heavy, probes, cheap = asyncio.run(storm())
    scraper.scrape(api, processor)
    assert {status for status, _ in probes} == {200}, probes
    assert max(seconds for _, seconds in probes) < 2.0, probes
    # Cheap requests are not queued behind the heavy ones (at most 4 hold a connection).
    assert {status for status, _ in cheap} == {200}, cheap
    assert max(seconds for _, seconds in cheap) < 2.0, cheap
    assert set(heavy) <= {200, 503, 504}, heavy  # bounded: served or refused, never hung
    fired = alerts.fired(scraper.scrapes, tmp_path)
    report(capsys, f"API pool exhaustion ({len(probes)} probes)", (0, 0, 0), fired)
    assert fired == []


def test_clock_jump_expires_the_access_token(
    fault_db: str,
    sandbox: Service,
    processor: Service,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Oura's clock runs two hours ahead of ours: the stored access token looks valid here
    and is expired there. The 401 triggers one refresh, the run completes, no reauth alarm."""
    sandbox_faults(sandbox, strict_auth=True, access_token_ttl=3600)
    pair = httpx.post(f"{sandbox.url}/_sandbox/tokens", timeout=10).json()
    env = collect_env(fault_db, sandbox, processor.url)
    del env["OURA_API_KEY"]
    env |= {
        "OURA_CLIENT_ID": "fault-suite-client",
        "OURA_CLIENT_SECRET": "fault-suite-secret",
        "OURA_REFRESH_TOKEN": pair["refresh_token"],
        "OURA_TOKEN_URL": f"{sandbox.url}/oauth/token",
    }
    argv = [sys.executable, "-m", "myhealth", *collect_argv()]
    scraper = Scraper()
    try:
        first = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=240)
        assert first.returncode == 0, first.stderr
        scraper.scrape(processor)
        jumped = httpx.post(
            f"{sandbox.url}/_sandbox/clock", json={"advance_seconds": 7200}, timeout=10
        )
        jumped.raise_for_status()
        second = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=240)
        scraper.scrape(processor)
        stats = httpx.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()
    finally:  # back to the module's clock and open auth (the ground truth is read without OAuth)
        httpx.post(f"{sandbox.url}/_sandbox/clock", json={"now": FROZEN.isoformat()}, timeout=10)
        httpx.post(f"{sandbox.url}/_sandbox/faults", json={"strict_auth": False}, timeout=10)
    assert second.returncode == 0, second.stderr
    # The bootstrap refresh, then one refresh after the 401 (not one per type).
    assert stats["token_calls"] == {"refresh_token": 2}, stats
    assert open_runs(fault_db) == []
    counted = ledger(fault_db, sandbox)
    fired = [a for a in alerts.fired(scraper.scrapes, tmp_path) if a not in NOT_RUNNING_API]
    report(capsys, "clock jump expires the access token", counted, fired)
    assert counted[0] == counted[1]
    assert counted[2] == 0
    assert fired == []
