"""Run `python -m myhealth api` as a real process on 127.0.0.1 (for the tests that need a
socket: graceful shutdown, schemathesis)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from myhealth.storage.local_cluster import free_port

from . import dataset
from .conftest import API_KEY, JWT_SECRET


@dataclass
class ApiProcess:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def api_environ(database_url: str, port: int, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(Path.home()),
        "DATABASE_URL": database_url,
        "API_KEY": API_KEY,
        "JWT_SECRET": JWT_SECRET,
        "USER_TIMEZONE": dataset.USER_TIMEZONE,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "warning",
        **extra,
    }


@contextmanager
def running_api(database_url: str, log_dir: Path, **extra: str) -> Iterator[ApiProcess]:
    port = free_port()
    log = log_dir / f"api-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "myhealth", "api"],
            env=api_environ(database_url, port, **extra),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    api = ApiProcess(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{api.url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not become ready:\n{api.output()}")
            time.sleep(0.1)
        yield api
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
