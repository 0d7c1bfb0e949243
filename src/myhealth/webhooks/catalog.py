"""What Oura's webhooks cover: three event types × seventeen data types (docs/oura-api.md#webhooks).

`meal` is subscribable but has no collection route, so its events are recorded and marked
`unsupported`; every other webhook data type is one of our `DATA_TYPES` under the same name
(`vo2_max`, whose route is spelled `vO2_max`).
"""

from __future__ import annotations

from typing import Literal

from myhealth.oura.catalog import DATA_TYPES, DataType

EventType = Literal["create", "update", "delete"]
EVENT_TYPES: tuple[EventType, ...] = ("create", "update", "delete")

WEBHOOK_DATA_TYPES: tuple[str, ...] = (
    "tag",
    "enhanced_tag",
    "workout",
    "session",
    "sleep",
    "daily_sleep",
    "daily_readiness",
    "daily_activity",
    "daily_spo2",
    "sleep_time",
    "rest_mode_period",
    "ring_configuration",
    "daily_stress",
    "daily_cardiovascular_age",
    "daily_resilience",
    "vo2_max",
    "meal",
)


def collected_type(webhook_data_type: str) -> DataType | None:
    """The data type an event's document is fetched and stored as (None: not collected)."""
    data_type = DATA_TYPES.get(webhook_data_type)
    if data_type is None or not data_type.single_document_route:
        return None
    return data_type
