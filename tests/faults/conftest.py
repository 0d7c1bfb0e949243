"""The fault suite's own PostgreSQL cluster (it is restarted on purpose, so it is not the
session's shared one), a fresh migrated database per test, and the sandbox process."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from myhealth.storage import migrate
from myhealth.storage.local_cluster import LocalCluster
from tests.processes import Service, myhealth_environ, service

TIMEZONE = "UTC"
_counter = itertools.count()


@pytest.fixture(scope="module")
def fault_cluster() -> Iterator[LocalCluster]:
    cluster = LocalCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def fault_db(fault_cluster: LocalCluster) -> str:
    url = fault_cluster.create_database(f"fault_{next(_counter)}")
    with psycopg.connect(url) as conn:
        migrate.apply(conn)
    return url


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    log_dir: Path = tmp_path_factory.mktemp("sandbox")
    env = myhealth_environ(USER_TIMEZONE=TIMEZONE, SANDBOX_SEED="42")
    with service("sandbox", env, log_dir) as running:
        yield running
