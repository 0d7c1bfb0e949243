"""Panels that draw a metric in front of the owner's usual range (the insights' baselines).

The range is the baseline median ± 2 MAD of the 60 days before each day, as stored by the
processor in `insight_metrics` (docs/architecture.md#insights); the same 2 MAD is the distance
at which the health flags start counting (docs/monitoring.md#baseline-bands).
"""

from __future__ import annotations

from dataclasses import dataclass

from .kit import Field, Override, Place, Section, Sql, local_midnight, timeseries_panel

BAND_COLOR = "#8AB8FF"
LOWER = "Usual − 2 MAD"
UPPER = "Usual + 2 MAD"
MEDIAN = "Usual"


@dataclass(frozen=True)
class Band:
    """One insight metric (a name of `insight_metrics.metric`) and how to draw it."""

    metric: str
    label: str
    unit: str  # a Grafana unit
    description: str
    decimals: int | None = None


def band_panel(band: Band) -> object:
    sql = f"""\
            SELECT {local_midnight("date")} AS "time", value AS "{band.label}",
                   baseline_median AS "{MEDIAN}",
                   baseline_median - 2 * baseline_mad AS "{LOWER}",
                   baseline_median + 2 * baseline_mad AS "{UPPER}"
            FROM insight_metrics
            WHERE metric = '{band.metric}' AND $__timeFilter(date)
            ORDER BY 1
            """
    return timeseries_panel(
        f"{band.label} and your usual range",
        f"{band.description} The band is your usual range: the median of the 60 days before "
        "each day ± 2 MAD (median absolute deviation); it appears after 14 days of history.",
        [Sql(sql, time_series=True)],
        Field(
            unit=band.unit,
            decimals=band.decimals,
            overrides=(
                Override(LOWER, color=BAND_COLOR, line_width=0, fill_opacity=0),
                Override(
                    UPPER,
                    color=BAND_COLOR,
                    line_width=0,
                    fill_opacity=25,
                    fill_below_to=LOWER,
                ),
                Override(MEDIAN, color=BAND_COLOR, line_width=1, fill_opacity=0),
            ),
        ),
        points=True,
    )


def section(bands: list[Band]) -> Section:
    """The bands two to a line; an odd last one takes the whole line."""
    places = []
    for index, band in enumerate(bands):
        alone = index == len(bands) - 1 and len(bands) % 2 == 1
        places.append(Place(band_panel(band), 24 if alone else 12, 8))
    return Section("Compared with your usual", places)
