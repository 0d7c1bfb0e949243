"""Realistic Oura-shaped rows for the dashboard tests, written straight into the typed tables.

The ingest pipeline (collector -> processor -> typed tables) is being built in parallel, so
for now the dashboards are exercised against rows inserted here. `fill` is the only entry
point the tests use: swap its body for "run the sandbox and a collector backfill" once the
pipeline exists, and every dashboard test keeps working unchanged.

The data is deterministic (seeded) and internally consistent the way Oura's is: stage
durations are derived from the 5-minute hypnogram string, efficiency from time in bed, the
lowest heart rate from the night's samples, activity times add up to a day.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from myhealth.insights import store as insights_store
from myhealth.oura.catalog import ALL_NAMES

FIVE_MINUTES = 300
SLEEP_CONTRIBUTORS = (
    *("deep_sleep", "efficiency", "latency", "rem_sleep"),
    *("restfulness", "timing", "total_sleep"),
)
READINESS_CONTRIBUTORS = (
    *("activity_balance", "body_temperature", "hrv_balance", "previous_day_activity"),
    *("previous_night", "recovery_index", "resting_heart_rate", "sleep_balance"),
)
ACTIVITY_CONTRIBUTORS = (
    *("meet_daily_targets", "move_every_hour", "recovery_time"),
    *("stay_active", "training_frequency", "training_volume"),
)


@dataclass(frozen=True)
class SampleRange:
    """The days that hold data; the dashboards are evaluated over this range."""

    last_day: date
    days: int

    @property
    def first_day(self) -> date:
        return self.last_day - timedelta(days=self.days - 1)

    def each_day(self) -> list[date]:
        return [self.first_day + timedelta(days=offset) for offset in range(self.days)]

    @property
    def time_from(self) -> datetime:
        return datetime.combine(self.first_day, time(), UTC)

    @property
    def time_to(self) -> datetime:
        # "now" is the evening of the last day, as when someone opens Grafana after dinner.
        return datetime.combine(self.last_day, time(21, 0), UTC)


def _hypnogram(rng: random.Random) -> str:
    """One night as Oura's sleep_phase_5_min: 1 deep, 2 light, 3 REM, 4 awake."""
    phases = ["4"] * rng.randint(1, 4)  # sleep latency
    cycles = rng.randint(5, 6)
    for cycle in range(cycles):
        deep = max(1, rng.randint(6, 10) - 2 * cycle)
        rem = rng.randint(2, 4) + cycle
        light = rng.randint(8, 12)
        phases += ["2"] * (light // 2) + ["1"] * deep + ["2"] * (light - light // 2) + ["3"] * rem
        if rng.random() < 0.35:
            phases += ["4"] * rng.randint(1, 2)
    phases += ["4"] * rng.randint(0, 2)
    return "".join(phases)


def _samples(start: datetime, values: list[float | None]) -> dict[str, Any]:
    return {"interval": float(FIVE_MINUTES), "items": values, "timestamp": start.isoformat()}


def _night(
    day: date, rng: random.Random, baseline_hr: float, baseline_hrv: float
) -> dict[str, Any]:
    phases = _hypnogram(rng)
    bedtime_start = datetime.combine(day - timedelta(days=1), time(22, 15), UTC) + timedelta(
        minutes=rng.randint(-40, 75)
    )
    in_bed = len(phases) * FIVE_MINUTES
    counts = {stage: phases.count(stage) * FIVE_MINUTES for stage in "1234"}
    total = counts["1"] + counts["2"] + counts["3"]
    latency = (len(phases) - len(phases.lstrip("4"))) * FIVE_MINUTES
    heart_rate: list[float | None] = []
    hrv: list[float | None] = []
    for index, stage in enumerate(phases):
        dip = 6 * (1 - abs(index / len(phases) - 0.4) * 2)  # lowest around 40 % of the night
        awake = 8 if stage == "4" else 0
        heart_rate.append(round(baseline_hr + 4 - dip + awake + rng.uniform(-1.5, 1.5), 1))
        hrv.append(round(baseline_hrv + dip * 2 - awake + rng.uniform(-6, 6), 1))
    heart_rate[rng.randrange(len(heart_rate))] = (
        None  # Oura leaves gaps where the ring lost contact
    )
    measured_hr = [value for value in heart_rate if value is not None]
    measured_hrv = [value for value in hrv if value is not None]
    return {
        "id": f"sleep-{day.isoformat()}",
        "day": day,
        "type": "long_sleep",
        "period": 0,
        "bedtime_start": bedtime_start,
        "bedtime_end": bedtime_start + timedelta(seconds=in_bed),
        "time_in_bed": in_bed,
        "total_sleep_duration": total,
        "awake_time": counts["4"],
        "light_sleep_duration": counts["2"],
        "deep_sleep_duration": counts["1"],
        "rem_sleep_duration": counts["3"],
        "latency": latency,
        "efficiency": round(100 * total / in_bed),
        "average_breath": round(rng.uniform(13.5, 15.5), 3),
        "average_heart_rate": round(sum(measured_hr) / len(measured_hr), 3),
        "lowest_heart_rate": int(min(measured_hr)),
        "average_hrv": round(sum(measured_hrv) / len(measured_hrv)),
        "restless_periods": rng.randint(80, 320),
        "low_battery_alert": False,
        "readiness_score_delta": None,
        "sleep_score_delta": None,
        "sleep_algorithm_version": "v2",
        "sleep_analysis_reason": "foreground_sleep_analysis",
        "sleep_phase_5_min": phases,
        "sleep_phase_30_sec": None,
        "app_sleep_phase_5_min": phases,
        "movement_30_sec": None,
        "heart_rate": Jsonb(_samples(bedtime_start, heart_rate)),
        "hrv": Jsonb(_samples(bedtime_start, hrv)),
        "readiness": None,
        "ring_id": "ring-1",
    }


def _nap(day: date, rng: random.Random) -> dict[str, Any]:
    """A short daytime rest: stored, never the main sleep period."""
    start = datetime.combine(day, time(14, 0), UTC) + timedelta(minutes=rng.randint(0, 60))
    phases = "4" + "2" * rng.randint(3, 6)
    duration = len(phases) * FIVE_MINUTES
    return {
        "id": f"rest-{day.isoformat()}",
        "day": day,
        "type": "rest",
        "period": 1,
        "bedtime_start": start,
        "bedtime_end": start + timedelta(seconds=duration),
        "time_in_bed": duration,
        "total_sleep_duration": duration - FIVE_MINUTES,
        "awake_time": FIVE_MINUTES,
        "light_sleep_duration": duration - FIVE_MINUTES,
        "deep_sleep_duration": 0,
        "rem_sleep_duration": 0,
        "latency": FIVE_MINUTES,
        "efficiency": 80,
        "lowest_heart_rate": 58,
        "average_hrv": 40,
        "sleep_phase_5_min": phases,
    }


def _insert(conn: psycopg.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    quoted = ", ".join(f'"{column}"' for column in columns)
    placeholders = ", ".join(f"%({column})s" for column in columns)
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({placeholders})", rows)


def _score(rng: random.Random, center: float, spread: float) -> int:
    return max(35, min(99, round(rng.gauss(center, spread))))


def _contributors(rng: random.Random, names: tuple[str, ...]) -> Jsonb:
    return Jsonb({name: _score(rng, 78, 12) for name in names})


def fill(conn: psycopg.Connection, sample: SampleRange, seed: int = 7) -> None:
    """Insert `sample.days` days of one person's Oura data plus collector bookkeeping."""
    rng = random.Random(seed)
    nights: list[dict[str, Any]] = []
    naps: list[dict[str, Any]] = []
    daily_sleep: list[dict[str, Any]] = []
    readiness: list[dict[str, Any]] = []
    activity: list[dict[str, Any]] = []
    spo2: list[dict[str, Any]] = []
    stress: list[dict[str, Any]] = []
    resilience: list[dict[str, Any]] = []
    workouts: list[dict[str, Any]] = []
    sessions: list[dict[str, Any]] = []
    cardio: list[dict[str, Any]] = []
    vo2: list[dict[str, Any]] = []
    sleep_time: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []

    baseline_hr, baseline_hrv = 52.0, 48.0
    for index, day in enumerate(sample.each_day()):
        noon = datetime.combine(day, time(12), UTC)
        baseline_hr += rng.uniform(-0.4, 0.4)
        baseline_hrv += rng.uniform(-1.2, 1.2)
        night = _night(day, rng, baseline_hr, baseline_hrv)
        nights.append(night)
        if index % 9 == 4:
            naps.append(_nap(day, rng))
        sleep_score = _score(rng, 60 + night["total_sleep_duration"] / 1200, 5)
        daily_sleep.append(
            {
                "id": f"daily-sleep-{day}",
                "day": day,
                "score": sleep_score,
                "timestamp": datetime.combine(day, time(), UTC),
                "contributors": _contributors(rng, SLEEP_CONTRIBUTORS),
            }
        )
        readiness.append(
            {
                "id": f"readiness-{day}",
                "day": day,
                "score": _score(rng, (sleep_score + 80) / 2, 6),
                "timestamp": datetime.combine(day, time(), UTC),
                "temperature_deviation": round(rng.gauss(0, 0.25), 2),
                "temperature_trend_deviation": round(rng.gauss(0, 0.15), 2),
                "contributors": _contributors(rng, READINESS_CONTRIBUTORS),
            }
        )
        high = rng.randint(0, 40) * 60
        medium = rng.randint(10, 80) * 60
        low = rng.randint(120, 300) * 60
        non_wear = rng.choice([0, 0, 0, 1800, 3600])
        resting = night["time_in_bed"] + rng.randint(30, 90) * 60
        sedentary = 86400 - high - medium - low - non_wear - resting
        steps = int(low / 60 * 25 + medium / 60 * 90 + high / 60 * 140)
        active_calories = int(low / 60 * 2.2 + medium / 60 * 5.5 + high / 60 * 9.5)
        activity.append(
            {
                "id": f"activity-{day}",
                "day": day,
                "score": _score(rng, 80, 8),
                "timestamp": datetime.combine(day, time(4), UTC),
                "steps": steps,
                "total_calories": 1850 + active_calories,
                "active_calories": active_calories,
                "target_calories": 450,
                "equivalent_walking_distance": int(steps * 0.78),
                "meters_to_target": max(0, 8000 - int(steps * 0.78)),
                "target_meters": 8000,
                "high_activity_time": high,
                "medium_activity_time": medium,
                "low_activity_time": low,
                "sedentary_time": sedentary,
                "resting_time": resting,
                "non_wear_time": non_wear,
                "high_activity_met_minutes": high // 60 * 8,
                "medium_activity_met_minutes": medium // 60 * 5,
                "low_activity_met_minutes": low // 60 * 2,
                "sedentary_met_minutes": sedentary // 60,
                "average_met_minutes": round(rng.uniform(1.3, 1.9), 3),
                "inactivity_alerts": rng.randint(0, 3),
                "class_5_min": "".join(rng.choice("122233345") for _ in range(288)),
                "met": None,
                "contributors": _contributors(rng, ACTIVITY_CONTRIBUTORS),
            }
        )
        spo2.append(
            {
                "id": f"spo2-{day}",
                "day": day,
                "spo2_percentage": Jsonb({"average": round(rng.uniform(95.5, 98.5), 3)}),
                "breathing_disturbance_index": rng.randint(0, 12),
            }
        )
        stress_high = rng.randint(0, 180) * 60
        recovery_high = rng.randint(30, 240) * 60
        stress.append(
            {
                "id": f"stress-{day}",
                "day": day,
                "stress_high": stress_high,
                "recovery_high": recovery_high,
                "day_summary": "stressful"
                if stress_high > 2 * recovery_high
                else ("restored" if recovery_high > 2 * stress_high else "normal"),
            }
        )
        resilience.append(
            {
                "id": f"resilience-{day}",
                "day": day,
                "level": rng.choice(["limited", "adequate", "solid", "solid", "strong"]),
                "contributors": Jsonb(
                    {
                        "sleep_recovery": round(rng.uniform(40, 95), 1),
                        "daytime_recovery": round(rng.uniform(20, 80), 1),
                        "stress": round(rng.uniform(20, 80), 1),
                    }
                ),
            }
        )
        sleep_time.append(
            {
                "id": f"sleep-time-{day}",
                "day": day,
                "optimal_bedtime": Jsonb(
                    {"day_tz": 7200, "start_offset": -5400, "end_offset": -1800}
                ),
                "recommendation": "follow_optimal_bedtime",
                "status": "optimal_found",
            }
        )
        if index % 3 == 0:
            start = noon + timedelta(hours=rng.randint(-4, 6))
            minutes = rng.randint(25, 75)
            kind = rng.choice(["walking", "running", "cycling", "strengthTraining"])
            workouts.append(
                {
                    "id": f"workout-{day}",
                    "day": day,
                    "activity": kind,
                    "calories": round(minutes * rng.uniform(5, 11), 1),
                    "distance": None if kind == "strengthTraining" else minutes * 150.0,
                    "start_datetime": start,
                    "end_datetime": start + timedelta(minutes=minutes),
                    "intensity": rng.choice(["easy", "moderate", "hard"]),
                    "label": None,
                    "source": rng.choice(["manual", "autodetected", "workout_heart_rate"]),
                }
            )
        if index % 5 == 2:
            start = noon + timedelta(hours=8)
            sessions.append(
                {
                    "id": f"session-{day}",
                    "day": day,
                    "type": "breathing",
                    "start_datetime": start,
                    "end_datetime": start + timedelta(minutes=10),
                    "mood": "good",
                    "heart_rate": None,
                    "heart_rate_variability": None,
                    "motion_count": None,
                }
            )
        if index % 7 == 0:
            cardio.append(
                {
                    "day": day,
                    "id": None,
                    "vascular_age": rng.randint(33, 38),
                    "pulse_wave_velocity": round(rng.uniform(6.5, 7.5), 2),
                }
            )
            vo2.append(
                {
                    "id": f"vo2-{day}",
                    "day": day,
                    "timestamp": noon,
                    "vo2_max": rng.randint(44, 48),
                }
            )
        if index % 11 == 3:
            tags.append(
                {
                    "id": f"tag-{day}",
                    "day": day,
                    "text": "late dinner",
                    "timestamp": noon + timedelta(hours=9),
                    "tags": ["tag_generic_late_meal"],
                }
            )

    _insert(conn, "sleep_periods", nights)
    _insert(conn, "sleep_periods", naps)
    _insert(conn, "daily_sleep", daily_sleep)
    _insert(conn, "daily_readiness", readiness)
    _insert(conn, "daily_activity", activity)
    _insert(conn, "daily_spo2", spo2)
    _insert(conn, "daily_stress", stress)
    _insert(conn, "daily_resilience", resilience)
    _insert(conn, "workouts", workouts)
    _insert(conn, "sessions", sessions)
    _insert(conn, "daily_cardiovascular_age", cardio)
    _insert(conn, "vo2_max", vo2)
    _insert(conn, "sleep_time", sleep_time)
    _insert(conn, "tags", tags)
    _insert_heart_rate(conn, sample, nights, rng)
    _insert_singletons(conn, sample)
    _insert_sync_history(conn, sample, rng)
    # The processor computes the insights after each batch; these rows bypassed it.
    conn.commit()
    asyncio.run(_compute_insights(conn.info.dsn))


async def _compute_insights(dsn: str) -> None:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await insights_store.rebuild(conn)


def _insert_heart_rate(
    conn: psycopg.Connection,
    sample: SampleRange,
    nights: list[dict[str, Any]],
    rng: random.Random,
) -> None:
    """Samples every 5 minutes: `sleep` during the main sleep period, `awake` otherwise."""
    asleep = [(night["bedtime_start"], night["bedtime_end"]) for night in nights]
    moment = sample.time_from - timedelta(hours=3)
    end = datetime.combine(sample.last_day, time(20), UTC)
    night_index = 0
    with (
        conn.cursor() as cur,
        cur.copy('COPY heart_rate ("timestamp", source, bpm) FROM STDIN') as copy,
    ):
        while moment < end:
            while night_index < len(asleep) and asleep[night_index][1] < moment:
                night_index += 1
            sleeping = night_index < len(asleep) and asleep[night_index][0] <= moment
            bpm = rng.randint(48, 60) if sleeping else rng.randint(62, 105)
            copy.write_row((moment, "sleep" if sleeping else "awake", bpm))
            moment += timedelta(seconds=FIVE_MINUTES)


def _insert_singletons(conn: psycopg.Connection, sample: SampleRange) -> None:
    conn.execute(
        "INSERT INTO personal_info (id, age, weight, height, biological_sex, email)"
        " VALUES ('person-1', 38, 72.5, 1.78, 'male', 'owner@example.com')"
    )
    conn.execute(
        "INSERT INTO ring_configurations"
        " (id, color, design, firmware_version, hardware_type, set_up_at, size)"
        " VALUES ('ring-1', 'stealth_black', 'horizon', '2.9.21', 'gen3', %s, 10)",
        (sample.time_from - timedelta(days=400),),
    )
    conn.execute(
        "INSERT INTO rest_mode_periods (id, start_day, end_day, start_time, end_time, episodes)"
        " VALUES ('rest-mode-1', %s, %s, %s, %s, %s)",
        (
            # Inside every evaluated range (the last 7 days), so the rest-mode panels have rows.
            sample.last_day - timedelta(days=6),
            sample.last_day - timedelta(days=4),
            sample.time_from + timedelta(days=sample.days - 7, hours=9),
            sample.time_from + timedelta(days=sample.days - 5, hours=8),
            Jsonb([{"tags": ["tag_generic_sick"], "timestamp": "2026-01-01T09:00:00+00:00"}]),
        ),
    )
    conn.execute(
        "INSERT INTO enhanced_tags (id, start_day, end_day, start_time, end_time, tag_type_code,"
        " comment, custom_name) VALUES ('etag-1', %s, %s, %s, %s, 'tag_generic_alcohol',"
        " 'wedding', NULL)",
        (
            sample.last_day - timedelta(days=10),
            sample.last_day - timedelta(days=10),
            sample.time_to - timedelta(days=10, hours=1),
            sample.time_to - timedelta(days=10),
        ),
    )


def _insert_sync_history(conn: psycopg.Connection, sample: SampleRange, rng: random.Random) -> None:
    """Hourly collector runs over the last three days; a few failed, one hit Oura's 429."""
    conn.cursor().executemany(
        "INSERT INTO sync_checkpoints (data_type, last_day, updated_at) VALUES (%s, %s, %s)",
        [(name, sample.last_day, sample.time_to - timedelta(minutes=20)) for name in ALL_NAMES],
    )
    conn.execute(
        "INSERT INTO quarantined_documents (data_type, document_id, document, reason, received_at)"
        " VALUES ('daily_sleep', 'broken-1', %s, 'score: Input should be a valid integer', %s)",
        (Jsonb({"id": "broken-1", "day": str(sample.last_day), "score": "high"}), sample.time_to),
    )
    run_start = sample.time_to - timedelta(days=3)
    while run_start < sample.time_to:
        failed = rng.random() < 0.08
        rate_limited = rng.random() < 0.05
        requests = {f"/v2/usercollection/{name} 200": rng.randint(1, 3) for name in ALL_NAMES}
        if rate_limited:
            requests["/v2/usercollection/heartrate 429"] = 1
        counts = {
            "documents": {name: rng.randint(0, 30) for name in ALL_NAMES},
            "oura_requests": requests,
            "oura_retries": {"rate_limited": 1} if rate_limited else {},
        }
        finished = run_start + timedelta(seconds=rng.randint(20, 90))
        status = "failed" if failed else "succeeded"
        run_id = conn.execute(
            "INSERT INTO sync_runs (started_at, finished_at, status, data_types, start_date,"
            " end_date, counts, error) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING run_id",
            (
                run_start,
                finished,
                status,
                list(ALL_NAMES),
                sample.last_day - timedelta(days=7),
                sample.last_day,
                Jsonb(counts),
                "heartrate: Oura answered 502 after 3 retries" if failed else None,
            ),
        ).fetchone()
        assert run_id is not None
        conn.cursor().executemany(
            "INSERT INTO sync_run_types (run_id, data_type, status, start_date, end_date,"
            " documents, error, finished_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    run_id[0],
                    name,
                    "failed" if failed and name == "heartrate" else "succeeded",
                    sample.last_day - timedelta(days=7),
                    sample.last_day,
                    counts["documents"][name],
                    "Oura answered 502 after 3 retries" if failed and name == "heartrate" else None,
                    finished,
                )
                for name in ALL_NAMES
            ],
        )
        run_start += timedelta(hours=1)
    # The run in progress right now.
    conn.execute(
        "INSERT INTO sync_runs (started_at, status, data_types, counts)"
        " VALUES (%s, 'running', %s, %s)",
        (sample.time_to - timedelta(minutes=1), list(ALL_NAMES), Jsonb({})),
    )
