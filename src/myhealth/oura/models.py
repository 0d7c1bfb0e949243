"""Typed models of Oura v2 documents (one per product data type).

Generated from Oura's OpenAPI document (tests/data/oura/openapi.json), then kept by hand.
They follow Oura's reality rather than the letter of the spec (docs/oura-api.md): every field
may be missing (treated as null) and unknown fields are ignored, but a document must have its
key (`id`; `day` for cardiovascular age; `timestamp` for heart rate) and its day, and a value
that is present must have the right JSON type: "85" is not a score. Enums are open strings,
because Oura adds values over time.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StrictBool,
    StrictStr,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from myhealth.oura import days
from myhealth.oura.catalog import DATA_TYPES


def _integral(value: Any) -> Any:
    # JSON has one number type; accept 42.0 for an integer field but never "42", True or 42.5.
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, int):
        raise ValueError("must be an integer")
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return value


# Dates that place a document in time (its day fields; a heart-rate sample's timestamp) must
# lie in these years (docs/troubleshooting.md#quarantined-documents): a wearable's data lies
# in this century, and a document dated
# 9999-12-31 would otherwise become every dashboard's "latest date". Other timestamps are
# stored as Oura sends them: old rings report `set_up_at` as the 1970 epoch placeholder.
FIRST_YEAR = 2000
LAST_YEAR = 2100
DATE_OUT_OF_RANGE = "date_out_of_range"
_LEADING_YEAR = re.compile(r"\s*([+-]?\d+)-")


def _out_of_range(year: int) -> PydanticCustomError:
    return PydanticCustomError(
        DATE_OUT_OF_RANGE,
        "year {year} is outside {first}-{last}",
        {"year": year, "first": FIRST_YEAR, "last": LAST_YEAR},
    )


def _leading_year(value: str) -> int | None:
    if value[4:5] == "-" and value[:4].isdigit():  # the usual `2024-...`, without a regex
        return int(value[:4])
    match = _LEADING_YEAR.match(value)
    if match is None or len(match.group(1).lstrip("+-")) < 4:
        return None
    return int(match.group(1))


def _iso_string(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 string")
    # A year Python cannot represent (10000) fails parsing with a vaguer message: say why.
    year = _leading_year(value)
    if year is not None and not 1 <= year <= 9999:
        raise _out_of_range(year)
    return value


def _dated_iso_string(value: Any) -> Any:
    # `_iso_string`'s check in one pass: the narrower range holds the wider one.
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 string")
    year = _leading_year(value)
    if year is not None and not FIRST_YEAR <= year <= LAST_YEAR:
        raise _out_of_range(year)
    return value


def _in_range(value: dt.date) -> dt.date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise _out_of_range(value.year)
    return value


def _aware(value: dt.datetime) -> dt.datetime:
    # A timestamp without an offset is read as UTC (docs/troubleshooting.md#quarantined-documents),
    # so every timestamp compares.
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def _aware_in_range(value: dt.datetime) -> dt.datetime:
    value = _aware(value)
    _in_range(value.astimezone(dt.UTC).date())
    return value


def _object(value: Any) -> Any:
    if not isinstance(value, dict):
        raise ValueError("must be an object")
    return value


Int = Annotated[int, BeforeValidator(_integral)]
Number = Annotated[float, BeforeValidator(_number)]
Text = StrictStr
Bool = StrictBool
Day = Annotated[dt.date, BeforeValidator(_dated_iso_string), AfterValidator(_in_range)]
Timestamp = Annotated[dt.datetime, BeforeValidator(_iso_string), AfterValidator(_aware)]
# A timestamp that is the document's place in time (heart rate: its key and its day).
DatedTimestamp = Annotated[
    dt.datetime, BeforeValidator(_dated_iso_string), AfterValidator(_aware_in_range)
]
JsonObject = Annotated[dict[str, Any], BeforeValidator(_object)]


class OuraDocument(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class DailyActivity(OuraDocument):
    """PublicDailyActivity."""

    id: Text
    active_calories: Int | None = None
    average_met_minutes: Number | None = None
    class_5_min: Text | None = None
    contributors: JsonObject | None = None
    day: Day
    equivalent_walking_distance: Int | None = None
    high_activity_met_minutes: Int | None = None
    high_activity_time: Int | None = None
    inactivity_alerts: Int | None = None
    low_activity_met_minutes: Int | None = None
    low_activity_time: Int | None = None
    medium_activity_met_minutes: Int | None = None
    medium_activity_time: Int | None = None
    met: JsonObject | None = None
    meters_to_target: Int | None = None
    non_wear_time: Int | None = None
    resting_time: Int | None = None
    score: Int | None = None
    sedentary_met_minutes: Int | None = None
    sedentary_time: Int | None = None
    steps: Int | None = None
    target_calories: Int | None = None
    target_meters: Int | None = None
    timestamp: Timestamp | None = None
    total_calories: Int | None = None


class DailyCardiovascularAge(OuraDocument):
    """PublicDailyCardiovascularAge."""

    id: Text | None = None
    day: Day
    pulse_wave_velocity: Number | None = None
    vascular_age: Int | None = None


class DailyReadiness(OuraDocument):
    """PublicDailyReadiness."""

    id: Text
    contributors: JsonObject | None = None
    day: Day
    score: Int | None = None
    temperature_deviation: Number | None = None
    temperature_trend_deviation: Number | None = None
    timestamp: Timestamp | None = None


class DailyResilience(OuraDocument):
    """DailyResilienceModel."""

    id: Text
    day: Day
    contributors: JsonObject | None = None
    level: Text | None = None


class DailySleep(OuraDocument):
    """PublicDailySleep."""

    id: Text
    contributors: JsonObject | None = None
    day: Day
    score: Int | None = None
    timestamp: Timestamp | None = None


class DailySpo2(OuraDocument):
    """PublicDailySpO2."""

    id: Text
    breathing_disturbance_index: Int | None = None
    day: Day
    spo2_percentage: JsonObject | None = None


class DailyStress(OuraDocument):
    """PublicDailyStress."""

    id: Text
    day: Day
    day_summary: Text | None = None
    recovery_high: Int | None = None
    stress_high: Int | None = None


class EnhancedTag(OuraDocument):
    """EnhancedTagModel."""

    id: Text
    tag_type_code: Text | None = None
    start_time: Timestamp | None = None
    end_time: Timestamp | None = None
    start_day: Day
    end_day: Day | None = None
    comment: Text | None = None
    custom_name: Text | None = None


class Heartrate(OuraDocument):
    """PublicHeartRateRow."""

    timestamp: DatedTimestamp
    timestamp_unix: Int | None = None
    bpm: Int
    source: Text


class PersonalInfo(OuraDocument):
    """PersonalInfoResponse."""

    id: Text
    age: Int | None = None
    weight: Number | None = None
    height: Number | None = None
    biological_sex: Text | None = None
    email: Text | None = None


class RestModePeriod(OuraDocument):
    """PublicRestModePeriod."""

    id: Text
    end_day: Day | None = None
    end_time: Timestamp | None = None
    episodes: list[JsonObject] | None = None
    start_day: Day
    start_time: Timestamp | None = None


class RingConfiguration(OuraDocument):
    """PublicRingConfiguration."""

    id: Text
    color: Text | None = None
    design: Text | None = None
    firmware_version: Text | None = None
    hardware_type: Text | None = None
    set_up_at: Timestamp | None = None
    size: Int | None = None


class Session(OuraDocument):
    """PublicSession."""

    id: Text
    day: Day
    end_datetime: Timestamp | None = None
    heart_rate: JsonObject | None = None
    heart_rate_variability: JsonObject | None = None
    mood: Text | None = None
    motion_count: JsonObject | None = None
    start_datetime: Timestamp | None = None
    type: Text | None = None


class Sleep(OuraDocument):
    """PublicModifiedSleepModel."""

    id: Text
    average_breath: Number | None = None
    average_heart_rate: Number | None = None
    average_hrv: Int | None = None
    awake_time: Int | None = None
    bedtime_end: Timestamp | None = None
    bedtime_start: Timestamp | None = None
    day: Day
    deep_sleep_duration: Int | None = None
    efficiency: Int | None = None
    heart_rate: JsonObject | None = None
    hrv: JsonObject | None = None
    latency: Int | None = None
    light_sleep_duration: Int | None = None
    low_battery_alert: Bool | None = None
    lowest_heart_rate: Int | None = None
    movement_30_sec: Text | None = None
    period: Int | None = None
    readiness: JsonObject | None = None
    readiness_score_delta: Int | None = None
    rem_sleep_duration: Int | None = None
    restless_periods: Int | None = None
    sleep_algorithm_version: Text | None = None
    sleep_analysis_reason: Text | None = None
    sleep_phase_30_sec: Text | None = None
    sleep_phase_5_min: Text | None = None
    sleep_score_delta: Int | None = None
    time_in_bed: Int | None = None
    total_sleep_duration: Int | None = None
    type: Text | None = None
    ring_id: Text | None = None
    app_sleep_phase_5_min: Text | None = None


class SleepTime(OuraDocument):
    """PublicSleepTime."""

    id: Text
    day: Day
    optimal_bedtime: JsonObject | None = None
    recommendation: Text | None = None
    status: Text | None = None


class Tag(OuraDocument):
    """TagModel."""

    id: Text
    day: Day
    text: Text | None = None
    timestamp: Timestamp | None = None
    tags: list[Text] | None = None


class Vo2Max(OuraDocument):
    """PublicVO2Max."""

    id: Text
    day: Day
    timestamp: Timestamp | None = None
    vo2_max: Int | None = None


class Workout(OuraDocument):
    """PublicWorkout."""

    id: Text
    activity: Text | None = None
    calories: Number | None = None
    day: Day
    distance: Number | None = None
    end_datetime: Timestamp | None = None
    intensity: Text | None = None
    label: Text | None = None
    source: Text | None = None
    start_datetime: Timestamp | None = None


MODELS: dict[str, type[OuraDocument]] = {
    "daily_activity": DailyActivity,
    "daily_cardiovascular_age": DailyCardiovascularAge,
    "daily_readiness": DailyReadiness,
    "daily_resilience": DailyResilience,
    "daily_sleep": DailySleep,
    "daily_spo2": DailySpo2,
    "daily_stress": DailyStress,
    "enhanced_tag": EnhancedTag,
    "heartrate": Heartrate,
    "personal_info": PersonalInfo,
    "rest_mode_period": RestModePeriod,
    "ring_configuration": RingConfiguration,
    "session": Session,
    "sleep": Sleep,
    "sleep_time": SleepTime,
    "tag": Tag,
    "vo2_max": Vo2Max,
    "workout": Workout,
}
assert set(MODELS) == set(DATA_TYPES), "every data type needs a model"


class InvalidDocument(ValueError):
    """A document failed validation; the message is one readable line, `code` says which rule
    (`not_an_object`, `date_out_of_range`, `invalid_document` for a missing key or a value of
    the wrong type, or a code the caller passes)."""

    def __init__(self, message: str, code: str = "invalid_document") -> None:
        super().__init__(message)
        self.code = code


def parse(data_type: str, document: Any) -> OuraDocument:
    """Validate one raw document of `data_type`; raise InvalidDocument with a clear reason."""
    if not isinstance(document, dict):
        raise InvalidDocument(
            f"document must be a JSON object, not {type(document).__name__}", "not_an_object"
        )
    try:
        return MODELS[data_type].model_validate(document)
    except ValidationError as exc:
        problems = []
        code = "invalid_document"
        for error in exc.errors():
            if error["type"] == DATE_OUT_OF_RANGE:
                code = DATE_OUT_OF_RANGE
            field = ".".join(str(part) for part in error["loc"]) or "document"
            message = (
                "is required"
                if error["type"] == "missing"
                else error["msg"].removeprefix("Value error, ")
            )
            problems.append(f"{field} {message}")
        raise InvalidDocument("; ".join(problems), code) from None


def document_day(data_type: str, document: OuraDocument) -> dt.date | None:
    """The day a document belongs to (the product's one rule: `myhealth.oura.days`)."""
    return days.document_day(DATA_TYPES[data_type], document)


def document_key(data_type: str, document: OuraDocument) -> str:
    """The archive id of a document: its Oura id, or its key fields joined (heart rate,
    cardiovascular age without id)."""
    key_fields = DATA_TYPES[data_type].key
    if key_fields == ("id",):
        return str(document.id)  # type: ignore[attr-defined]
    parts = []
    for field in key_fields:
        value = getattr(document, field)
        parts.append(value.isoformat() if isinstance(value, dt.date | dt.datetime) else str(value))
    return "|".join(parts)
