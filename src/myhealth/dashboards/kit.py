"""Building blocks of the dashboards: one function per panel kind, on Grafana's Foundation SDK.

Every option goes through the SDK's typed builders (enums, typed config objects), so a panel
option Grafana does not know is a mypy error here rather than a silently ignored JSON key. The
only untyped corners are the ones Grafana's own schema leaves open: data-source queries (our
SQL and PromQL targets below) and field overrides (`DynamicConfigValue`, an id and a value).

Time zones (docs/monitoring.md#time-zones): a daily value is stored as a `day` (a date in the
owner's zone). `local_midnight` turns it into the instant the day starts in the dashboard's
effective time zone (`${__timezone}`, which Grafana resolves to the dashboard's, the user's or
the browser's zone), so the point is drawn on that same day whatever the viewer's browser says.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, Self, TypeVar

from grafana_foundation_sdk.builders import (
    barchart,
    bargauge,
    piechart,
    stat,
    statetimeline,
    table,
    timeseries,
    trend,
)
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.cog import builder as cog_builder
from grafana_foundation_sdk.cog import variants as cog_variants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dashboard_models
from grafana_foundation_sdk.models import piechart as piechart_models

POSTGRES = common.DataSourceRef(type_val="grafana-postgresql-datasource", uid="myhealth-postgres")
PROMETHEUS = common.DataSourceRef(type_val="prometheus", uid="prometheus")

# The dashboard's effective time zone as Grafana substitutes it into a query. Grafana resolves
# "browser" to the browser's IANA zone; an empty value (never expected) falls back to UTC rather
# than failing the query.
TIME_ZONE = "COALESCE(NULLIF('${__timezone}', ''), 'UTC')"


def local_midnight(date_column: str) -> str:
    """SQL for the instant `date_column` (a date) begins in the dashboard's time zone."""
    return f"(({date_column})::timestamp AT TIME ZONE {TIME_ZONE})"


def latest_with_averages(relation: str, column: str) -> str:
    """SQL for a stat panel: `column`'s latest non-null value in the time range ("Latest"), and
    its means over the 7 and 30 days ending on that day."""
    return f"""\
WITH latest AS (
  SELECT max(date) AS day FROM {relation} WHERE $__timeFilter(date) AND {column} IS NOT NULL
)
SELECT
  (SELECT m.{column} FROM {relation} m, latest WHERE m.date = latest.day) AS "Latest",
  (SELECT round(avg(m.{column}), 1) FROM {relation} m, latest
    WHERE m.date > latest.day - 7 AND m.date <= latest.day) AS "7-day avg",
  (SELECT round(avg(m.{column}), 1) FROM {relation} m, latest
    WHERE m.date > latest.day - 30 AND m.date <= latest.day) AS "30-day avg"
"""


def local_clock(timestamp_column: str) -> str:
    """SQL for a clock time (bedtime, wake-up) as a value the `time:HH:mm` unit draws as HH:MM.

    The value is the epoch in milliseconds of that clock time on a fixed reference night in the
    dashboard's time zone: times from noon on fall on the evening of 1 January 2000, earlier ones
    on the morning of 2 January, so 23:30 lies below 00:30 on the axis and the line does not jump
    at midnight. Grafana formats the value in the same zone, which gives back the clock time.
    """
    local = f"({timestamp_column} AT TIME ZONE {TIME_ZONE})"
    return (
        f"(extract(epoch FROM ((CASE WHEN {local}::time >= time '12:00' THEN date '2000-01-01' "
        f"ELSE date '2000-01-02' END + {local}::time) AT TIME ZONE {TIME_ZONE})) * 1000)"
    )


CLOCK_UNIT = "time:HH:mm"


# ------------------------------------------------------------------------------- queries


