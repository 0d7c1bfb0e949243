"""The OpenAPI document: complete and precise, and the API keeps to it under schemathesis."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from .conftest import API_KEY
from .process import running_api

ROUTES = {
    ("post", "/auth/login"),
    ("get", "/api/v1/sleep"),
    ("get", "/api/v1/activity"),
    ("get", "/api/v1/readiness"),
    ("get", "/api/v1/dashboard"),
    ("get", "/api/v1/trends/{metric}"),
    ("get", "/api/v1/data/{type}"),
    ("get", "/api/v1/heart_rate"),
    ("get", "/api/v1/insights"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/metrics"),
}


@pytest.fixture(scope="module")
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_every_route_is_documented(document: dict[str, Any]) -> None:
    documented = {(m, p) for p, ops in document["paths"].items() for m in ops}
    assert documented == ROUTES


def test_json_responses_have_models(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), (method, path)
            for status, response in operation["responses"].items():
                content = response.get("content", {})
                if path == "/metrics" and status == "200":
                    assert "text/plain" in content
                    continue
                schema = content["application/json"]["schema"]
                assert "$ref" in schema, (method, path, status, schema)


def test_errors_are_documented(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for path in (
        "/api/v1/sleep",
        "/api/v1/dashboard",
        "/api/v1/trends/{metric}",
        "/api/v1/data/{type}",
        "/api/v1/heart_rate",
        "/api/v1/insights",
    ):
        responses = paths[path]["get"]["responses"]
        assert {"200", "401", "422", "429"} <= responses.keys(), path
        assert responses["401"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/ErrorResponse"
        )
        assert paths[path]["get"]["security"] == [{"HTTPBearer": []}]
    assert "404" in paths["/api/v1/trends/{metric}"]["get"]["responses"]
    assert "404" in paths["/api/v1/data/{type}"]["get"]["responses"]
    assert "404" in paths["/api/v1/insights"]["get"]["responses"]
    login = paths["/auth/login"]["post"]
    assert {"200", "401", "422", "429"} <= login["responses"].keys()
    assert "security" not in login
    parameters = paths["/api/v1/trends/{metric}"]["get"]["parameters"]
    bucket = next(p for p in parameters if p["name"] == "bucket")
    assert bucket["schema"]["enum"] == ["day", "week", "month"]
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_interactive_docs_page(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "swagger-ui" in response.text
    assert "cdn.jsdelivr.net" not in response.headers["Content-Security-Policy"]
    assert "/openapi.json" in client.get("/docs/static/start.js").text


def test_schemathesis_finds_no_failures(filled_database_url: str, tmp_path: Path) -> None:
    """Property-based run over every operation: no 5xx, every response (and status code,
    content type and header) as documented, invalid input rejected, auth enforced.
    `positive_data_acceptance` is off because two rules cannot be written in OpenAPI
    (start_date <= end_date, at most 3660 days): schema-valid ranges can rightly get 422."""
    with running_api(filled_database_url, tmp_path, RATE_LIMIT_PER_MINUTE="1000000") as api:
        login = httpx.post(f"{api.url}/auth/login", json={"api_key": API_KEY})
        token = login.json()["access_token"]
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"{api.url}/openapi.json",
                "--checks=all",
                "--exclude-checks=positive_data_acceptance",
                "--phases=examples,coverage,fuzzing",
                "--max-examples=25",
                "--seed=20261125",
                "--workers=1",  # hypothesis parses lambdas with `ast`, which races under threads
                "--request-timeout=10",
                "--no-color",
                "--header",
                f"Authorization: Bearer {token}",
            ],
            cwd=tmp_path,  # it writes a .schemathesis/ cache into the working directory
            capture_output=True,
            text=True,
            timeout=280,
            check=False,
        )
        (tmp_path / "schemathesis.txt").write_text(result.stdout + result.stderr)
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
        assert "No issues found" in result.stdout
        assert "12 selected / 12 total" in result.stdout
