"""The product's services as real processes (fault suite, processor and collector tests), each
stopped on exit."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from myhealth.storage.local_cluster import free_port


def myhealth_environ(**values: str) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "PG_BINDIR")
    return {
        **{k: os.environ[k] for k in keep if k in os.environ},
        "LOG_LEVEL": "warning",
        **values,
    }


def start(argv: list[str], environ: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "myhealth", *argv],
            env=environ,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def answers(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url, timeout=2).status_code == 200
    return False


@dataclass
class Service:
    """One HTTP service process (`myhealth processor|api|sandbox`)."""

    name: str
    environ: dict[str, str]
    log: Path
    url: str = ""
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {**self.environ, "HOST": "127.0.0.1", "PORT": str(port)}
        self.process = start([self.name], env, self.log)
        process = self.process
        wait_until(
            lambda: process.poll() is None and answers(f"{self.url}/health"),
            f"{self.name} to start (log: {self.log})",
        )
        return self

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, no cleanup."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


@contextlib.contextmanager
def service(name: str, environ: dict[str, str], log_dir: Path) -> Iterator[Service]:
    running = Service(name, environ, log_dir / f"{name}.log")
    try:
        yield running.start()
    finally:
        running.stop()