class _Query(cog_variants.Dataquery):
    """A data-source query; Grafana's schema leaves its shape to the data source plugin."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload

    def to_json(self) -> dict[str, Any]:
        return self.payload


@dataclass(frozen=True)
class Sql(cog_builder.Builder[cog_variants.Dataquery]):
    """A raw SQL target of the PostgreSQL data source."""

    raw_sql: str
    time_series: bool = False
    ref_id: str = "A"

    def payload(self) -> dict[str, Any]:
        return {
            "datasource": POSTGRES.to_json(),
            "editorMode": "code",
            "format": "time_series" if self.time_series else "table",
            "rawQuery": True,
            "rawSql": textwrap.dedent(self.raw_sql).strip(),
            "refId": self.ref_id,
        }

    def build(self) -> cog_variants.Dataquery:
        return _Query(self.payload())


@dataclass(frozen=True)
class PromQL(cog_builder.Builder[cog_variants.Dataquery]):
    """A Prometheus target (range query unless `instant`)."""

    expr: str
    legend: str | None = None
    instant: bool = False
    ref_id: str = "A"

    def build(self) -> cog_variants.Dataquery:
        payload: dict[str, Any] = {
            "datasource": PROMETHEUS.to_json(),
            "editorMode": "code",
            "expr": textwrap.dedent(self.expr).strip(),
            "instant": self.instant,
            "range": not self.instant,
            "refId": self.ref_id,
        }
        if self.legend is not None:
            payload["legendFormat"] = self.legend
        return _Query(payload)


Target = Sql | PromQL


def _with_ref_ids(targets: Sequence[Target]) -> list[Target]:
    letters = "ABCDEFGH"
    out: list[Target] = []
    for index, target in enumerate(targets):
        if isinstance(target, Sql):
            out.append(Sql(target.raw_sql, target.time_series, letters[index]))
        else:
            out.append(PromQL(target.expr, target.legend, target.instant, letters[index]))
    return out


# ------------------------------------------------------------------------------- field options


@dataclass(frozen=True)
class Step:
    """A threshold step: from `value` on (None: the base), the colour."""

    color: str
    value: float | None = None


GREEN = (Step("green"),)
# Oura's score bands (pay attention / fair / good / optimal).
SCORE_STEPS = (Step("red"), Step("orange", 60), Step("green", 70), Step("dark-green", 85))


@dataclass(frozen=True)
class Override:
    """Field options for the series named `field` (the untyped part of Grafana's schema)."""

    field: str
    unit: str | None = None
    decimals: int | None = None
    min: float | None = None
    max: float | None = None
    color: str | None = None
    axis_right: bool = False
    bars: bool = False
    line: bool = False
    fill_opacity: int | None = None
    line_width: int | None = None
    fill_below_to: str | None = None
    mappings: dict[str, str] | None = None
    mapping_colors: dict[str, str] | None = None
    cell_type: str | None = None

    def properties(self) -> list[dashboard_models.DynamicConfigValue]:
        values: list[tuple[str, object]] = []
        for key, value in (
            ("unit", self.unit),
            ("decimals", self.decimals),
            ("min", self.min),
            ("max", self.max),
        ):
            if value is not None:
                values.append((key, value))
        if self.color is not None:
            values.append(("color", {"mode": "fixed", "fixedColor": self.color}))
        if self.axis_right:
            values.append(("custom.axisPlacement", "right"))
        if self.bars:
            values.append(("custom.drawStyle", "bars"))
        if self.line:
            values.append(("custom.drawStyle", "line"))
        if self.fill_opacity is not None:
            values.append(("custom.fillOpacity", self.fill_opacity))
        if self.line_width is not None:
            values.append(("custom.lineWidth", self.line_width))
        if self.fill_below_to is not None:
            values.append(("custom.fillBelowTo", self.fill_below_to))
        if self.mappings is not None or self.mapping_colors is not None:
            mapping = value_map(self.mappings or {}, self.mapping_colors)
            values.append(("mappings", [mapping.to_json()]))
        if self.cell_type is not None:
            values.append(("custom.cellOptions", {"type": self.cell_type}))
        return [
            dashboard_models.DynamicConfigValue(id_val=key, value=value) for key, value in values
        ]


def thresholds(steps: Sequence[Step]) -> dashboard_builders.ThresholdsConfig:
    return (
        dashboard_builders.ThresholdsConfig()
        .mode(dashboard_models.ThresholdsMode.ABSOLUTE)
        .steps([dashboard_models.Threshold(value=step.value, color=step.color) for step in steps])
    )


def value_map(
    texts: dict[str, str], colors: dict[str, str] | None = None
) -> dashboard_models.ValueMap:
    """Show values as texts and/or colours (keys: the raw values, in display order)."""
    colors = colors or {}
    keys = list(dict.fromkeys([*texts, *colors]))
    return dashboard_models.ValueMap(
        options={
            value: dashboard_models.ValueMappingResult(
                text=texts.get(value), color=colors.get(value), index=index
            )
            for index, value in enumerate(keys)
        }
    )


def _palette() -> dashboard_builders.FieldColor:
    return dashboard_builders.FieldColor().mode(dashboard_models.FieldColorModeId.PALETTE_CLASSIC)


def _by_thresholds() -> dashboard_builders.FieldColor:
    return dashboard_builders.FieldColor().mode(dashboard_models.FieldColorModeId.THRESHOLDS)


def _last_value() -> common_builders.ReduceDataOptions:
    return common_builders.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False)


