"""Realistic rows for the typed tables, and the API's expected answers computed from the same
rows in plain Python (independently of the SQL views).

`Dataset.load(conn)` writes them with plain SQL. When the pipeline (sandbox -> collect ->
processor) is available, a fixture can fill the database that way instead and build the same
`Dataset` from the stored rows; the expectations below only read the dataclasses.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import zoneinfo
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import psycopg

FIRST_DAY = dt.date(2025, 12, 20)
LAST_DAY = dt.date(2026, 3, 10)
USER_TIMEZONE = "America/New_York"


def round_half_away(value: float) -> int:
    """PostgreSQL's round(numeric): halves go away from zero (all our values are >= 0)."""
    return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass
class DailySleep:
    id: str
    day: dt.date
    score: int | None


@dataclass
class SleepPeriod:
    id: str
    day: dt.date
    type: str
    bedtime_start: dt.datetime
    bedtime_end: dt.datetime
    total_sleep_duration: int | None
    efficiency: int | None
    latency: int | None
    deep_sleep_duration: int | None
    light_sleep_duration: int | None
    rem_sleep_duration: int | None
    average_hrv: int | None
    lowest_heart_rate: int | None


@dataclass
class DailyActivity:
    id: str
    day: dt.date
    score: int | None
    steps: int | None
    total_calories: int | None
    active_calories: int | None
    high_activity_time: int | None
    medium_activity_time: int | None


@dataclass
class DailyReadiness:
    id: str
    day: dt.date
    score: int | None
    temperature_deviation: float | None


@dataclass
class HeartRate:
    timestamp: dt.datetime
    source: str
    bpm: int


@dataclass
class SyncRun:
    started_at: dt.datetime
    finished_at: dt.datetime | None
    status: str
    data_types: list[str]


