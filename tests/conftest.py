"""Shared fixtures: a throwaway PostgreSQL cluster for the whole session, and a freshly
migrated database per test (cloned from a migrated template, so it is fast)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import psycopg
import pytest

from myhealth.storage import migrate
from myhealth.storage.local_cluster import LocalCluster
from tests.reader_role import ensure_reader_role

TEMPLATE = "myhealth_template"
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[LocalCluster]:
    cluster = LocalCluster().start()
    try:
        template_url = cluster.create_database(TEMPLATE)
        with psycopg.connect(template_url) as conn:
            migrate.apply(conn)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def database_url(pg_cluster: LocalCluster) -> str:
    """URL of a new, fully migrated database that only this test uses."""
    return pg_cluster.create_database(f"test_{next(_counter)}", template=TEMPLATE)


@pytest.fixture
def empty_database_url(pg_cluster: LocalCluster) -> str:
    """URL of a new database with no schema at all."""
    return pg_cluster.create_database(f"empty_{next(_counter)}")


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def reader_role(pg_cluster: LocalCluster) -> str:
    """The API's read-only role, made once per test cluster (tests/reader_role.py)."""
    return ensure_reader_role(pg_cluster)