def _legend(
    show: bool = True,
    table_mode: bool = False,
    right: bool = False,
    calcs: Sequence[str] = (),
) -> common_builders.VizLegendOptions:
    return (
        common_builders.VizLegendOptions()
        .show_legend(show)
        .display_mode(
            common.LegendDisplayMode.TABLE if table_mode else common.LegendDisplayMode.LIST
        )
        .placement(common.LegendPlacement.RIGHT if right else common.LegendPlacement.BOTTOM)
        .calcs(list(calcs))
    )


def _tooltip(multi: bool = True) -> common_builders.VizTooltipOptions:
    return (
        common_builders.VizTooltipOptions()
        .mode(common.TooltipDisplayMode.MULTI if multi else common.TooltipDisplayMode.SINGLE)
        .sort(common.SortOrder.NONE)
    )


@dataclass(frozen=True)
class Field:
    """The field options every panel kind shares."""

    unit: str | None = None
    decimals: int | None = None
    min: float | None = None
    max: float | None = None
    steps: Sequence[Step] = GREEN
    mappings: dict[str, str] | None = None
    mapping_colors: dict[str, str] | None = None
    overrides: Sequence[Override] = field(default_factory=tuple)


class _FieldOptions(Protocol):
    """The field-option setters every SDK panel builder has (typed, so mypy checks the calls)."""

    def thresholds(
        self, thresholds: cog_builder.Builder[dashboard_models.ThresholdsConfig]
    ) -> Self: ...
    def mappings(self, mappings: list[dashboard_models.ValueMapping]) -> Self: ...
    def unit(self, unit: str) -> Self: ...
    def decimals(self, decimals: float) -> Self: ...
    def min(self, min_val: float) -> Self: ...
    def max(self, max_val: float) -> Self: ...
    def override_by_name(
        self, name: str, properties: list[dashboard_models.DynamicConfigValue]
    ) -> Self: ...


_Panel = TypeVar("_Panel", bound=_FieldOptions)


def _apply_field(panel: _Panel, options: Field) -> _Panel:
    """Set the shared field options on any SDK panel builder."""
    panel = panel.thresholds(thresholds(options.steps))
    panel = panel.mappings(
        [value_map(options.mappings, options.mapping_colors)] if options.mappings else []
    )
    if options.unit is not None:
        panel = panel.unit(options.unit)
    if options.decimals is not None:
        panel = panel.decimals(options.decimals)
    if options.min is not None:
        panel = panel.min(options.min)
    if options.max is not None:
        panel = panel.max(options.max)
    for override in options.overrides:
        panel = panel.override_by_name(override.field, override.properties())
    return panel


# ------------------------------------------------------------------------------- panel kinds
# Each returns an SDK builder; `build` below gives it its id and place.


def stat_panel(
    title: str,
    description: str,
    targets: Sequence[Target],
    options: Field = Field(),
    *,
    background: bool = False,
    show_name: bool = False,
    name_only: bool = False,
    sparkline: bool = False,
) -> stat.Panel:
    text_mode = common.BigValueTextMode.AUTO
    if show_name:
        text_mode = common.BigValueTextMode.VALUE_AND_NAME
    if name_only:
        text_mode = common.BigValueTextMode.NAME
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(_datasource_of(targets))
        .targets(list(_with_ref_ids(targets)))
        .color_scheme(_by_thresholds())
        .reduce_options(_last_value())
        .color_mode(
            common.BigValueColorMode.BACKGROUND if background else common.BigValueColorMode.VALUE
        )
        .graph_mode(common.BigValueGraphMode.AREA if sparkline else common.BigValueGraphMode.NONE)
        .justify_mode(common.BigValueJustifyMode.AUTO)
        .orientation(common.VizOrientation.AUTO)
        .text_mode(text_mode)
        .wide_layout(True)
        .show_percent_change(False)
    )
    return _apply_field(panel, options)


