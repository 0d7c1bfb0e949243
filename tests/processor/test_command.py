"""`myhealth processor` as a process: serves, drains on SIGTERM (not ready first), exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from myhealth.storage.local_cluster import free_port

from .support import INGEST_TOKEN, example_documents

MYHEALTH = str(Path(sys.executable).parent / "myhealth")


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("processor did not come up")


def test_serves_then_drains_on_sigterm(database_url: str) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environ = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "INGEST_TOKEN": INGEST_TOKEN,
    }
    process = subprocess.Popen(
        [MYHEALTH, "processor"], env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_until_up(url, process)
        assert httpx.get(f"{url}/ready", timeout=10).status_code == 200
        batch = {"data_type": "daily_sleep", "documents": example_documents("daily_sleep")}
        response = httpx.post(
            f"{url}/api/v1/ingest",
            json=batch,
            headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
            timeout=30,
        )
        assert response.status_code == 200

        process.send_signal(signal.SIGTERM)
        # Still serving, but no longer ready: polled, the signal takes a moment to arrive.
        deadline = time.monotonic() + 5
        while (ready := httpx.get(f"{url}/ready", timeout=5)).status_code != 503:
            assert time.monotonic() < deadline, "never turned not-ready"
            time.sleep(0.02)
        assert ready.json() == {"detail": "shutting down"}
        assert httpx.get(f"{url}/health", timeout=5).status_code == 200

        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
        _, stderr = process.communicate()
    assert INGEST_TOKEN.encode() not in stderr  # secrets are never logged


def test_missing_database_url_is_one_clear_line() -> None:
    environ = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run(
        [MYHEALTH, "processor"], env=environ, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "myhealth processor: configuration error: DATABASE_URL is required but not set"
    ]
