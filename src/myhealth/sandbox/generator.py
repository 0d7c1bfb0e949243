"""Deterministic synthetic Oura data for one person.

Everything is a pure function of `(seed, day)`: each day draws from its own random stream, and
slow trends are smooth functions of the day number, so any single day can be produced without
generating the days before it. Per-day results are memoised, which keeps five years of every
data type to a few seconds.

The person lives in `home_zone` (Europe/Helsinki unless told otherwise, so DST changes happen
twice a year) and spends a week each March in `trip_zone` (America/New_York), across the US
DST switch. Sleep `day` is the wake-up day; daily_activity covers 04:00 → 04:00 local.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

Document = dict[str, Any]

UTC = dt.UTC
DEFAULT_HOME_ZONE = "Europe/Helsinki"
DEFAULT_TRIP_ZONE = "America/New_York"
DEFAULT_FIRST_DAY = dt.date(2021, 1, 1)
# Documents of these days look like Dec-2024 recordings: keys added to the spec later are absent.
MODERN_KEYS_SINCE = dt.date(2025, 1, 1)

DATED_TYPES = (
    "daily_activity",
    "daily_cardiovascular_age",
    "daily_readiness",
    "daily_resilience",
    "daily_sleep",
    "daily_spo2",
    "daily_stress",
    "enhanced_tag",
    "rest_mode_period",
    "session",
    "sleep",
    "sleep_time",
    "tag",
    "vo2_max",
    "workout",
)

# Per-minute jitter inside a 5-minute block of MET values (cheap and deterministic).
_JITTER = [[((i * 31 + k * 17) % 11 - 5) / 20 for k in range(5)] for i in range(7)]
_RESTING_BLOCK = (0.9, 0.9, 0.9, 0.9, 0.9)
# Ten 30-second movement codes per 5-minute sleep phase: 1 still .. 4 active.
_MOVEMENT = {"1": "1111111111", "2": "1111112111", "3": "1111111111", "4": "2312243122"}
_WORKOUT_PEAK = {"easy": 115, "moderate": 140, "hard": 160}
_WORKOUT_MET = {"easy": 4.5, "moderate": 7.0, "hard": 9.5}


@lru_cache(maxsize=512)
def _met_block(met: float) -> tuple[float, ...]:
    """Five one-minute MET values around a block's level."""
    return tuple(max(1.0, round(met + n, 1)) for n in _JITTER[int(met * 10) % 7])


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _after(moment: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    """`moment + delta` in elapsed time (aware arithmetic in one zone is wall-clock time)."""
    return (moment.astimezone(UTC) + delta).astimezone(moment.tzinfo)


def _iso(moment: dt.datetime) -> str:
    """`2024-10-10T01:01:59+02:00`: the document timestamp form (no fractional seconds)."""
    return moment.isoformat(timespec="seconds")


def _iso_ms(moment: dt.datetime) -> str:
    """`2024-10-10T01:01:59.000+02:00`: the form used inside samples."""
    return moment.isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Period:
    """A sleep period (in absolute time) and its 5-minute hypnogram."""

    kind: str  # long_sleep | sleep | late_nap | rest | deleted
    start: dt.datetime
    end: dt.datetime
    phases: str  # one char per 5 min: 1 deep, 2 light, 3 REM, 4 awake

    @property
    def time_in_bed(self) -> int:
        return int(self.end.timestamp() - self.start.timestamp())


@dataclass(frozen=True)
class Workout:
    activity: str
    intensity: str
    start: dt.datetime
    end: dt.datetime
    calories: float
    distance: float | None


@dataclass(frozen=True)
class Day:
    """The latent state of one day, from which every document of that day is derived."""

    day: dt.date
    zone: zoneinfo.ZoneInfo
    revision: int
    periods: tuple[Period, ...]  # sleep periods whose `day` is this day
    workouts: tuple[Workout, ...]
    sleep_score: int
    readiness_score: int
    activity_score: int
    resting_hr: float
    hrv: float
    steps: int
    temperature_deviation: float
    stress: float  # 0..1

    @property
    def main_sleep(self) -> Period | None:
        longs = [p for p in self.periods if p.kind == "long_sleep"]
        return longs[0] if longs else None


class Person:
    """One synthetic Oura user. `documents(type, day)` is deterministic for a given seed."""

    def __init__(
        self,
        seed: int = 42,
        *,
        home_zone: str = DEFAULT_HOME_ZONE,
        trip_zone: str = DEFAULT_TRIP_ZONE,
        first_day: dt.date = DEFAULT_FIRST_DAY,
    ) -> None:
        self.seed = seed
        self.home_zone = zoneinfo.ZoneInfo(home_zone)
        self.trip_zone = zoneinfo.ZoneInfo(trip_zone)
        self.first_day = first_day
        digest = hashlib.sha256(f"person/{seed}".encode()).digest()
        self._phases = [int.from_bytes(digest[i : i + 2], "big") / 65535 * 2 * math.pi
                        for i in range(3, 23, 2)]  # fmt: skip
        # Memoise per instance (lru_cache on methods would pin every Person forever).
        self._day_cached: Callable[[dt.date, int], Day] = lru_cache(maxsize=8192)(self._make_day)
        self._documents_cached: Callable[[str, dt.date, int], tuple[Document, ...]] = lru_cache(
            maxsize=2048
        )(self._make_documents)
        self._heart_rate_cached: Callable[[dt.date], tuple[Document, ...]] = lru_cache(maxsize=64)(
            self._make_heart_rate
        )

    # ----------------------------------------------------------------- public interface

    def documents(self, data_type: str, day: dt.date, revision: int = 0) -> list[Document]:
        """Documents of `data_type` that belong to `day` (their `day`/`start_day`).

        `revision` > 0 gives the same documents (same ids) with re-analysed content, the way
        Oura revises recent days.
        """
        if data_type not in DATED_TYPES:
            raise ValueError(f"{data_type!r} is not a dated data type")
        if day < self.first_day:
            return []
        return [dict(doc) for doc in self._documents_cached(data_type, day, revision)]

    def heart_rate(self, utc_day: dt.date) -> list[Document]:
        """Heart-rate rows whose UTC `timestamp` falls on `utc_day`, in time order."""
        if utc_day < self.first_day:
            return []
        return list(self._heart_rate_cached(utc_day))

    def personal_info(self) -> Document:
        return {
            "id": self._uuid("personal_info"),
            "age": 38,
            "weight": 72.5,
            "height": 1.78,
            "biological_sex": "male",
            "email": f"sandbox.user+{self.seed}@example.com",
        }

    def ring_configurations(self) -> list[Document]:
        return [
            {
                "id": self._uuid("ring/1"),
                "color": "stealth_black",
                "design": "heritage",
                "firmware_version": "2.9.21",
                "hardware_type": "gen3",
                "set_up_at": "1970-01-01T00:00:00+00:00",  # the epoch placeholder of old rings
                "size": 10,
            },
            {
                "id": self._uuid("ring/2"),
                "color": "titanium",
                "design": "horizon",
                "firmware_version": "3.1.8",
                "hardware_type": "gen4",
                "set_up_at": "2024-05-14T16:02:11+00:00",
                "size": 10,
            },
        ]

    def zone(self, day: dt.date) -> zoneinfo.ZoneInfo:
        """The zone the person lives in on `day`."""
        start = self.trip_start(day.year)
        if start <= day < start + dt.timedelta(days=8):
            return self.trip_zone
        return self.home_zone

    @staticmethod
    def trip_start(year: int) -> dt.date:
        """The yearly trip starts the Wednesday before the US DST switch (2nd Sunday of March)."""
        march_first = dt.date(year, 3, 1)
        first_sunday = march_first + dt.timedelta(days=(6 - march_first.weekday()) % 7)
        return first_sunday + dt.timedelta(days=7 - 4)

    def wake_time(self, day: dt.date) -> dt.datetime | None:
        """When the main sleep filed under `day` ended (None if there was none)."""
        main = self.day_state(day).main_sleep
        return main.end if main else None

    def day_state(self, day: dt.date, revision: int = 0) -> Day:
        return self._day_cached(day, revision)

    def document_id(self, data_type: str, day: dt.date, index: int) -> str:
        """A UUID-shaped id that encodes (day, index) so single-document routes can find it."""
        digest = hashlib.sha256(f"{self.seed}/{data_type}/{day.toordinal()}/{index}".encode())
        h = digest.hexdigest()
        tail = (day.toordinal() ^ self._mask(data_type)) & 0xFFFFFF
        variant = "89ab"[int(h[16], 16) % 4]
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{tail:06x}{index:02x}{h[20:24]}"

    def _mask(self, data_type: str) -> int:
        digest = hashlib.sha256(f"{self.seed}/{data_type}".encode()).digest()
        return int.from_bytes(digest[:3], "big")

    def decode_id(self, data_type: str, document_id: str) -> tuple[dt.date, int] | None:
        """The (day, index) an id was made from, or None if it cannot be one of ours."""
        parts = document_id.split("-")
        if len(parts) != 5 or len(parts[4]) != 12:
            return None
        try:
            ordinal = (int(parts[4][:6], 16) ^ self._mask(data_type)) & 0xFFFFFF
            index = int(parts[4][6:8], 16)
            day = dt.date.fromordinal(ordinal)
        except ValueError:
            return None
        return day, index

    # ----------------------------------------------------------------- latent model

    def _rng(self, *parts: object) -> random.Random:
        return random.Random("/".join(str(p) for p in (self.seed, *parts)))  # noqa: S311

    def _uuid(self, name: str) -> str:
        h = hashlib.sha256(f"{self.seed}/{name}".encode()).hexdigest()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"

    def _trend(self, day: dt.date, which: int) -> float:
        """A slow, smooth wave in [-1, 1] (periods of a few weeks to a few months)."""
        n = day.toordinal()
        a = self._phases[which % len(self._phases)]
        b = self._phases[(which + 5) % len(self._phases)]
        return 0.6 * math.sin(n / 97.0 * 2 * math.pi + a) + 0.4 * math.sin(
            n / 23.0 * 2 * math.pi + b
        )

    def _make_day(self, day: dt.date, revision: int) -> Day:
        rng = self._rng("day", day.toordinal())
        zone = self.zone(day)
        weekday = day.weekday()  # 0 = Monday
        weekend_morning = weekday in (5, 6)  # woke on Sat/Sun after a late night
        on_trip = zone is self.trip_zone or self.zone(day - dt.timedelta(days=1)) is self.trip_zone

        sleep_hours = _clamp(
            7.2
            + 0.45 * self._trend(day, 0)
            + (0.45 if weekend_morning else 0.0)
            + rng.gauss(0, 0.4),
            6.0,
            8.5,
        )
        efficiency = _clamp(0.89 + 0.03 * self._trend(day, 1) + rng.gauss(0, 0.025), 0.8, 0.97)
        bedtime_minutes = 23 * 60 + rng.gauss(0, 30) + (55 if weekend_morning else 0)
        if on_trip:
            bedtime_minutes += rng.choice((-90, -60, 60, 120))  # jet lag
        no_night = day > self.first_day and rng.random() < 0.02
        # Revisions re-analyse the day: content has its own stream, so the structure (which
        # periods and workouts exist, hence the ids) stays the same.
        content = self._rng("content", day.toordinal(), revision)

        periods: list[Period] = []
        if not no_night:
            tib = int(sleep_hours / efficiency * 3600) + content.randint(-240, 240)
            previous_evening = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(), zone)
            start = previous_evening + dt.timedelta(
                minutes=bedtime_minutes, seconds=rng.randint(0, 59)
            )
            start = start.astimezone(UTC).astimezone(zone)  # normalise across DST gaps
            phases = _hypnogram(content, tib, efficiency)
            periods.append(
                Period("long_sleep", start, _after(start, dt.timedelta(seconds=tib)), phases)
            )
        for kind, probability, hour in (
            ("sleep", 0.12, 14),  # a confirmed nap
            ("rest", 0.03, 16),  # falsely detected, rejected by the user
            ("deleted", 0.02, 13),
            ("late_nap", 0.03, 19),  # ended after 6 pm the day before: counts toward this day
        ):
            if rng.random() < probability:
                nap_day = day - dt.timedelta(days=1) if kind == "late_nap" else day
                nap_start = dt.datetime.combine(nap_day, dt.time(hour, rng.randint(0, 59)), zone)
                nap_tib = rng.randint(18, 80) * 60 + rng.randint(0, 59)
                phases = _hypnogram(content, nap_tib, 0.8, nap=True)
                periods.append(
                    Period(
                        kind, nap_start, _after(nap_start, dt.timedelta(seconds=nap_tib)), phases
                    )
                )

        workouts: list[Workout] = []
        count = 0 if rng.random() < 0.45 else (2 if rng.random() < 0.12 else 1)
        for index in range(count):
            activity, intensity, speed, kcal_per_min = rng.choice(_ACTIVITIES)
            hour = rng.choice((7, 12, 17, 18)) if index == 0 else 19
            start = dt.datetime.combine(day, dt.time(hour, rng.randint(0, 59)), zone)
            minutes = rng.randint(25, 75)
            distance = round(speed * minutes * 60 * rng.uniform(0.9, 1.1), 1) if speed else None
            workouts.append(
                Workout(
                    activity,
                    intensity,
                    start,
                    _after(start, dt.timedelta(minutes=minutes, seconds=rng.randint(0, 59))),
                    round(kcal_per_min * minutes * rng.uniform(0.85, 1.15), 1),
                    distance,
                )
            )

        resting_hr = _clamp(53 + 4 * self._trend(day, 2) + rng.gauss(0, 1.5), 47, 63)
        hrv = _clamp(50 + 14 * self._trend(day, 3) + rng.gauss(0, 6), 28, 76)
        if on_trip:
            resting_hr = min(63, resting_hr + 3)
            hrv = max(28, hrv - 8)
        steps = int(
            _clamp(
                9000
                + 3500 * self._trend(day, 4)
                + (1500 if weekday == 5 else -800 if weekday == 6 else 0)
                + 1800 * len(workouts)
                + rng.gauss(0, 2200),
                3000,
                18000,
            )
        )
        base_score = 76 + 7 * self._trend(day, 5) + (3 if weekend_morning else -1)
        sleep_score = round(
            _clamp(base_score + (sleep_hours - 7.2) * 6 + content.gauss(0, 4), 55, 95)
        )
        readiness = round(
            _clamp(base_score + (hrv - 50) / 3 - (resting_hr - 53) + content.gauss(0, 4), 55, 95)
        )
        activity_score = round(_clamp(72 + (steps - 9000) / 600 + rng.gauss(0, 5), 55, 95))
        return Day(
            day=day,
            zone=zone,
            revision=revision,
            periods=tuple(periods),
            workouts=tuple(workouts),
            sleep_score=sleep_score,
            readiness_score=readiness,
            activity_score=activity_score,
            resting_hr=resting_hr,
            hrv=hrv,
            steps=steps,
            temperature_deviation=round(rng.gauss(0, 0.25) + (0.6 if on_trip else 0.0), 2),
            stress=_clamp(0.35 + 0.2 * self._trend(day, 6) + rng.gauss(0, 0.15), 0.0, 1.0),
        )

    # ----------------------------------------------------------------- documents

    def _make_documents(self, data_type: str, day: dt.date, revision: int) -> tuple[Document, ...]:
        state = self.day_state(day, revision)
        make = getattr(self, f"_doc_{data_type}")
        docs: list[Document] = make(state)
        return tuple(docs)

    def _midnight(self, state: Day) -> dt.datetime:
        return dt.datetime.combine(state.day, dt.time(), state.zone)

    def _modern(self, day: dt.date) -> bool:
        return day >= MODERN_KEYS_SINCE

    def _readiness_contributors(self, state: Day) -> dict[str, int | None]:
        rng = self._rng("readiness", state.day.toordinal(), state.revision)
        previous = self.day_state(state.day - dt.timedelta(days=1))
        contributors: dict[str, int | None] = {
            "activity_balance": round(_clamp(80 + rng.gauss(0, 8), 40, 100)),
            "body_temperature": round(_clamp(98 - abs(state.temperature_deviation) * 30, 40, 100)),
            "hrv_balance": round(_clamp(60 + state.hrv * 0.6 + rng.gauss(0, 5), 20, 100)),
            "previous_day_activity": round(
                _clamp(previous.activity_score + rng.gauss(0, 4), 20, 100)
            ),
            "previous_night": round(_clamp(state.sleep_score + rng.gauss(0, 5), 20, 100))
            if state.main_sleep
            else None,
            "recovery_index": round(_clamp(70 + rng.gauss(0, 12), 10, 100)),
            "resting_heart_rate": round(_clamp(100 - (state.resting_hr - 48) * 2.5, 20, 100)),
            "sleep_balance": round(_clamp(82 + rng.gauss(0, 8), 30, 100)),
        }
        if self._modern(state.day):
            contributors["sleep_regularity"] = round(_clamp(80 + rng.gauss(0, 10), 20, 100))
        if state.day - self.first_day < dt.timedelta(days=14):
            contributors["hrv_balance"] = None  # needs two weeks of history
        return contributors

    def _doc_daily_readiness(self, state: Day) -> list[Document]:
        rng = self._rng("readiness-t", state.day.toordinal())
        trend = round(state.temperature_deviation * 0.4 + rng.gauss(0, 0.05), 2)
        return [
            {
                "id": self.document_id("daily_readiness", state.day, 0),
                "contributors": self._readiness_contributors(state),
                "day": state.day.isoformat(),
                "score": state.readiness_score,
                "temperature_deviation": state.temperature_deviation,
                "temperature_trend_deviation": trend
                if state.day - self.first_day >= dt.timedelta(days=7)
                else None,
                "timestamp": _iso(self._midnight(state)),
            }
        ]

    def _doc_daily_sleep(self, state: Day) -> list[Document]:
        main = state.main_sleep
        contributors: dict[str, int | None]
        if main is None:
            contributors = dict.fromkeys(
                (
                    "deep_sleep",
                    "efficiency",
                    "latency",
                    "rem_sleep",
                    "restfulness",
                    "timing",
                    "total_sleep",
                )
            )
            score = None
        else:
            durations = _stage_durations(main.phases, main.time_in_bed)
            total = durations["1"] + durations["2"] + durations["3"]
            latency = _latency(main.phases)
            bedtime_hour = main.start.hour + main.start.minute / 60
            rng = self._rng("daily_sleep", state.day.toordinal(), state.revision)
            contributors = {
                "deep_sleep": round(_clamp(durations["1"] / 60 / 90 * 100, 20, 100)),
                "efficiency": round(_clamp(total / main.time_in_bed * 100 + 4, 20, 100)),
                "latency": round(_clamp(100 - abs(latency / 60 - 12) * 3, 20, 100)),
                "rem_sleep": round(_clamp(durations["3"] / 60 / 105 * 100, 20, 100)),
                "restfulness": round(_clamp(70 + rng.gauss(0, 10), 20, 100)),
                "timing": round(_clamp(100 - abs((bedtime_hour + 12) % 24 - 11) * 25, 10, 100)),
                "total_sleep": round(_clamp(total / 3600 / 8 * 100, 20, 100)),
            }
            score = state.sleep_score
        return [
            {
                "id": self.document_id("daily_sleep", state.day, 0),
                "contributors": contributors,
                "day": state.day.isoformat(),
                "score": score,
                "timestamp": _iso(self._midnight(state)),
            }
        ]

    def _doc_sleep(self, state: Day) -> list[Document]:
        docs = []
        rng = self._rng("sleep", state.day.toordinal(), state.revision)
        numbering = self._rng("sleep-period", state.day.toordinal())
        period_number = 0
        for index, period in enumerate(state.periods):
            period_number += 1 if numbering.random() < 0.85 else 2  # Oura's numbers have gaps
            docs.append(self._sleep_document(state, index, period_number - 1, period, rng))
        return docs

    def _sleep_document(
        self, state: Day, index: int, period_number: int, period: Period, rng: random.Random
    ) -> Document:
        tib = period.time_in_bed
        durations = _stage_durations(period.phases, tib)
        total = durations["1"] + durations["2"] + durations["3"]
        short = tib < 45 * 60
        zone = period.start.tzinfo
        rhr = state.resting_hr + (6 if period.kind != "long_sleep" else 0)
        heart_rate: Document | None = None
        hrv: Document | None = None
        hr_items: list[float | None] = []
        hrv_items: list[float | None] = []
        if not short:
            for i, phase in enumerate(period.phases):
                depth = math.sin(math.pi * i / len(period.phases))
                if rng.random() < 0.04:
                    hr_items.append(None)
                    hrv_items.append(None)
                    continue
                bump = 6.0 if phase == "4" else 0.0
                hr_items.append(float(round(rhr + 9 - 7 * depth + bump + rng.gauss(0, 1.0))))
                hrv_items.append(
                    float(
                        round(_clamp(state.hrv * (0.62 + 0.55 * depth) + rng.gauss(0, 6), 5, 150))
                    )
                )
            heart_rate = {"interval": 300.0, "items": hr_items, "timestamp": _iso_ms(period.start)}
            hrv = {"interval": 300.0, "items": hrv_items, "timestamp": _iso_ms(period.start)}
        hr_values = [v for v in hr_items if v is not None]
        hrv_values = [v for v in hrv_items if v is not None]
        # 30-second movement: still in deep and REM sleep, restless now and then in light
        # sleep, tossing and turning or active while awake.
        movement = "".join(
            _MOVEMENT[phase][shift:] + _MOVEMENT[phase][:shift]
            for phase, shift in zip(period.phases, _shifts(rng, len(period.phases)), strict=True)
        )[: math.ceil(tib / 30)]
        phases_30 = "".join(p * 10 for p in period.phases)[: math.ceil(tib / 30)]
        is_main = period.kind == "long_sleep"
        doc: Document = {
            "id": self.document_id("sleep", state.day, index),
            "average_breath": round(_clamp(14.5 + rng.gauss(0, 0.6), 11, 19), 3),
            "average_heart_rate": round(sum(hr_values) / len(hr_values), 3) if hr_values else None,
            "average_hrv": round(sum(hrv_values) / len(hrv_values)) if hrv_values else None,
            "awake_time": durations["4"],
            "bedtime_end": _iso(period.end.astimezone(zone)),
            "bedtime_start": _iso(period.start),
            "day": state.day.isoformat(),
            "deep_sleep_duration": durations["1"],
            "efficiency": round(total / tib * 100) if tib else None,
            "heart_rate": heart_rate,
            "hrv": hrv,
            "latency": _latency(period.phases),
            "light_sleep_duration": durations["2"],
            "low_battery_alert": rng.random() < 0.02,
            "lowest_heart_rate": round(min(hr_values)) if hr_values else None,
            "movement_30_sec": movement,
            "period": period_number,
            "readiness": {
                "contributors": self._readiness_contributors(state),
                "score": state.readiness_score,
                "temperature_deviation": state.temperature_deviation,
                "temperature_trend_deviation": None,
            }
            if is_main
            else None,
            "readiness_score_delta": None if is_main else rng.randint(0, 3),
            "rem_sleep_duration": durations["3"],
            "restless_periods": rng.randint(80, 320) if is_main else rng.randint(0, 40),
            "sleep_phase_5_min": period.phases,
            "sleep_score_delta": None if is_main else rng.randint(0, 4),
            "time_in_bed": tib,
            "total_sleep_duration": total,
            "type": period.kind,
        }
        if self._modern(state.day):
            doc["sleep_algorithm_version"] = "v2"
            doc["sleep_analysis_reason"] = (
                "bedtime_edit" if state.revision else "foreground_sleep_analysis"
            )
            doc["sleep_phase_30_sec"] = phases_30
            doc["app_sleep_phase_5_min"] = period.phases
            doc["ring_id"] = self._uuid("ring/2")
        else:
            doc["sleep_algorithm_version"] = "v1"
        return doc

    def _doc_sleep_time(self, state: Day) -> list[Document]:
        rng = self._rng("sleep_time", state.day.toordinal())
        offset = state.zone.utcoffset(self._midnight(state).replace(tzinfo=None))
        day_tz = int(offset.total_seconds()) if offset else 0
        doc: Document = {
            "id": self.document_id("sleep_time", state.day, 0),
            "day": state.day.isoformat(),
        }
        if state.day - self.first_day < dt.timedelta(days=10):
            doc.update(optimal_bedtime=None, recommendation=None, status="not_enough_nights")
        else:
            start = -3600 + rng.choice((-900, 0, 900))
            doc.update(
                optimal_bedtime={
                    "day_tz": day_tz,
                    "end_offset": start + 3600,
                    "start_offset": start,
                },
                recommendation=rng.choice(
                    ("follow_optimal_bedtime", "earlier_bedtime", "improve_efficiency")
                ),
                status="optimal_found",
            )
        return [doc]

    def _doc_daily_activity(self, state: Day) -> list[Document]:
        rng = self._rng("activity", state.day.toordinal(), state.revision)
        start = dt.datetime.combine(state.day, dt.time(4), state.zone)
        start_utc = start.astimezone(UTC)
        start_epoch = start_utc.timestamp()
        # What each 5-minute block of the activity day is: asleep, working out, or awake.
        block_kind: list[str | None] = [None] * 288
        for other in (state.day, state.day + dt.timedelta(days=1)):
            for period in self.day_state(other).periods:
                if period.kind in ("long_sleep", "sleep", "late_nap"):
                    _mark(block_kind, period.start, period.end, start_epoch, "sleep")
        for workout in state.workouts:
            _mark(block_kind, workout.start, workout.end, start_epoch, workout.intensity)
        # Ring off for a while (charging) now and then: class '0'.
        if rng.random() < 0.25:
            first = rng.randrange(150, 200)
            block_kind[first : first + 9] = ["off"] * 9
        walk_chance = 0.08 * state.steps / 9000
        block_met: list[float] = []
        classes: list[str] = []
        items: list[float] = []
        for kind in block_kind:
            if kind == "sleep" or kind == "off":
                block_met.append(0.9)
                classes.append("1" if kind == "sleep" else "0")
                items += _RESTING_BLOCK
                continue
            r = rng.random()
            if kind is not None:
                met = _WORKOUT_MET[kind] + 2 * r - 1
            elif r < walk_chance:
                met = 3.0 + 2 * r / walk_chance
            elif r < 0.45:
                met = 1.6 + 1.3 * (r - walk_chance) / (0.45 - walk_chance)
            else:
                met = 1.0 + (r - 0.45)
            met = round(met, 1)
            block_met.append(met)
            classes.append("2" if met < 1.6 else "3" if met < 3.0 else "4" if met < 6.0 else "5")
            items += _met_block(met)
        class_5_min = "".join(classes)
        seconds = {c: class_5_min.count(c) * 300 for c in "012345"}

        def met_minutes(low: float, high: float) -> int:
            return round(sum(v * 5 for v in block_met if low <= v < high))

        weight = 72.5
        active_calories = round(sum(max(0.0, v - 1.0) * 5 for v in block_met) * 3.5 * weight / 200)
        target_meters = 10000
        walking = round(state.steps * 0.74)
        doc: Document = {
            "id": self.document_id("daily_activity", state.day, 0),
            "class_5_min": class_5_min,
            "score": state.activity_score,
            "active_calories": active_calories,
            "average_met_minutes": round(sum(items) / len(items), 3),
            "contributors": {
                "meet_daily_targets": round(_clamp(60 + active_calories / 15, 1, 100)),
                "move_every_hour": round(_clamp(100 - rng.randint(0, 3) * 15, 1, 100)),
                "recovery_time": round(_clamp(95 + rng.gauss(0, 4), 1, 100)),
                "stay_active": round(_clamp(100 - seconds["2"] / 3600 * 5, 1, 100)),
                "training_frequency": round(
                    _clamp(70 + 10 * len(state.workouts) + rng.gauss(0, 8), 1, 100)
                ),
                "training_volume": round(_clamp(75 + rng.gauss(0, 10), 1, 100)),
            },
            "day": state.day.isoformat(),
            "equivalent_walking_distance": walking,
            "high_activity_met_minutes": met_minutes(6.0, 99.0),
            "high_activity_time": seconds["5"],
            "inactivity_alerts": rng.choice((0, 0, 0, 1, 2)),
            "low_activity_met_minutes": met_minutes(1.6, 3.0),
            "low_activity_time": seconds["3"],
            "medium_activity_met_minutes": met_minutes(3.0, 6.0),
            "medium_activity_time": seconds["4"],
            "met": {"interval": 60.0, "items": items, "timestamp": _iso_ms(start)},
            "meters_to_target": max(0, target_meters - walking),
            "non_wear_time": seconds["0"],
            "resting_time": seconds["1"],
            "sedentary_met_minutes": met_minutes(0.0, 1.6) // 10,
            "sedentary_time": seconds["2"],
            "steps": state.steps,
            "target_calories": 500,
            "target_meters": target_meters,
            "timestamp": _iso(start),
            "total_calories": 1750 + active_calories,
        }
        if rng.random() < 0.03:
            del doc["class_5_min"]  # an optional key that is sometimes simply absent
        return [doc]

    def _doc_daily_stress(self, state: Day) -> list[Document]:
        rng = self._rng("stress", state.day.toordinal(), state.revision)
        stress_high = int(state.stress * 4 * 3600) // 900 * 900
        recovery_high = int((1 - state.stress) * 3 * 3600) // 900 * 900
        summary = (
            "stressful" if state.stress > 0.6 else "restored" if state.stress < 0.25 else "normal"
        )
        return [
            {
                "id": self.document_id("daily_stress", state.day, 0),
                "day": state.day.isoformat(),
                "day_summary": summary if rng.random() > 0.05 else None,
                "recovery_high": recovery_high,
                "stress_high": stress_high,
            }
        ]

    def _doc_daily_spo2(self, state: Day) -> list[Document]:
        rng = self._rng("spo2", state.day.toordinal())
        has_night = state.main_sleep is not None
        return [
            {
                "id": self.document_id("daily_spo2", state.day, 0),
                "breathing_disturbance_index": rng.randint(0, 12) if has_night else None,
                "day": state.day.isoformat(),
                "spo2_percentage": {"average": round(_clamp(97.2 + rng.gauss(0, 0.8), 93, 100), 3)}
                if has_night
                else None,
            }
        ]

    def _doc_daily_resilience(self, state: Day) -> list[Document]:
        rng = self._rng("resilience", state.day.toordinal())
        sleep_recovery = round(_clamp(state.sleep_score + rng.gauss(0, 6), 0, 100), 1)
        daytime = round(_clamp((1 - state.stress) * 80 + rng.gauss(0, 8), 0, 100), 1)
        stress = round(_clamp(100 - state.stress * 90 + rng.gauss(0, 5), 0, 100), 1)
        mean = (sleep_recovery + daytime + stress) / 3
        levels = ("limited", "adequate", "solid", "strong", "exceptional")
        return [
            {
                "id": self.document_id("daily_resilience", state.day, 0),
                "day": state.day.isoformat(),
                "contributors": {
                    "sleep_recovery": sleep_recovery,
                    "daytime_recovery": daytime,
                    "stress": stress,
                },
                "level": levels[min(4, max(0, int((mean - 40) / 12)))],
            }
        ]

    def _doc_daily_cardiovascular_age(self, state: Day) -> list[Document]:
        rng = self._rng("cva", state.day.toordinal())
        years = (state.day - self.first_day).days / 365.25
        vascular_age = round(34 + years * 0.6 + 1.5 * self._trend(state.day, 7) + rng.gauss(0, 0.5))
        if not self._modern(state.day):
            # Real Dec-2024 responses: no id, no pulse_wave_velocity.
            return [{"day": state.day.isoformat(), "vascular_age": vascular_age}]
        return [
            {
                "id": self.document_id("daily_cardiovascular_age", state.day, 0),
                "day": state.day.isoformat(),
                "pulse_wave_velocity": round(_clamp(7.1 + rng.gauss(0, 0.25), 5.5, 9.5), 2),
                "vascular_age": vascular_age,
            }
        ]

    def _doc_vo2_max(self, state: Day) -> list[Document]:
        rng = self._rng("vo2", state.day.toordinal())
        if rng.random() > 0.18:
            return []
        years = (state.day - self.first_day).days / 365.25
        return [
            {
                "id": self.document_id("vo2_max", state.day, 0),
                "day": state.day.isoformat(),
                "timestamp": _iso(self._midnight(state)),
                "vo2_max": round(
                    _clamp(
                        43 - years * 0.3 + 2 * self._trend(state.day, 8) + rng.gauss(0, 0.7), 30, 55
                    )
                ),
            }
        ]

    def _doc_workout(self, state: Day) -> list[Document]:
        rng = self._rng("workout", state.day.toordinal(), state.revision)
        docs = []
        for index, workout in enumerate(state.workouts):
            # Now and then a record carries +00:00 instead of the local offset (seen live).
            as_utc = rng.random() < 0.05
            start = workout.start.astimezone(UTC) if as_utc else workout.start
            end = workout.end.astimezone(UTC if as_utc else workout.start.tzinfo)
            docs.append(
                {
                    "id": self.document_id("workout", state.day, index),
                    "activity": workout.activity,
                    "calories": workout.calories,
                    "day": state.day.isoformat(),
                    "distance": workout.distance,
                    "end_datetime": _iso(end),
                    "intensity": workout.intensity,
                    "label": None,
                    "source": rng.choice(
                        ("autodetected", "confirmed", "manual", "workout_heart_rate")
                    ),
                    "start_datetime": _iso(start),
                }
            )
        return docs

    def _doc_session(self, state: Day) -> list[Document]:
        rng = self._rng("session", state.day.toordinal())
        if rng.random() > 0.15:
            return []
        kind = rng.choice(("meditation", "breathing", "relaxation", "meditation"))
        start = dt.datetime.combine(
            state.day, dt.time(rng.choice((8, 13, 21)), rng.randint(0, 59)), state.zone
        )
        minutes = rng.randint(5, 20)
        count = minutes * 12

        def sample(base: float, spread: float) -> Document:
            return {
                "interval": 5.0,
                "items": [
                    None if rng.random() < 0.02 else round(base + rng.gauss(0, spread), 1)
                    for _ in range(count)
                ],
                "timestamp": _iso_ms(start),
            }

        return [
            {
                "id": self.document_id("session", state.day, 0),
                "day": state.day.isoformat(),
                "start_datetime": _iso(start),
                "end_datetime": _iso(_after(start, dt.timedelta(minutes=minutes))),
                "type": kind,
                "heart_rate": sample(state.resting_hr + 6, 2.0),
                "heart_rate_variability": sample(state.hrv, 8.0) if rng.random() < 0.8 else None,
                "mood": rng.choice(("good", "great", "same", None)),
                "motion_count": {
                    "interval": 5.0,
                    "items": [float(rng.choice((0, 0, 0, 1, 2))) for _ in range(count)],
                    "timestamp": _iso_ms(start),
                },
            }
        ]

    def _doc_enhanced_tag(self, state: Day) -> list[Document]:
        rng = self._rng("enhanced_tag", state.day.toordinal())
        docs = []
        for index in range(rng.choice((0, 0, 0, 1, 1, 2))):
            code, custom, hours = rng.choice(_TAGS)
            start = dt.datetime.combine(
                state.day, dt.time(rng.randint(7, 21), rng.randint(0, 59)), state.zone
            )
            end = _after(start, dt.timedelta(hours=hours)) if hours else None
            docs.append(
                {
                    "id": self.document_id("enhanced_tag", state.day, index),
                    "tag_type_code": code,
                    "start_time": _iso(start),
                    "end_time": _iso(end) if end else None,
                    "start_day": state.day.isoformat(),
                    "end_day": end.date().isoformat() if end else None,
                    "comment": rng.choice((None, None, None, "felt fine")),
                    "custom_name": custom,
                }
            )
        return docs

    def _doc_tag(self, state: Day) -> list[Document]:
        rng = self._rng("tag", state.day.toordinal())
        if rng.random() > 0.06:
            return []
        moment = dt.datetime.combine(
            state.day, dt.time(rng.randint(8, 22), rng.randint(0, 59)), state.zone
        )
        return [
            {
                "id": self.document_id("tag", state.day, 0),
                "day": state.day.isoformat(),
                "text": rng.choice((None, "late dinner", "coffee after 4pm")),
                "timestamp": _iso(moment),
                "tags": [rng.choice(("coffee", "alcohol", "late_meal", "sauna"))],
            }
        ]

    def _doc_rest_mode_period(self, state: Day) -> list[Document]:
        rng = self._rng("rest_mode", state.day.toordinal())
        if rng.random() > 1 / 120:
            return []
        start = dt.datetime.combine(
            state.day, dt.time(rng.randint(8, 20), rng.randint(0, 59)), state.zone
        )
        end = _after(start, dt.timedelta(days=rng.randint(2, 4), hours=rng.randint(0, 6)))
        return [
            {
                "id": self.document_id("rest_mode_period", state.day, 0),
                "end_day": end.date().isoformat(),
                "end_time": _iso(end),
                "episodes": [
                    {"tags": ["tag_generic_fever"], "timestamp": _iso_ms(start)},
                    {
                        "tags": ["tag_generic_tiredness"],
                        "timestamp": _iso_ms(start + dt.timedelta(days=1)),
                    },
                ],
                "start_day": state.day.isoformat(),
                "start_time": _iso(start),
            }
        ]

    # ----------------------------------------------------------------- heart rate

    def _make_heart_rate(self, utc_day: dt.date) -> tuple[Document, ...]:
        rng = self._rng("hr", utc_day.toordinal())
        begin = int(dt.datetime.combine(utc_day, dt.time(), UTC).timestamp())
        # What the person is doing in each 5-minute slot of the UTC day.
        slot_source = ["awake"] * 288
        workouts: list[tuple[int, int, str]] = []
        for offset in (-1, 0, 1, 2):
            state = self.day_state(utc_day + dt.timedelta(days=offset))
            for period in state.periods:
                if period.kind == "deleted":
                    continue
                source = "sleep" if period.kind in ("long_sleep", "sleep", "late_nap") else "rest"
                first = max(0, (int(period.start.timestamp()) - begin) // 300)
                last = min(288, (int(period.end.timestamp()) - begin) // 300)
                for slot in range(first, last):
                    slot_source[slot] = source
            for w in state.workouts:
                a, b = int(w.start.timestamp()) - begin, int(w.end.timestamp()) - begin
                if b > 0 and a < 86400:
                    workouts.append((max(0, a), min(86400, b), w.intensity))
        for _ in range(rng.randint(1, 3)):  # ring off the finger for a while
            first = rng.randrange(288)
            for slot in range(first, min(288, first + rng.randint(4, 18))):
                slot_source[slot] = ""
        rhr = self.day_state(utc_day).resting_hr
        prefix = utc_day.isoformat() + "T"
        noise = [rng.random() * 6 - 3 for _ in range(64)]
        rows: list[Document] = []
        second = rng.randint(0, 299)
        awake_level = 18.0
        k = 0
        while second < 86400:
            k += 1
            workout = (
                next((w for w in workouts if w[0] <= second < w[1]), None) if workouts else None
            )
            if workout is not None:
                a, b, intensity = workout
                peak = _WORKOUT_PEAK[intensity]
                while second < b:  # denser while working out
                    ramp = min(1.0, (second - a) / 300)
                    bpm = rhr + 25 + (peak - rhr - 25) * ramp + noise[second % 64]
                    rows.append(_hr_row(begin, prefix, second, bpm, "workout"))
                    second += 10 + (second % 3) * 5
                continue
            source = slot_source[second // 300]
            if source == "awake":
                awake_level = min(40.0, max(8.0, awake_level + noise[k % 64]))
                bpm = rhr + awake_level
            elif source:
                bpm = rhr + 3 + noise[k % 64] / 2
            else:
                second += 300
                continue
            hours, rest = divmod(second, 3600)
            minutes, seconds = divmod(rest, 60)
            rows.append(
                {
                    "bpm": round(bpm),
                    "source": source,
                    "timestamp": f"{prefix}{hours:02d}:{minutes:02d}:{seconds:02d}+00:00",
                    "timestamp_unix": (begin + second) * 1000,
                }
            )
            second += 300
        return tuple(rows)


def _hr_row(begin: int, prefix: str, second: int, bpm: float, source: str) -> Document:
    hours, rest = divmod(second, 3600)
    minutes, seconds = divmod(rest, 60)
    return {
        "bpm": round(_clamp(bpm, 38, 195)),
        "source": source,
        "timestamp": f"{prefix}{hours:02d}:{minutes:02d}:{seconds:02d}+00:00",
        "timestamp_unix": (begin + second) * 1000,
    }


_ACTIVITIES = (
    # activity, intensity, speed m/s (None: no distance), kcal per minute
    ("walking", "easy", 1.4, 4.5),
    ("running", "hard", 2.9, 11.0),
    ("cycling", "moderate", 6.0, 8.5),
    ("strengthTraining", "moderate", None, 6.0),
    ("yoga", "easy", None, 3.5),
    ("hiking", "moderate", 1.2, 6.5),
)

_TAGS = (
    # tag_type_code, custom_name, duration hours (0: a moment)
    ("tag_generic_caffeine", None, 0),
    ("tag_generic_alcohol", None, 0),
    ("tag_generic_late_meal", None, 0),
    ("tag_generic_sauna", None, 1),
    ("tag_generic_stress", None, 0),
    ("custom", "Cold plunge", 0),
)


def _shifts(rng: random.Random, count: int) -> list[int]:
    return [rng.randrange(10) for _ in range(count)]


def _mark(
    blocks: list[str | None], start: dt.datetime, end: dt.datetime, epoch: float, kind: str
) -> None:
    """Label the 5-minute blocks (from `epoch`) that [start, end) covers."""
    first = max(0, int((start.timestamp() - epoch) // 300))
    last = min(len(blocks), int((end.timestamp() - epoch) // 300))
    for block in range(first, last):
        blocks[block] = kind


def _hypnogram(
    rng: random.Random, time_in_bed: int, efficiency: float, *, nap: bool = False
) -> str:
    """One char per started 5 minutes of `time_in_bed`, in sleep cycles of about 90 minutes."""
    length = math.ceil(time_in_bed / 300)
    latency = rng.randint(1, 3)
    phases: list[str] = ["4"] * latency
    cycle = 0
    while len(phases) < length - 1:
        # Deep sleep early in the night, REM growing towards the morning.
        deep = max(0, (7 if not nap else 3) - 2 * cycle + rng.randint(-1, 1))
        rem = min(5, 1 + cycle + rng.randint(0, 1)) if not nap else rng.randint(0, 1)
        light = rng.randint(4, 7) + rng.randint(2, 4)
        phases += ["2"] * (light // 2) + ["1"] * deep + ["2"] * (light - light // 2) + ["3"] * rem
        cycle += 1
    phases = [*phases[: length - 1], "4"]
    # Brief awakenings until the awake share matches the night's efficiency.
    wanted_awake = max(latency + 1, round(length * (1 - efficiency)))
    inner = list(range(latency, length - 1))
    rng.shuffle(inner)
    for position in inner:
        if phases.count("4") >= wanted_awake:
            break
        phases[position] = "4"
    return "".join(phases[:length])


def _stage_durations(phases: str, time_in_bed: int) -> dict[str, int]:
    """Seconds per stage; the last (partial) slot gets the remainder, so they sum to tib."""
    durations = dict.fromkeys("1234", 0)
    for phase in phases[:-1]:
        durations[phase] += 300
    if phases:
        durations[phases[-1]] += time_in_bed - 300 * (len(phases) - 1)
    return durations


def _latency(phases: str) -> int:
    awake = len(phases) - len(phases.lstrip("4"))
    return awake * 300
