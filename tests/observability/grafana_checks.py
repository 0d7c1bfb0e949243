"""Checks for Grafana dashboards and Prometheus rules that need no Grafana and no Prometheus.

Reusable pieces (the lead's live-scrape check imports them):
- `unknown_metrics(dashboard, exported)`: every metric a dashboard's PromQL names must be
  exported; `exported` is any set of names (the contract list, or a live `/metrics` scrape).
- `rule_unknown_metrics(rules, exported)`: the same for a Prometheus rules document.
- `expand_sql(sql, time_range, variables)`: Grafana's PostgreSQL macros and template
  variables, expanded the way Grafana's SQL data source does, so the query can be run.
- `structural_problems(dashboards, datasources)`: uids, ids, grid, datasource references.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import promql_parser
import yaml

REPO = Path(__file__).resolve().parents[2]
OBSERVABILITY = REPO / "observability"
DASHBOARDS_DIR = OBSERVABILITY / "grafana" / "dashboards"
DATASOURCES_FILE = OBSERVABILITY / "grafana" / "provisioning" / "datasources" / "datasources.yaml"
RULES_FILE = OBSERVABILITY / "prometheus" / "rules" / "myhealth.rules.yaml"
CONTRACT_FILE = REPO / "docs" / "development.md"

POSTGRES_TYPE = "grafana-postgresql-datasource"
PROMETHEUS_TYPE = "prometheus"

# Panel types that ship with Grafana 10/11 (no plugins are installed).
KNOWN_PANEL_TYPES = frozenset(
    {
        "barchart",
        "bargauge",
        "gauge",
        "heatmap",
        "histogram",
        "piechart",
        "row",
        "stat",
        "state-timeline",
        "status-history",
        "table",
        "text",
        "timeseries",
        "trend",
        "xychart",
    }
)

# Grafana unit ids used here (a typo silently renders as a plain number, so check them).
KNOWN_UNITS = frozenset(
    {
        "celsius",
        "d",
        "dateTimeAsIso",
        "dateTimeFromNow",
        "dtdurations",
        "h",
        "kcal",
        "m",
        "ms",
        "none",
        "percent",
        "percentunit",
        "reqps",
        "s",
        "short",
    }
)

# Metrics other exporters provide (kube-state-metrics, Prometheus itself).
EXTERNAL_METRICS = frozenset({"kube_pod_container_status_restarts_total", "up"})

HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


# ---------------------------------------------------------------- dashboards and provisioning


def load_dashboards(directory: Path = DASHBOARDS_DIR) -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON, for every dashboard file."""
    import json

    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.json"))
    }


