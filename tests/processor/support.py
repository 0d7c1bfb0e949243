"""Helpers shared by the processor tests (documents from tests/data/oura, HTTP calls)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from myhealth.platform.config import ProcessorSettings, load

DATA = Path(__file__).parent.parent / "data" / "oura"
INGEST_TOKEN = "test-ingest-token-0123456789"


def example_documents(data_type: str) -> list[dict[str, Any]]:
    """Every distinct document of a data type in the test data (recorded or hand-built)."""
    recorded = DATA / "examples" / f"{data_type}.json"
    documents: list[dict[str, Any]] = []
    if recorded.exists():
        for example in json.loads(recorded.read_text())["examples"]:
            body = example["body"]
            if isinstance(body, dict) and isinstance(body.get("data"), list):
                documents.extend(body["data"])
            elif isinstance(body, dict) and ("id" in body or "timestamp" in body):
                documents.append(body)
    else:
        documents = json.loads((DATA / "handbuilt.json").read_text())[data_type]
    unique: dict[str, dict[str, Any]] = {}
    for document in documents:
        if "id" in document:
            key = str(document["id"])
        elif "bpm" in document:
            key = f"{document['timestamp']}|{document['source']}"
        else:  # cardiovascular age may come without an id: keyed by day
            key = str(document["day"])
        unique[key] = document
    return list(unique.values())


def processor_settings(database_url: str, **overrides: str) -> ProcessorSettings:
    environ = {"DATABASE_URL": database_url, "INGEST_TOKEN": INGEST_TOKEN, **overrides}
    return load(ProcessorSettings, environ)


def ingest(client: httpx.Client, data_type: str, documents: list[Any]) -> dict[str, Any]:
    response = client.post("/api/v1/ingest", json={"data_type": data_type, "documents": documents})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