def timeseries_panel(
    title: str,
    description: str,
    targets: Sequence[Target],
    options: Field = Field(),
    *,
    bars: bool = False,
    stacked: bool = False,
    fill_opacity: int | None = None,
    points: bool = False,
    linear: bool = False,
    threshold_style: common.GraphThresholdsStyleMode = common.GraphThresholdsStyleMode.OFF,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(_datasource_of(targets))
        .targets(list(_with_ref_ids(targets)))
        .color_scheme(_palette())
        .draw_style(common.GraphDrawStyle.BARS if bars else common.GraphDrawStyle.LINE)
        .line_interpolation(
            common.LineInterpolation.LINEAR if linear else common.LineInterpolation.SMOOTH
        )
        .line_width(2)
        .fill_opacity(fill_opacity if fill_opacity is not None else (80 if bars else 10))
        .show_points(common.VisibilityMode.ALWAYS if points else common.VisibilityMode.AUTO)
        .span_nulls(False)
        .stacking(
            common_builders.StackingConfig()
            .mode(common.StackingMode.NORMAL if stacked else common.StackingMode.NONE)
            .group("A")
        )
        .axis_placement(common.AxisPlacement.AUTO)
        .thresholds_style(common_builders.GraphThresholdsStyleConfig().mode(threshold_style))
        .legend(_legend())
        .tooltip(_tooltip())
    )
    return _apply_field(panel, options)


def table_panel(
    title: str, description: str, targets: Sequence[Target], options: Field = Field()
) -> table.Panel:
    panel = (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(_datasource_of(targets))
        .targets(list(_with_ref_ids(targets)))
        .color_scheme(_palette())
        .align(common.FieldTextAlignment.AUTO)
        .cell_options(common.TableAutoCellOptions())
        .show_header(True)
        .cell_height(common.TableCellHeight.SM)
    )
    return _apply_field(panel, options)


def bargauge_panel(
    title: str, description: str, targets: Sequence[Target], options: Field = Field()
) -> bargauge.Panel:
    panel = (
        bargauge.Panel()
        .title(title)
        .description(description)
        .datasource(_datasource_of(targets))
        .targets(list(_with_ref_ids(targets)))
        .color_scheme(_by_thresholds())
        .reduce_options(_last_value())
        .orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .show_unfilled(True)
        .value_mode(common.BarGaugeValueMode.COLOR)
        .name_placement(common.BarGaugeNamePlacement.AUTO)
        .sizing(common.BarGaugeSizing.AUTO)
        .min_viz_height(16)
        .min_viz_width(8)
        .max_viz_height(300)
    )
    return _apply_field(panel, options)


def state_timeline_panel(
    title: str, description: str, targets: Sequence[Target], options: Field = Field()
) -> statetimeline.Panel:
    panel = (
        statetimeline.Panel()
        .title(title)
        .description(description)
        .datasource(_datasource_of(targets))
        .targets(list(_with_ref_ids(targets)))
        .color_scheme(_by_thresholds())
        .fill_opacity(80)
        .line_width(0)
        .merge_values(True)
        .show_value(common.VisibilityMode.AUTO)
        .align_value(common.TimelineValueAlignment.LEFT)
        .row_height(0.8)
        .legend(_legend())
        .tooltip(_tooltip(multi=False))
    )
    return _apply_field(panel, options)


def donut_panel(
    title: str, description: str, targets: Sequence[Target], options: Field = Field()
) -> piechart.Panel:
    panel = (
        piechart.Panel()
        .title(title)
        .description(description)
        .datasource(_datasource_of(targets))
        .targets(list(_with_ref_ids(targets)))
        .color_scheme(_palette())
        .reduce_options(_last_value())
        .pie_type(piechart_models.PieChartType.DONUT)
        .display_labels([piechart_models.PieChartLabels.PERCENT])
        .legend(
            piechart.PieChartLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.RIGHT)
            .values(
                [
                    piechart_models.PieChartLegendValues.VALUE,
                    piechart_models.PieChartLegendValues.PERCENT,
                ]
            )
            .calcs([])
        )
        .tooltip(_tooltip(multi=False))
    )
    return _apply_field(panel, options)