def load_datasources(path: Path = DATASOURCES_FILE) -> dict[str, str]:
    """uid -> type of every provisioned data source."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {source["uid"]: source["type"] for source in document["datasources"]}


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def variables_of(dashboard: Mapping[str, Any]) -> list[dict[str, Any]]:
    variables: list[dict[str, Any]] = dashboard.get("templating", {}).get("list", [])
    return variables


def datasource_uid(panel_or_target: Mapping[str, Any]) -> str | None:
    source = panel_or_target.get("datasource")
    if isinstance(source, Mapping):
        uid = source.get("uid")
        return str(uid) if uid is not None else None
    return None


def _overlaps(first: Mapping[str, int], second: Mapping[str, int]) -> bool:
    return (
        first["x"] < second["x"] + second["w"]
        and second["x"] < first["x"] + first["w"]
        and first["y"] < second["y"] + second["h"]
        and second["y"] < first["y"] + first["h"]
    )


def structural_problems(
    dashboards: Mapping[str, Mapping[str, Any]], datasources: Mapping[str, str]
) -> list[str]:
    """Everything Grafana would reject or render wrongly, as readable messages."""
    problems: list[str] = []
    uids: dict[str, str] = {}
    for name, dashboard in dashboards.items():
        uid = dashboard.get("uid")
        if not uid:
            problems.append(f"{name}: no uid")
        elif uid in uids:
            problems.append(f"{name}: uid {uid!r} also used by {uids[uid]}")
        else:
            uids[str(uid)] = name
        for key in ("title", "schemaVersion", "tags", "time"):
            if not dashboard.get(key):
                problems.append(f"{name}: no {key}")
        if dashboard.get("id") is not None:
            problems.append(f"{name}: provisioned dashboards must not carry an id")

        variable_names = {variable["name"] for variable in variables_of(dashboard)}
        for variable in variables_of(dashboard):
            if variable.get("type") == "query":
                problems += _datasource_problems(
                    f"{name}: variable {variable['name']}", variable, datasources, variable_names
                )

        panel_ids: set[int] = set()
        placed: list[tuple[str, dict[str, int]]] = []
        for panel in iter_panels(dashboard):
            where = f"{name}: panel {panel.get('id')} {panel.get('title')!r}"
            panel_id = panel.get("id")
            if not isinstance(panel_id, int):
                problems.append(f"{where}: no integer id")
            elif panel_id in panel_ids:
                problems.append(f"{where}: duplicate panel id")
            else:
                panel_ids.add(panel_id)
            if panel.get("type") not in KNOWN_PANEL_TYPES:
                problems.append(f"{where}: unknown panel type {panel.get('type')!r}")
            grid = panel.get("gridPos")
            if not isinstance(grid, Mapping) or not all(
                isinstance(grid.get(key), int) for key in ("h", "w", "x", "y")
            ):
                problems.append(f"{where}: gridPos must have integer h, w, x, y")
            else:
                if grid["x"] < 0 or grid["w"] < 1 or grid["h"] < 1 or grid["x"] + grid["w"] > 24:
                    problems.append(f"{where}: gridPos {dict(grid)} outside the 24-column grid")
                for other_where, other in placed:
                    if _overlaps(grid, other):
                        problems.append(f"{where}: overlaps {other_where}")
                placed.append((where, dict(grid)))
            if panel.get("type") in {"row", "text"}:
                continue
            if not panel.get("title"):
                problems.append(f"{where}: no title")
            problems += _datasource_problems(where, panel, datasources, variable_names)
            problems += _target_problems(where, panel, datasources)
            unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
            if (
                unit is not None
                and unit not in KNOWN_UNITS
                and not unit.startswith(("suffix:", "time:"))
            ):
                problems.append(f"{where}: unknown unit {unit!r}")
    return problems


def _datasource_problems(
    where: str,
    holder: Mapping[str, Any],
    datasources: Mapping[str, str],
    variable_names: Collection[str],
) -> list[str]:
    uid = datasource_uid(holder)
    if uid is None:
        return [f"{where}: no datasource uid"]
    if uid.startswith("$"):
        return [] if uid.strip("${}") in variable_names else [f"{where}: undefined {uid}"]
    if uid not in datasources:
        return [f"{where}: datasource uid {uid!r} is not provisioned"]
    declared = holder["datasource"].get("type")
    if declared != datasources[uid]:
        return [f"{where}: datasource {uid!r} is {datasources[uid]!r}, not {declared!r}"]
    return []


def _target_problems(
    where: str, panel: Mapping[str, Any], datasources: Mapping[str, str]
) -> list[str]:
    problems: list[str] = []
    targets = panel.get("targets") or []
    if not targets:
        problems.append(f"{where}: no queries")
    ref_ids = [target.get("refId") for target in targets]
    if len(set(ref_ids)) != len(ref_ids) or None in ref_ids:
        problems.append(f"{where}: refIds missing or repeated: {ref_ids}")
    panel_uid = datasource_uid(panel)
    for target in targets:
        uid = datasource_uid(target) or panel_uid
        kind = datasources.get(uid or "")
        if uid != panel_uid:
            problems.append(f"{where}: target {target.get('refId')} uses another datasource")
        if kind == POSTGRES_TYPE and not (target.get("rawSql") and target.get("rawQuery")):
            problems.append(f"{where}: PostgreSQL target without rawSql/rawQuery")
        if kind == POSTGRES_TYPE and target.get("format") not in {"time_series", "table"}:
            problems.append(f"{where}: PostgreSQL target format must be time_series or table")
        if kind == PROMETHEUS_TYPE and not target.get("expr"):
            problems.append(f"{where}: Prometheus target without expr")
    return problems


def sql_targets(dashboard: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(panel title, refId, rawSql) of every PostgreSQL query, variables' and annotations'
    queries included."""
    for variable in variables_of(dashboard):
        if variable.get("type") == "query" and _is_postgres(variable):
            yield f"variable {variable['name']}", "var", _variable_query(variable)
    for annotation in dashboard.get("annotations", {}).get("list", []):
        target = annotation.get("target", {})
        if _is_postgres(annotation) and "rawSql" in target:
            yield f"annotation {annotation['name']}", "Anno", str(target["rawSql"])
    for panel in iter_panels(dashboard):
        if not _is_postgres(panel):
            continue
        for target in panel.get("targets", []):
            yield str(panel["title"]), str(target["refId"]), str(target["rawSql"])