@dataclass
class Dataset:
    daily_sleep: list[DailySleep] = field(default_factory=list)
    sleep_periods: list[SleepPeriod] = field(default_factory=list)
    daily_activity: list[DailyActivity] = field(default_factory=list)
    daily_readiness: list[DailyReadiness] = field(default_factory=list)
    heart_rate: list[HeartRate] = field(default_factory=list)
    sync_runs: list[SyncRun] = field(default_factory=list)

    # ---- writing -------------------------------------------------------------------------

    def load(self, conn: psycopg.Connection) -> None:
        tables: list[tuple[str, list[Any]]] = [
            ("daily_sleep", self.daily_sleep),
            ("sleep_periods", self.sleep_periods),
            ("daily_activity", self.daily_activity),
            ("daily_readiness", self.daily_readiness),
            ("heart_rate", self.heart_rate),
            ("sync_runs", self.sync_runs),
        ]
        with conn.cursor() as cursor:
            for table, rows in tables:
                if not rows:
                    continue
                columns = list(asdict(rows[0]))
                names = ", ".join(f'"{c}"' for c in columns)
                marks = ", ".join(["%s"] * len(columns))
                cursor.executemany(
                    f"INSERT INTO {table} ({names}) VALUES ({marks})",
                    [tuple(asdict(row).values()) for row in rows],
                )
        conn.commit()

    # ---- expectations (docs/architecture.md#the-daily-relations, docs/api.md; in Python) ----

    def main_periods(self) -> dict[dt.date, SleepPeriod]:
        chosen: dict[dt.date, SleepPeriod] = {}
        for kind in ("long_sleep", "sleep"):
            by_day: dict[dt.date, list[SleepPeriod]] = defaultdict(list)
            for period in self.sleep_periods:
                if period.type == kind and period.day not in chosen:
                    by_day[period.day].append(period)
            for day, periods in by_day.items():
                chosen[day] = max(
                    periods, key=lambda p: (p.total_sleep_duration or -1, p.bedtime_end)
                )
        return chosen

    def sleep_rows(self) -> dict[dt.date, dict[str, Any]]:
        scores = {d.day: d.score for d in self.daily_sleep}
        mains = self.main_periods()
        rows = {}
        for day in sorted(set(scores) | set(mains)):
            main = mains.get(day)
            rows[day] = {
                "date": day.isoformat(),
                "score": scores.get(day),
                "duration_seconds": main.total_sleep_duration if main else None,
                "efficiency": main.efficiency if main else None,
                "latency_minutes": (
                    round_half_away(main.latency / 60)
                    if main and main.latency is not None
                    else None
                ),
                "deep_sleep_seconds": main.deep_sleep_duration if main else None,
                "light_sleep_seconds": main.light_sleep_duration if main else None,
                "rem_sleep_seconds": main.rem_sleep_duration if main else None,
                "average_hrv": main.average_hrv if main else None,
                "lowest_heart_rate": main.lowest_heart_rate if main else None,
            }
        return rows

    def activity_rows(self) -> dict[dt.date, dict[str, Any]]:
        rows = {}
        for a in sorted(self.daily_activity, key=lambda a: a.day):
            active = None
            if a.high_activity_time is not None and a.medium_activity_time is not None:
                active = round_half_away((a.high_activity_time + a.medium_activity_time) / 60)
            rows[a.day] = {
                "date": a.day.isoformat(),
                "score": a.score,
                "steps": a.steps,
                "calories": a.total_calories,
                "active_calories": a.active_calories,
                "active_minutes": active,
            }
        return rows

    def readiness_rows(self) -> dict[dt.date, dict[str, Any]]:
        mains = self.main_periods()
        rows = {}
        for r in sorted(self.daily_readiness, key=lambda r: r.day):
            main = mains.get(r.day)
            rows[r.day] = {
                "date": r.day.isoformat(),
                "score": r.score,
                "hrv": main.average_hrv if main else None,
                "resting_hr": main.lowest_heart_rate if main else None,
                "temperature_deviation": r.temperature_deviation,
            }
        return rows

    def rows_between(self, relation: str, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
        rows = {
            "sleep": self.sleep_rows,
            "activity": self.activity_rows,
            "readiness": self.readiness_rows,
        }[relation]()
        return [row for day, row in sorted(rows.items()) if start <= day <= end]

    def dashboard(self) -> dict[str, Any]:
        relations = {
            "sleep": self.sleep_rows(),
            "activity": self.activity_rows(),
            "readiness": self.readiness_rows(),
        }
        days = [day for rows in relations.values() for day in rows]
        latest = max(days) if days else None

        def mean(rows: dict[dt.date, dict[str, Any]], days_back: int) -> float | None:
            assert latest is not None
            first = latest - dt.timedelta(days=days_back - 1)
            scores = [r["score"] for d, r in rows.items() if first <= d <= latest]
            present = [s for s in scores if s is not None]
            return statistics.fmean(present) if present else None

        def section(name: str, *extra: str) -> dict[str, Any]:
            rows = relations[name]
            today = rows.get(latest) if latest else None
            result: dict[str, Any] = {
                "score": today["score"] if today else None,
                "avg_7d": mean(rows, 7) if latest else None,
                "avg_30d": mean(rows, 30) if latest else None,
            }
            for key in extra:
                result[key] = today[key] if today else None
            return result

        last_sync = None
        if self.sync_runs:
            run = max(self.sync_runs, key=lambda r: r.started_at)
            finished = run.finished_at.astimezone(dt.UTC) if run.finished_at else None
            last_sync = {
                "finished_at": finished.isoformat().replace("+00:00", "Z") if finished else None,
                "status": run.status,
                "data_types": len(run.data_types),
            }
        return {
            "date": latest.isoformat() if latest else None,
            "sleep": section("sleep"),
            "activity": section("activity", "steps"),
            "readiness": section("readiness", "hrv", "resting_hr"),
            "last_sync": last_sync,
        }

    def trend_values(self, metric: str) -> list[tuple[dt.date, float]]:
        """(day, value) pairs the metric aggregates; heart rate: one pair per sample."""
        if metric == "heart_rate":
            zone = zoneinfo.ZoneInfo(USER_TIMEZONE)
            return [(h.timestamp.astimezone(zone).date(), h.bpm) for h in self.heart_rate]
        relation, column = {
            "sleep_score": ("sleep", "score"),
            "sleep_duration": ("sleep", "duration_seconds"),
            "activity_score": ("activity", "score"),
            "steps": ("activity", "steps"),
            "active_minutes": ("activity", "active_minutes"),
            "readiness_score": ("readiness", "score"),
            "hrv": ("readiness", "hrv"),
            "resting_hr": ("readiness", "resting_hr"),
            "temperature_deviation": ("readiness", "temperature_deviation"),
        }[metric]
        rows = {
            "sleep": self.sleep_rows,
            "activity": self.activity_rows,
            "readiness": self.readiness_rows,
        }[relation]()
        return [(d, r[column]) for d, r in rows.items() if r[column] is not None]

    def trend(self, metric: str, bucket: str, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
        def bucket_start(day: dt.date) -> dt.date:
            if bucket == "week":
                return day - dt.timedelta(days=day.weekday())  # Monday
            if bucket == "month":
                return day.replace(day=1)
            return day

        groups: dict[dt.date, list[float]] = defaultdict(list)
        for day, value in self.trend_values(metric):
            if start <= day <= end:
                groups[bucket_start(day)].append(float(value))
        return [
            {
                "start": key.isoformat(),
                "avg": statistics.fmean(values),
                "min": min(values),
                "max": max(values),
                "count": len(values),
            }
            for key, values in sorted(groups.items())
        ]


def build(seed: int = 7) -> Dataset:
    """~80 days of one person's data with the awkward cases the views must handle."""
    rng = random.Random(seed)
    data = Dataset()
    utc = dt.UTC
    day = FIRST_DAY
    index = 0
    while day <= LAST_DAY:
        index += 1
        night_end = dt.datetime.combine(day, dt.time(6, 30), utc) + dt.timedelta(
            minutes=rng.randint(-40, 40)
        )
        total = rng.randint(5 * 3600, 9 * 3600)
        deep = rng.randint(2400, 6000)
        rem = rng.randint(3600, 7200)
        # Latency in multiples of 30 s, so x.5-minute values test rounding half away.
        latency = rng.choice([30, 90, 150, 270, 300, 600, 930])
        missing_daily_sleep = index % 17 == 0  # the main period alone makes the row
        if not missing_daily_sleep:
            score = None if index % 23 == 0 else rng.randint(55, 95)
            data.daily_sleep.append(DailySleep(f"ds-{day}", day, score))

        if index % 13 == 0:
            kinds = ["sleep"]  # no long_sleep that day: the 'sleep' period is the main one
        elif index % 19 == 0:
            kinds = []  # no period at all: a daily_sleep row with null period columns
        else:
            kinds = ["long_sleep"]
        for n, kind in enumerate(kinds):
            data.sleep_periods.append(
                SleepPeriod(
                    id=f"sp-{day}-{n}",
                    day=day,
                    type=kind,
                    bedtime_start=night_end - dt.timedelta(seconds=total + 2000),
                    bedtime_end=night_end,
                    total_sleep_duration=total,
                    efficiency=rng.randint(75, 98),
                    latency=latency,
                    deep_sleep_duration=deep,
                    light_sleep_duration=total - deep - rem,
                    rem_sleep_duration=rem,
                    average_hrv=rng.randint(25, 90),
                    lowest_heart_rate=rng.randint(42, 62),
                )
            )
        if index % 7 == 0:  # a tie: two long_sleep periods, the later bedtime_end wins
            data.sleep_periods.append(
                SleepPeriod(
                    id=f"sp-{day}-tie",
                    day=day,
                    type="long_sleep",
                    bedtime_start=night_end - dt.timedelta(hours=12),
                    bedtime_end=night_end + dt.timedelta(hours=1 if index % 14 == 0 else -3),
                    total_sleep_duration=total,
                    efficiency=50,
                    latency=60,
                    deep_sleep_duration=1,
                    light_sleep_duration=2,
                    rem_sleep_duration=3,
                    average_hrv=11,
                    lowest_heart_rate=99,
                )
            )
        # Naps and rest are never the main period, even when longer than the night.
        for kind in ("late_nap", "rest", "deleted") if index % 5 == 0 else ():
            data.sleep_periods.append(
                SleepPeriod(
                    id=f"sp-{day}-{kind}",
                    day=day,
                    type=kind,
                    bedtime_start=night_end + dt.timedelta(hours=6),
                    bedtime_end=night_end + dt.timedelta(hours=16),
                    total_sleep_duration=10 * 3600,
                    efficiency=99,
                    latency=0,
                    deep_sleep_duration=100,
                    light_sleep_duration=100,
                    rem_sleep_duration=100,
                    average_hrv=150,
                    lowest_heart_rate=30,
                )
            )

        if index % 11 != 0:  # some days have no activity document
            data.daily_activity.append(
                DailyActivity(
                    id=f"da-{day}",
                    day=day,
                    score=None if index % 29 == 0 else rng.randint(50, 99),
                    steps=rng.randint(2000, 18000),
                    total_calories=rng.randint(1900, 3200),
                    active_calories=rng.randint(150, 1100),
                    # seconds; (high + medium) / 60 often ends in .5
                    high_activity_time=rng.choice([0, 30, 600, 1830]),
                    medium_activity_time=rng.choice([0, 60, 1200, 2430]),
                )
            )
        if index % 9 != 0:
            data.daily_readiness.append(
                DailyReadiness(
                    id=f"dr-{day}",
                    day=day,
                    score=None if index % 31 == 0 else rng.randint(50, 99),
                    temperature_deviation=round(rng.uniform(-0.8, 0.8), 2),
                )
            )
        day += dt.timedelta(days=1)

    # Heart rate: every 30 minutes over a week that spans a month edge; samples just after
    # midnight UTC belong to the previous day in New York.
    start = dt.datetime(2026, 1, 28, 0, 0, tzinfo=utc)
    for step in range(7 * 48):
        moment = start + dt.timedelta(minutes=30 * step)
        source = "awake" if 7 <= moment.hour <= 22 else "rest"
        data.heart_rate.append(HeartRate(moment, source, rng.randint(48, 120)))
    data.heart_rate.append(HeartRate(start, "workout", 150))  # same instant, other source

    data.sync_runs = [
        SyncRun(
            started_at=dt.datetime(2026, 3, 10, 8, 0, tzinfo=utc),
            finished_at=dt.datetime(2026, 3, 10, 8, 1, 30, tzinfo=utc),
            status="failed",
            data_types=["daily_sleep"],
        ),
        SyncRun(
            started_at=dt.datetime(2026, 3, 10, 8, 5, tzinfo=utc),
            finished_at=dt.datetime(2026, 3, 10, 8, 6, 12, 500000, tzinfo=utc),
            status="succeeded",
            data_types=["daily_sleep", "sleep", "daily_activity", "daily_readiness", "heartrate"],
        ),
    ]
    return data
