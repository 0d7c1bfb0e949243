"""`myhealth api` as a process: fail-fast configuration and podinfo-style graceful shutdown."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .process import api_environ, running_api


@pytest.mark.parametrize(
    ("missing", "override", "message"),
    [
        pytest.param("JWT_SECRET", {}, "JWT_SECRET is required but not set", id="no-jwt-secret"),
        pytest.param("API_KEY", {}, "API_KEY is required but not set", id="no-api-key"),
        pytest.param(None, {"JWT_SECRET": "short"}, "JWT_SECRET is invalid", id="weak-secret"),
        pytest.param(
            None,
            {"TRUSTED_PROXIES": "10.0.0.0/8,nope"},
            "TRUSTED_PROXIES is invalid",
            id="bad-proxy",
        ),
        pytest.param(None, {"CORS_ORIGINS": "*"}, "CORS_ORIGINS is invalid", id="wildcard-cors"),
    ],
)
def test_refuses_to_start_with_bad_settings(
    missing: str | None, override: dict[str, str], message: str
) -> None:
    environ = api_environ("postgresql://x@127.0.0.1:1/x", 1, **override)
    if missing:
        del environ[missing]
    result = subprocess.run(
        [sys.executable, "-m", "myhealth", "api"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "0123456789" not in result.stderr  # no secret echoed


def test_sigterm_turns_not_ready_then_drains(filled_database_url: str, tmp_path: Path) -> None:
    with running_api(filled_database_url, tmp_path, API_SHUTDOWN_DELAY_SECONDS="2") as api:
        assert httpx.get(f"{api.url}/ready").json() == {"status": "ready"}
        api.process.send_signal(signal.SIGTERM)
        # Still serving during the delay, but telling load balancers to go away (polled: the
        # signal takes a moment to arrive).
        deadline = time.monotonic() + 2
        while (ready := httpx.get(f"{api.url}/ready")).status_code != 503:
            assert time.monotonic() < deadline, "never turned not-ready"
            time.sleep(0.02)
        assert ready.status_code == 503
        assert ready.json() == {"status": "shutting down"}
        assert httpx.get(f"{api.url}/health").status_code == 200
        assert api.process.wait(timeout=20) == 0
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{api.url}/health", timeout=1)
