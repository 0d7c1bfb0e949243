"""A document dated 9999-12-31 or a heart-rate sample in year 10000, sent through the
processor, never reaches what the API reads (dates outside 2000-2100 are rejected:
docs/troubleshooting.md#quarantined-documents).

Before the date-range rule, the 9999-12-31 document was stored and became the dashboard's
"latest date", and the year-10000 sample broke the processor's metrics refresh.
"""

from __future__ import annotations

import httpx
import psycopg
from fastapi.testclient import TestClient

from myhealth.api.server import create_app
from myhealth.platform.config import ApiSettings, load

from .support import example_documents

API_KEY = "test-api-key-0123456789"


def test_the_dashboard_date_ignores_a_document_dated_9999(
    client: httpx.Client, db: psycopg.Connection, database_url: str
) -> None:
    for data_type in ("daily_sleep", "daily_activity", "daily_readiness"):
        [document, *_] = example_documents(data_type)
        normal = {**document, "id": f"{data_type}-normal", "day": "2024-03-02"}
        far = {**document, "id": f"{data_type}-far", "day": "9999-12-31"}
        answer = client.post(
            "/api/v1/ingest", json={"data_type": data_type, "documents": [normal, far]}
        ).json()
        assert [item["code"] for item in answer["rejected"]] == ["date_out_of_range"]
    [sample, *_] = example_documents("heartrate")
    far_sample = {**sample, "timestamp": "10000-01-01T00:00:00+00:00"}
    client.post("/api/v1/ingest", json={"data_type": "heartrate", "documents": [far_sample]})

    settings = load(
        ApiSettings,
        {"DATABASE_URL": database_url, "API_KEY": API_KEY, "JWT_SECRET": "x" * 40},
    )
    with TestClient(create_app(settings)) as api:
        token = api.post("/auth/login", json={"api_key": API_KEY}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        dashboard = api.get("/api/v1/dashboard", headers=headers)
        trend = api.get(
            "/api/v1/trends/heart_rate?start_date=2024-01-01&end_date=2024-12-31",
            headers=headers,
        )

    assert dashboard.status_code == 200, dashboard.text
    assert dashboard.json()["date"] == "2024-03-02"
    assert trend.status_code == 200, trend.text
    assert client.get("/metrics").status_code == 200
