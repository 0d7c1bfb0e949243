"""With the database unreachable: probes say so, ingest answers 503, nothing is half-done."""

from __future__ import annotations

import httpx

from myhealth.processor.server import running
from myhealth.storage.local_cluster import free_port

from .support import INGEST_TOKEN, example_documents, processor_settings


def test_closed_port_gives_503_on_ready_and_ingest() -> None:
    # Nothing listens on this port: every connection attempt is refused.
    settings = processor_settings(f"postgresql://myhealth@127.0.0.1:{free_port()}/nowhere")
    headers = {"Authorization": f"Bearer {INGEST_TOKEN}"}
    with running(settings) as url, httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        assert http.get("/health").status_code == 200

        ready = http.get("/ready")
        assert ready.status_code == 503
        assert ready.json() == {"detail": "database unreachable"}

        ingest = http.post(
            "/api/v1/ingest",
            json={"data_type": "daily_sleep", "documents": example_documents("daily_sleep")},
        )
        assert ingest.status_code == 503
        assert ingest.json() == {"detail": "database unavailable"}

        stored = http.get("/api/v1/metrics/daily_sleep")
        assert stored.status_code == 503
        assert stored.json() == {"detail": "database unavailable"}

        metrics = http.get("/metrics")
        assert metrics.status_code == 200
        assert 'myhealth_db_up{service="processor"} 0.0' in metrics.text
        assert 'myhealth_ingest_requests_rejected_total{reason="database"} 1.0' in metrics.text