def hypnogram_panel(
    title: str, description: str, targets: Sequence[Target], options: Field, x_field: str
) -> barchart.Panel:
    """Sleep stages as touching bars, one per 5 minutes, labelled by clock time."""
    panel = (
        barchart.Panel()
        .title(title)
        .description(description)
        .datasource(_datasource_of(targets))
        .targets(list(_with_ref_ids(targets)))
        .color_scheme(_by_thresholds())
        .x_field(x_field)
        .orientation(common.VizOrientation.VERTICAL)
        .bar_width(1)
        .group_width(1)
        .show_value(common.VisibilityMode.NEVER)
        .stacking(common.StackingMode.NONE)
        .x_tick_label_spacing(100)
        .x_tick_label_rotation(0)
        .fill_opacity(90)
        .line_width(0)
        .gradient_mode(common.GraphGradientMode.NONE)
        .axis_soft_min(0)
        .legend(_legend(show=False))
        .tooltip(_tooltip(multi=False))
    )
    return _apply_field(panel, options)


def trend_panel(
    title: str, description: str, targets: Sequence[Target], options: Field, x_field: str
) -> trend.Panel:
    """Series against a numeric x axis (not time), e.g. hours since bedtime."""
    panel = (
        trend.Panel()
        .title(title)
        .description(description)
        .datasource(_datasource_of(targets))
        .targets(list(_with_ref_ids(targets)))
        .color_scheme(_palette())
        .x_field(x_field)
        .draw_style(common.GraphDrawStyle.LINE)
        .line_interpolation(common.LineInterpolation.SMOOTH)
        .line_width(2)
        .fill_opacity(0)
        .show_points(common.VisibilityMode.NEVER)
        .span_nulls(True)
        .axis_placement(common.AxisPlacement.AUTO)
        .legend(_legend(calcs=("min", "mean")))
        .tooltip(_tooltip())
    )
    return _apply_field(panel, options)


def _datasource_of(targets: Sequence[Target]) -> common.DataSourceRef:
    return POSTGRES if all(isinstance(target, Sql) for target in targets) else PROMETHEUS


# ------------------------------------------------------------------------------- dashboards


class _SqlAnnotationTarget(dashboard_models.AnnotationTarget):
    """The SQL an annotation runs (columns time, timeend, text, tags), in the shape Grafana's
    PostgreSQL data source stores it; the SDK's AnnotationTarget models only tag queries."""

    def __init__(self, raw_sql: str) -> None:
        super().__init__()
        self.raw_sql = raw_sql

    def to_json(self) -> dict[str, object]:
        return Sql(self.raw_sql, ref_id="Anno").payload()


@dataclass(frozen=True)
class _AnnotationTargetBuilder(cog_builder.Builder[dashboard_models.AnnotationTarget]):
    raw_sql: str

    def build(self) -> dashboard_models.AnnotationTarget:
        return _SqlAnnotationTarget(self.raw_sql)


def sql_annotation(name: str, color: str, raw_sql: str) -> dashboard_builders.AnnotationQuery:
    """Events drawn on every time-series panel of the dashboard, from SQL."""
    return (
        dashboard_builders.AnnotationQuery()
        .name(name)
        .datasource(POSTGRES)
        .enable(True)
        .hide(False)
        .icon_color(color)
        .target(_AnnotationTargetBuilder(raw_sql))
    )