def promql_targets(dashboard: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(panel title, refId, expr) of every Prometheus query, variables' queries included."""
    for variable in variables_of(dashboard):
        if variable.get("type") == "query" and not _is_postgres(variable):
            query = _variable_query(variable)
            pattern = r"\s*(?:label_values\((.*),\s*\w+\)|query_result\((.*)\))\s*"
            if match := re.fullmatch(pattern, query, re.DOTALL):
                yield f"variable {variable['name']}", "var", match.group(1) or match.group(2)
    for panel in iter_panels(dashboard):
        if panel.get("datasource", {}).get("type") != PROMETHEUS_TYPE:
            continue
        for target in panel.get("targets", []):
            yield str(panel["title"]), str(target["refId"]), str(target["expr"])


def _is_postgres(holder: Mapping[str, Any]) -> bool:
    source = holder.get("datasource")
    return isinstance(source, Mapping) and source.get("type") == POSTGRES_TYPE


def _variable_query(variable: Mapping[str, Any]) -> str:
    query = variable.get("query")
    if isinstance(query, Mapping):
        return str(query.get("rawSql") or query.get("query") or "")
    return str(query or "")


# ---------------------------------------------------------------- Grafana's SQL macros


@dataclass(frozen=True)
class TimeRange:
    """The dashboard's time range and effective time zone, as Grafana hands them to a query.

    `timezone` is what `${__timezone}` expands to: the dashboard's zone, or the viewer's
    default (Grafana resolves "browser" to the browser's IANA zone before substituting).
    """

    start: datetime
    end: datetime
    timezone: str = "UTC"

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w|y)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def parse_interval(text: str) -> float:
    """Seconds of a Grafana interval string such as `5m`, `1d`, `'1w'`."""
    match = _DURATION.match(text.strip().strip("'\""))
    if not match:
        raise ValueError(f"not a Grafana interval: {text!r}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _format_seconds(seconds: float) -> str:
    return f"{int(seconds)}" if float(seconds).is_integer() else f"{seconds}"


def auto_interval(time_range: TimeRange, max_data_points: int = 1000) -> str:
    """A Grafana-like `$__interval` for the range (rounded up to a whole minute or more)."""
    seconds = max(60.0, time_range.seconds / max_data_points)
    for step in (60, 300, 600, 1800, 3600, 7200, 21600, 43200, 86400, 604800):
        if seconds <= step:
            return f"{step // 60}m" if step < 3600 else f"{step // 3600}h"
    return "7d"


# Grafana's SQL engine matches macros with this pattern (no parentheses inside arguments).
_MACRO = re.compile(r"\$__(\w+)\(([^)]*)\)")


def _expand_macro(name: str, args: list[str], time_range: TimeRange) -> str:
    def one_arg() -> str:
        if len(args) != 1 or not args[0]:
            raise ValueError(f"$__{name} needs exactly one argument, got {args}")
        return args[0]

    if name == "time":
        return f'{one_arg()} AS "time"'
    if name == "timeEpoch":
        return f'extract(epoch from {one_arg()}) AS "time"'
    if name == "timeFilter":
        return (
            f"{one_arg()} BETWEEN '{_rfc3339(time_range.start)}' AND '{_rfc3339(time_range.end)}'"
        )
    if name in {"timeFrom", "timeTo"}:
        if args != [""]:
            raise ValueError(f"$__{name}() takes no arguments")
        return f"'{_rfc3339(time_range.start if name == 'timeFrom' else time_range.end)}'"
    if name in {"timeGroup", "timeGroupAlias"}:
        if len(args) not in {2, 3}:
            raise ValueError(f"$__{name} needs a column and an interval, got {args}")
        seconds = _format_seconds(parse_interval(args[1]))
        group = f"floor(extract(epoch from {args[0]})/{seconds})*{seconds}"
        return f'{group} AS "time"' if name == "timeGroupAlias" else group
    if name == "unixEpochFilter":
        column = one_arg()
        return f"{column} >= {_epoch(time_range.start)} AND {column} <= {_epoch(time_range.end)}"
    if name in {"unixEpochFrom", "unixEpochTo"}:
        return str(_epoch(time_range.start if name == "unixEpochFrom" else time_range.end))
    raise ValueError(f"undefined macro: $__{name}")


def interpolate_variables(text: str, variables: Mapping[str, str | list[str]], *, sql: bool) -> str:
    """Grafana's template interpolation: `$var`, `${var}`, `${var:format}`, `[[var]]`.

    In SQL, a single value goes in raw (queries write `'$var'`); a multi-value goes in as a
    comma-separated list of quoted strings, as Grafana's SQL data sources do.
    """

    def render(name: str, fmt: str | None) -> str:
        if name not in variables:
            raise KeyError(f"undefined template variable ${name}")
        value = variables[name]
        if isinstance(value, list):
            if fmt == "csv":
                return ",".join(value)
            if sql:
                return ",".join("'" + item.replace("'", "''") + "'" for item in value)
            return "(" + "|".join(value) + ")"
        if fmt == "sqlstring":
            return "'" + value.replace("'", "''") + "'"
        return value

    def braced(match: re.Match[str]) -> str:
        return render(match.group(1), match.group(2))

    text = re.sub(r"\$\{(\w+)(?::(\w+))?\}", braced, text)
    text = re.sub(r"\[\[(\w+)\]\]", lambda match: render(match.group(1), None), text)
    # Longest names first so `$night_start` is not read as `$night` + `_start`.
    if variables:
        names = "|".join(re.escape(name) for name in sorted(variables, key=len, reverse=True))
        text = re.sub(rf"\$({names})\b", lambda match: render(match.group(1), None), text)
    # Grafana leaves an unknown `$name` in place, which then silently matches nothing.
    if leftover := re.search(r"\$(?!__)([A-Za-z_]\w*)", text):
        raise KeyError(f"undefined template variable ${leftover.group(1)}")
    return text


def builtin_variables(time_range: TimeRange) -> dict[str, str | list[str]]:
    interval = auto_interval(time_range)
    return {
        "__from": str(_epoch(time_range.start) * 1000),
        "__to": str(_epoch(time_range.end) * 1000),
        "__interval": interval,
        "__interval_ms": str(int(parse_interval(interval) * 1000)),
        "__range": f"{int(time_range.seconds)}s",
        "__range_s": str(int(time_range.seconds)),
        "__rate_interval": interval,
        "__timezone": time_range.timezone,
    }


def expand_sql(
    sql: str, time_range: TimeRange, variables: Mapping[str, str | list[str]] | None = None
) -> str:
    """Expand template variables, then macros, as Grafana's PostgreSQL data source does."""
    values: dict[str, str | list[str]] = {**builtin_variables(time_range), **(variables or {})}
    text = interpolate_variables(sql, values, sql=True)
    text = _MACRO.sub(
        lambda match: _expand_macro(
            match.group(1), [arg.strip() for arg in match.group(2).split(",")], time_range
        ),
        text,
    )
    if "$__" in text:
        raise ValueError(f"unexpanded macro left in query: {text}")
    return text


# ---------------------------------------------------------------- PromQL


def substitute_promql(
    expr: str, time_range: TimeRange, variables: Mapping[str, str | list[str]] | None = None
) -> str:
    values: dict[str, str | list[str]] = {**builtin_variables(time_range), **(variables or {})}
    return interpolate_variables(expr, values, sql=False)


def metric_names(expr: str) -> set[str]:
    """Every metric name a (substituted) PromQL expression selects; raises if it doesn't parse."""
    names: set[str] = set()

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(str(node.name))
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__":
                    if str(matcher.op) != "MatchOp.Equal":
                        raise ValueError(f"regex metric name cannot be checked: {expr}")
                    names.add(str(matcher.value))
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def is_exported(name: str, exported: Collection[str]) -> bool:
    """A histogram's `_bucket`/`_count`/`_sum` series count as the histogram itself."""
    if name in exported:
        return True
    return any(
        name.endswith(suffix) and name.removesuffix(suffix) in exported
        for suffix in HISTOGRAM_SUFFIXES
    )


def default_promql_variables(dashboard: Mapping[str, Any]) -> dict[str, str | list[str]]:
    """Values for a dashboard's Prometheus variables: its `All` regex, else its current value."""
    values: dict[str, str | list[str]] = {}
    for variable in variables_of(dashboard):
        if _is_postgres(variable):
            continue
        if variable.get("includeAll"):
            values[variable["name"]] = str(variable.get("allValue") or ".*")
        else:
            values[variable["name"]] = str(variable.get("current", {}).get("value", ""))
    return values


def unknown_metrics(
    dashboard: Mapping[str, Any],
    exported: Collection[str],
    time_range: TimeRange | None = None,
    external: Collection[str] = EXTERNAL_METRICS,
) -> list[str]:
    """Metrics a dashboard charts that are neither in `exported` nor external."""
    time_range = time_range or TimeRange(
        datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    )
    variables = default_promql_variables(dashboard)
    missing: list[str] = []
    for title, ref_id, expr in promql_targets(dashboard):
        for name in sorted(metric_names(substitute_promql(expr, time_range, variables))):
            if not is_exported(name, exported) and name not in external:
                missing.append(f"{dashboard.get('uid')}: {title} [{ref_id}]: {name}")
    return missing


def rule_expressions(rules: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(alert or record name, expr) of every rule in a Prometheus rules document."""
    for group in rules["groups"]:
        for rule in group["rules"]:
            yield str(rule.get("alert") or rule.get("record")), str(rule["expr"])


def rule_unknown_metrics(
    rules: Mapping[str, Any],
    exported: Collection[str],
    external: Collection[str] = EXTERNAL_METRICS,
) -> list[str]:
    """Metrics rules read that are not exported (recording-rule outputs count as exported)."""
    recorded = {
        str(rule["record"])
        for group in rules["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    missing: list[str] = []
    for name, expr in rule_expressions(rules):
        for metric in sorted(metric_names(expr)):
            if not (is_exported(metric, exported) or metric in external or metric in recorded):
                missing.append(f"{name}: {metric}")
    return missing


def scraped_metric_names(exposition: str) -> set[str]:
    """Sample names in a Prometheus text exposition (a service's `/metrics` body)."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        sample.name
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def contract_metric_names(path: Path = CONTRACT_FILE) -> set[str]:
    """The metric names of the contract list in docs/development.md."""
    text = path.read_text(encoding="utf-8")
    section = text.split("## Metric names", 1)[1]
    return set(re.findall(r"`(myhealth_[a-z0-9_]+)", section))


def default_time_range() -> TimeRange:
    end = datetime(2026, 8, 31, 21, 0, tzinfo=UTC)
    return TimeRange(end - timedelta(days=30), end)
