"""The macro expander must match what Grafana's PostgreSQL data source sends to the database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from .grafana_checks import TimeRange, expand_sql, interpolate_variables, parse_interval

RANGE = TimeRange(
    datetime(2026, 8, 1, 6, 30, tzinfo=UTC), datetime(2026, 8, 31, 21, 0, 5, tzinfo=UTC)
)


@pytest.mark.parametrize(
    ("sql", "expanded"),
    [
        pytest.param(
            "WHERE $__timeFilter(day)",
            "WHERE day BETWEEN '2026-08-01T06:30:00Z' AND '2026-08-31T21:00:05Z'",
            id="timeFilter",
        ),
        pytest.param(
            "$__timeFrom()::date - 7, $__timeTo()",
            "'2026-08-01T06:30:00Z'::date - 7, '2026-08-31T21:00:05Z'",
            id="timeFrom-timeTo",
        ),
        pytest.param("SELECT $__time(day)", 'SELECT day AS "time"', id="time"),
        pytest.param(
            "SELECT $__timeEpoch(ts)", 'SELECT extract(epoch from ts) AS "time"', id="timeEpoch"
        ),
        pytest.param(
            "SELECT $__timeGroupAlias(ts, '1h')",
            'SELECT floor(extract(epoch from ts)/3600)*3600 AS "time"',
            id="timeGroupAlias",
        ),
        pytest.param(
            "GROUP BY $__timeGroup(ts, 5m, 0)",
            "GROUP BY floor(extract(epoch from ts)/300)*300",
            id="timeGroup-with-fill",
        ),
        pytest.param(
            "WHERE $__unixEpochFilter(epoch)",
            "WHERE epoch >= 1785565800 AND epoch <= 1788210005",
            id="unixEpochFilter",
        ),
    ],
)
def test_macros_expand_as_grafana_does(sql: str, expanded: str) -> None:
    assert expand_sql(sql, RANGE) == expanded


def test_unknown_macros_are_errors() -> None:
    with pytest.raises(ValueError, match="undefined macro"):
        expand_sql("WHERE $__timeFilterz(day)", RANGE)


def test_undefined_variables_are_errors() -> None:
    with pytest.raises(KeyError, match="night"):
        expand_sql("WHERE day = '$night'", RANGE)


def test_sql_variables_are_raw_when_single_and_quoted_when_multi() -> None:
    values: dict[str, str | list[str]] = {"night": "2026-08-30", "types": ["sleep", "o'neil"]}
    sql = "WHERE day = '$night' AND t IN ($types) AND u = ${night:sqlstring} AND v = [[night]]"
    assert interpolate_variables(sql, values, sql=True) == (
        "WHERE day = '2026-08-30' AND t IN ('sleep','o''neil') AND u = '2026-08-30'"
        " AND v = 2026-08-30"
    )


def test_promql_multi_values_become_a_regex_alternation() -> None:
    values: dict[str, str | list[str]] = {"service": ["api", "processor"]}
    assert interpolate_variables('x{service=~"$service"}', values, sql=False) == (
        'x{service=~"(api|processor)"}'
    )


def test_variables_expand_before_macros() -> None:
    assert expand_sql("$__timeGroup(ts, $__interval)", RANGE).startswith(
        "floor(extract(epoch from ts)/"
    )


def test_longer_variable_names_win() -> None:
    values: dict[str, str | list[str]] = {"night": "a", "night_end": "b"}
    assert interpolate_variables("$night_end $night", values, sql=True) == "b a"


@pytest.mark.parametrize(("text", "seconds"), [("5m", 300), ("'1d'", 86400), ("1w", 604800)])
def test_intervals(text: str, seconds: int) -> None:
    assert parse_interval(text) == seconds


def test_timezone_is_the_effective_zone_and_the_range_stays_utc() -> None:
    """`${__timezone}` is the dashboard's effective zone; the time macros are UTC instants
    whatever zone the viewer is in, as Grafana sends them."""
    from zoneinfo import ZoneInfo

    auckland = ZoneInfo("Pacific/Auckland")
    viewer = TimeRange(
        datetime(2026, 8, 2, 0, 0, tzinfo=auckland),
        datetime(2026, 8, 3, 0, 0, tzinfo=auckland),
        "Pacific/Auckland",
    )
    sql = "SELECT '${__timezone}', $__timeFrom(), '$__timezone'"
    assert expand_sql(sql, viewer) == (
        "SELECT 'Pacific/Auckland', '2026-08-01T12:00:00Z', 'Pacific/Auckland'"
    )
    assert expand_sql("SELECT '${__timezone}'", RANGE) == "SELECT 'UTC'"
