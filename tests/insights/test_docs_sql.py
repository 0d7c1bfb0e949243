"""The baseline-band query that docs/monitoring.md gives the dashboards runs as the read-only
role and draws the stored baseline, ±2 MAD."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from tests.reader_role import as_reader, run_migrate

from .series import expected_metrics, random_person, store

MONITORING = Path(__file__).parents[2] / "docs" / "monitoring.md"


def band_query() -> str:
    text = MONITORING.read_text(encoding="utf-8")
    section = text.split("### Baseline bands", 1)[1]
    match = re.search(r"```sql\n(.*?)```", section, re.DOTALL)
    assert match, "no sql block under Baseline bands"
    return match.group(1)


@pytest.mark.usefixtures("reader_role")
def test_the_band_query_reads_the_baselines(database_url: str) -> None:
    run_migrate(database_url)  # grants the reader its relations
    person = random_person(80, seed=13)
    store(database_url, person.documents())
    query = band_query()
    query = query.replace("$__timeFrom()", "'2026-01-01T00:00:00Z'").replace(
        "$__timeTo()", "'2026-12-31T23:59:59Z'"
    )
    with psycopg.connect(as_reader(database_url)) as conn:
        rows = conn.execute(query).fetchall()
    expected = expected_metrics(person.series())
    hrv = sorted((day, row) for (metric, day), row in expected.items() if metric == "hrv")
    assert [r[0].date() for r in rows] == [day for day, _ in hrv]
    for (_, value, usual, low, high), (_, (want, _, median, mad, _)) in zip(rows, hrv, strict=True):
        assert value == want
        if median is None or mad is None:
            assert (usual, low, high) == (None, None, None)
        else:
            assert usual == pytest.approx(median)
            assert (low, high) == (pytest.approx(median - 2 * mad), pytest.approx(median + 2 * mad))