def builtin_annotation() -> dashboard_builders.AnnotationQuery:
    """Grafana's own annotations (those added by hand in the UI), as every new dashboard has."""
    return (
        dashboard_builders.AnnotationQuery()
        .name("Annotations & Alerts")
        .datasource(common.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
        .enable(True)
        .hide(True)
        .icon_color("rgba(0, 211, 255, 1)")
        .built_in(1)
        .type("dashboard")
    )


MYHEALTH_TAG = "myhealth"
TODAY_UID = "myhealth-today"


def standard_links(with_today: bool = True) -> list[dashboard_builders.DashboardLink]:
    """The *myHealth* menu (every dashboard tagged myhealth) and, on the others, *Today*."""
    links = [
        dashboard_builders.DashboardLink("myHealth")
        .type(dashboard_models.DashboardLinkType.DASHBOARDS)
        .tags([MYHEALTH_TAG])
        .as_dropdown(True)
        .icon("external link")
        .include_vars(False)
        .keep_time(True)
        .target_blank(False)
    ]
    if with_today:
        links.append(
            dashboard_builders.DashboardLink("Today")
            .type(dashboard_models.DashboardLinkType.LINK)
            .url(f"/d/{TODAY_UID}")
            .tooltip("Last night, today's readiness and activity: sized for a phone")
            .icon("dashboard")
            .as_dropdown(False)
            .include_vars(False)
            .keep_time(False)
            .target_blank(False)
        )
    return links


@dataclass(frozen=True)
class Place:
    """A panel and its size on the 24-column grid; panels flow left to right in a section."""

    panel: Any  # an SDK panel builder (they share grid_pos/id but no common base class)
    width: int
    height: int


@dataclass(frozen=True)
class Section:
    """A row title (None: no row header) and the panels under it; widths must fill whole lines."""

    title: str | None
    places: Sequence[Place]


@dataclass(frozen=True)
class Spec:
    uid: str
    title: str
    description: str
    tags: Sequence[str]
    sections: Sequence[Section]
    time_from: str = "now-30d"
    refresh: str = ""
    variables: Sequence[cog_builder.Builder[dashboard_models.VariableModel]] = ()
    annotations: Sequence[dashboard_builders.AnnotationQuery] = ()
    links: Sequence[dashboard_builders.DashboardLink] = field(default_factory=standard_links)


def build(spec: Spec) -> dict[str, Any]:
    """The dashboard as the JSON Grafana provisions: panels numbered and placed by the SDK."""
    board = (
        dashboard_builders.Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.description)
        .tags(list(spec.tags))
        .time(spec.time_from, "now")
        # Empty: the viewer's Grafana default, which Compose and the chart set to USER_TIMEZONE.
        .timezone("")
        .readonly()
        .tooltip(dashboard_models.DashboardCursorSync.CROSSHAIR)
        .week_start("monday")
        .refresh(spec.refresh)
        .links(list(spec.links))
        .annotations([builtin_annotation(), *spec.annotations])
    )
    for variable in spec.variables:
        board = board.with_variable(variable)
    panel_id = 0
    for section in spec.sections:
        if section.title is not None:
            panel_id += 1
            board = board.with_row(dashboard_builders.Row(section.title).id(panel_id))
        line = 0
        for place in section.places:
            panel_id += 1
            panel = place.panel.id(panel_id).grid_pos(
                dashboard_models.GridPos(h=place.height, w=place.width)
            )
            board = board.with_panel(panel)
            line += place.width
            if line > 24:
                raise ValueError(f"{spec.uid}/{section.title}: a line is wider than 24 columns")
            line %= 24
        if line:
            raise ValueError(f"{spec.uid}/{section.title}: the last line is not 24 columns wide")
    built = board.build()
    payload: dict[str, Any] = json.loads(json.dumps(built, cls=JSONEncoder))
    return payload


# ------------------------------------------------------------------------------- variables


def sql_variable(name: str, label: str, raw_sql: str) -> dashboard_builders.QueryVariable:
    """A drop-down filled by SQL, refreshed when the time range changes; first value selected."""
    return (
        dashboard_builders.QueryVariable(name)
        .label(label)
        .datasource(POSTGRES)
        .query(raw_sql)
        .refresh(dashboard_models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dashboard_models.VariableSort.DISABLED)
        .include_all(False)
        .multi(False)
    )


def choice_variable(
    name: str, label: str, values: Sequence[str], default: str
) -> dashboard_builders.CustomVariable:
    """A fixed list of choices (Grafana's custom variable)."""
    return (
        dashboard_builders.CustomVariable(name)
        .label(label)
        .values(",".join(values))
        .current(dashboard_models.VariableOption(selected=True, text=default, value=default))
        .options(
            [
                dashboard_models.VariableOption(selected=value == default, text=value, value=value)
                for value in values
            ]
        )
        .include_all(False)
        .multi(False)
    )


def prometheus_label_variable(
    name: str, label: str, metric: str, label_name: str
) -> dashboard_builders.QueryVariable:
    """Every value of a Prometheus label, multi-select with All (matching any value)."""
    return (
        dashboard_builders.QueryVariable(name)
        .label(label)
        .datasource(PROMETHEUS)
        .query(f"label_values({metric}, {label_name})")
        .refresh(dashboard_models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dashboard_models.VariableSort.ALPHABETICAL_ASC)
        .include_all(True)
        .multi(True)
        .all_value(".*")
        .current(dashboard_models.VariableOption(selected=True, text=["All"], value=["$__all"]))
    )
