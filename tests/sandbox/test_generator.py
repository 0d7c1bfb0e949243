"""The synthetic person: determinism, internal consistency, realism ranges, Oura schemas."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from myhealth.sandbox.generator import DATED_TYPES, Person

OPENAPI = Path(__file__).parents[1] / "data" / "oura" / "openapi.json"
SPEC: dict[str, Any] = json.loads(OPENAPI.read_text())

# data type -> the component schema of one document (from the single-document route)
SCHEMA_OF = {
    "daily_activity": "PublicDailyActivity",
    "daily_cardiovascular_age": "PublicDailyCardiovascularAge",
    "daily_readiness": "PublicDailyReadiness",
    "daily_resilience": "DailyResilienceModel",
    "daily_sleep": "PublicDailySleep",
    "daily_spo2": "PublicDailySpO2",
    "daily_stress": "PublicDailyStress",
    "enhanced_tag": "EnhancedTagModel",
    "rest_mode_period": "PublicRestModePeriod",
    "session": "PublicSession",
    "sleep": "PublicModifiedSleepModel",
    "sleep_time": "PublicSleepTime",
    "tag": "TagModel",
    "vo2_max": "PublicVO2Max",
    "workout": "PublicWorkout",
}

YEAR = [dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(365)]


def validator(schema_name: str) -> jsonschema.Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": SPEC["components"]}
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def person() -> Person:
    return Person(7)


def test_same_seed_same_documents_and_other_seed_differs() -> None:
    day = dt.date(2025, 6, 3)
    a, b, c = Person(1), Person(1), Person(2)
    for data_type in DATED_TYPES:
        assert a.documents(data_type, day) == b.documents(data_type, day), data_type
    assert a.heart_rate(day) == b.heart_rate(day)
    assert a.documents("daily_sleep", day) != c.documents("daily_sleep", day)


def test_a_day_does_not_depend_on_what_was_generated_before() -> None:
    day = dt.date(2024, 2, 29)
    fresh = Person(3).documents("sleep", day)
    warmed = Person(3)
    for other in YEAR[:20]:
        warmed.documents("sleep", other)
    assert warmed.documents("sleep", day) == fresh


@pytest.mark.parametrize("data_type", sorted(SCHEMA_OF))
def test_documents_match_the_oura_openapi_schema(person: Person, data_type: str) -> None:
    check = validator(SCHEMA_OF[data_type])
    seen = 0
    days = YEAR[::9] if data_type in ("daily_activity", "sleep") else YEAR  # big documents
    for day in days:
        for doc in person.documents(data_type, day):
            errors = [e.message for e in check.iter_errors(doc)]
            assert not errors, (day, errors[:3])
            seen += 1
    assert seen > 0


def test_old_cardiovascular_documents_lack_id_like_real_2024_responses(person: Person) -> None:
    old = person.documents("daily_cardiovascular_age", dt.date(2024, 3, 16))
    assert old == [{"day": "2024-03-16", "vascular_age": old[0]["vascular_age"]}]
    assert "id" in person.documents("daily_cardiovascular_age", dt.date(2025, 3, 16))[0]


def test_heart_rate_rows_match_the_schema_and_are_utc(person: Person) -> None:
    check = validator("PublicHeartRateRow")
    rows = person.heart_rate(dt.date(2025, 5, 5))
    assert 200 < len(rows) < 1500
    for row in rows:
        assert not list(check.iter_errors(row))
        assert row["timestamp"].endswith("+00:00")
    stamps = [row["timestamp_unix"] for row in rows]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == len(stamps)
    assert not list(validator("PersonalInfoResponse").iter_errors(person.personal_info()))
    for ring in person.ring_configurations():
        assert not list(validator("PublicRingConfiguration").iter_errors(ring))


def test_heart_rate_has_gaps_and_is_denser_during_workouts(person: Person) -> None:
    day = next(d for d in YEAR if person.day_state(d).workouts and person.zone(d) == person.zone(d))
    rows = person.heart_rate(day)
    seconds = [row["timestamp_unix"] // 1000 for row in rows]
    steps = [b - a for a, b in itertools.pairwise(seconds)]
    assert max(steps) > 900  # the ring was off for a while
    assert min(steps) < 60  # workout bursts
    assert {row["source"] for row in rows} >= {"awake", "sleep"}


def test_sleep_stages_add_up_and_hypnograms_fit_time_in_bed(person: Person) -> None:
    kinds: set[str] = set()
    for day in YEAR:
        for doc in person.documents("sleep", day):
            kinds.add(doc["type"])
            tib = doc["time_in_bed"]
            stages = (
                doc["deep_sleep_duration"]
                + doc["light_sleep_duration"]
                + doc["rem_sleep_duration"]
                + doc["awake_time"]
            )
            assert stages == tib, doc["id"]
            assert doc["total_sleep_duration"] == tib - doc["awake_time"]
            assert len(doc["sleep_phase_5_min"]) == math.ceil(tib / 300)
            assert set(doc["sleep_phase_5_min"]) <= set("1234")
            assert len(doc["movement_30_sec"]) == math.ceil(tib / 30)
            start = dt.datetime.fromisoformat(doc["bedtime_start"])
            end = dt.datetime.fromisoformat(doc["bedtime_end"])
            assert (end - start).total_seconds() == tib
            if doc["heart_rate"] is not None:
                assert len(doc["heart_rate"]["items"]) == len(doc["sleep_phase_5_min"])
            if doc["type"] == "long_sleep":
                assert 6 * 3600 <= doc["total_sleep_duration"] <= 8.5 * 3600 + 600
                assert doc["day"] == end.date().isoformat()  # filed under the wake-up day
    assert kinds == {"long_sleep", "sleep", "rest", "deleted", "late_nap"}


def test_activity_has_1440_met_minutes_from_4am_and_288_classes(person: Person) -> None:
    missing_class = 0
    for day in YEAR:
        (doc,) = person.documents("daily_activity", day)
        assert len(doc["met"]["items"]) == 1440
        assert doc["met"]["interval"] == 60.0
        assert doc["met"]["timestamp"][11:23] == "04:00:00.000"
        assert doc["timestamp"][11:19] == "04:00:00"
        if "class_5_min" in doc:
            assert len(doc["class_5_min"]) == 288
            assert set(doc["class_5_min"]) <= set("012345")
        else:
            missing_class += 1
        assert 3000 <= doc["steps"] <= 18000
        assert doc["total_calories"] > doc["active_calories"] > 0
    assert 0 < missing_class < 40  # an optional key sometimes simply absent


def test_realistic_ranges(person: Person) -> None:
    sleep_scores = [
        d["score"] for day in YEAR for d in person.documents("daily_sleep", day) if d["score"]
    ]
    readiness = [d["score"] for day in YEAR for d in person.documents("daily_readiness", day)]
    assert min(sleep_scores) >= 55
    assert max(sleep_scores) <= 95
    assert min(readiness) >= 55
    assert max(readiness) <= 95
    assert max(sleep_scores) - min(sleep_scores) > 15  # not flat
    for day in YEAR:
        state = person.day_state(day)
        assert 45 <= state.resting_hr <= 65
        assert 25 <= state.hrv <= 80


def test_readiness_exists_on_days_without_a_sleep_period(person: Person) -> None:
    nightless = [day for day in YEAR if not person.documents("sleep", day)]
    assert nightless
    for day in nightless:
        (readiness,) = person.documents("daily_readiness", day)
        assert readiness["contributors"]["previous_night"] is None
        assert len(person.documents("daily_sleep", day)) == 1


def test_trip_changes_the_utc_offset_and_spans_a_dst_switch(person: Person) -> None:
    trip = Person.trip_start(2025)
    offsets = {
        person.documents("daily_readiness", trip + dt.timedelta(days=i))[0]["timestamp"][-6:]
        for i in range(-2, 10)
    }
    # Helsinki in winter, New York before and after the US switch on 2025-03-09.
    assert offsets == {"+02:00", "-05:00", "-04:00"}
    summer = person.documents("daily_readiness", dt.date(2025, 7, 1))[0]["timestamp"]
    assert summer.endswith("+03:00")


def test_revision_changes_content_but_keeps_ids(person: Person) -> None:
    day = dt.date(2025, 8, 20)
    for data_type in ("sleep", "daily_sleep", "daily_activity", "daily_readiness"):
        original = person.documents(data_type, day)
        revised = person.documents(data_type, day, revision=1)
        assert [d.get("id") for d in original] == [d.get("id") for d in revised]
        assert original != revised, data_type


def test_ids_decode_back_to_their_day(person: Person) -> None:
    day = dt.date(2025, 4, 1)
    for data_type in DATED_TYPES:
        for index, doc in enumerate(person.documents(data_type, day)):
            if "id" in doc:
                assert person.decode_id(data_type, doc["id"]) == (day, index)
    assert person.decode_id("sleep", "not-an-id") is None


def test_one_year_of_everything_is_fast() -> None:
    fresh = Person(11)
    started = time.process_time()
    for day in YEAR:
        for data_type in DATED_TYPES:
            fresh.documents(data_type, day)
        fresh.heart_rate(day)
    # Five years must take a few seconds; one year well under that even on a busy CI box.
    assert time.process_time() - started < 6


def test_every_document_parses_with_the_product_models(person: Person) -> None:
    from myhealth.oura import models

    for day in YEAR[::3]:
        for data_type in DATED_TYPES:
            for doc in person.documents(data_type, day):
                models.parse(data_type, doc)
        for row in person.heart_rate(day)[:50]:
            models.parse("heartrate", row)
    models.parse("personal_info", person.personal_info())
    for ring in person.ring_configurations():
        models.parse("ring_configuration", ring)
