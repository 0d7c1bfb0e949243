"""When a document exists on the sandbox clock, and how a document still growing looks.

Nothing is served before its moment (a night's sleep after waking, a workout after it ends),
and today's daily_activity grows through the day.
"""

from __future__ import annotations

import datetime as dt

from myhealth.sandbox.generator import Document, Person
from myhealth.sandbox.responses import parse_time

# Documents that only exist once something has happened: the time it happened.
READY_FIELD = {
    "sleep": "bedtime_end",
    "workout": "end_datetime",
    "session": "end_datetime",
    "enhanced_tag": "start_time",
    "tag": "timestamp",
    "rest_mode_period": "start_time",
}
AFTER_WAKING = ("daily_sleep", "daily_readiness", "daily_spo2", "sleep_time")


def ready_at(person: Person, data_type: str, day: dt.date, doc: Document) -> dt.datetime:
    """When `doc` first exists: nothing is served before its moment on the clock."""
    zone = person.zone(day)
    if data_type in READY_FIELD and isinstance(doc.get(READY_FIELD[data_type]), str):
        return parse_time(doc[READY_FIELD[data_type]])
    if data_type in AFTER_WAKING:
        woke = person.wake_time(day)
        return woke if woke is not None else dt.datetime.combine(day, dt.time(12), zone)
    if data_type == "daily_activity":  # from 04:00, growing through the day
        return parse_time(doc["timestamp"])
    return dt.datetime.combine(day, dt.time(12), zone)


def served(data_type: str, doc: Document, now: dt.datetime) -> Document:
    """`doc` as it looks at `now`: an ongoing rest period has no end, activity so far."""
    ongoing = (
        data_type == "rest_mode_period"
        and isinstance(doc.get("end_time"), str)
        and parse_time(doc["end_time"]) > now
    )
    if ongoing:
        doc = {**doc, "end_day": None, "end_time": None}
    if data_type == "daily_activity":
        elapsed = (now - parse_time(doc["timestamp"])).total_seconds()
        if elapsed < 86400:
            doc = activity_so_far(doc, int(elapsed // 60))
    return doc


_ACTIVITY_TOTALS = (
    "active_calories",
    "equivalent_walking_distance",
    "high_activity_met_minutes",
    "high_activity_time",
    "low_activity_met_minutes",
    "low_activity_time",
    "medium_activity_met_minutes",
    "medium_activity_time",
    "resting_time",
    "sedentary_met_minutes",
    "sedentary_time",
    "steps",
)


def activity_so_far(doc: Document, minutes: int) -> Document:
    """The day's activity as Oura shows it `minutes` after 04:00: it grows through the day.

    MET minutes still to come are null, `class_5_min` blocks still to come are '0' (no data),
    and the totals are the share of the day so far.
    """
    share = minutes / 1440
    met = doc["met"]
    items = met["items"][:minutes]
    partial = {
        **doc,
        "met": {**met, "items": items + [None] * (1440 - minutes)},
        "average_met_minutes": round(sum(items) / len(items), 3) if items else 0.0,
        "score": doc["score"] if share > 0.5 else None,
        "inactivity_alerts": doc["inactivity_alerts"] if share > 0.5 else 0,
    }
    for key in _ACTIVITY_TOTALS:
        partial[key] = round(doc[key] * share)
    resting_calories = doc["total_calories"] - doc["active_calories"]
    partial["total_calories"] = round(resting_calories * share) + partial["active_calories"]
    partial["meters_to_target"] = max(
        0, doc["target_meters"] - partial["equivalent_walking_distance"]
    )
    if "class_5_min" in doc:
        partial["class_5_min"] = doc["class_5_min"][: minutes // 5].ljust(288, "0")
    return partial
