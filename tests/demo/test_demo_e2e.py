"""`make demo` end to end: sandbox -> collect -> processor -> PostgreSQL -> API, as a person
would use it (the printed curl works), and Ctrl-C leaves nothing running."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from myhealth.storage.local_cluster import free_port

from .test_demo import _listening, _processes_mentioning


def _argv(tmp_path: Path, ports: dict[str, int], *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "myhealth.demo",
        *extra,
        "--workdir",
        str(tmp_path),
        *(arg for name, port in ports.items() for arg in (f"--{name}-port", str(port))),
    ]


def _ports() -> dict[str, int]:
    return {"api": free_port(), "processor": free_port(), "sandbox": free_port()}


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}


def test_demo_backfills_a_year_and_serves_it(tmp_path: Path) -> None:
    ports = _ports()
    demo = subprocess.Popen(
        _argv(tmp_path, ports),
        env=_environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert demo.stdout is not None
    lines = []
    for line in demo.stdout:
        lines.append(line)
        if "Press Ctrl-C" in line:
            break
    output = "".join(lines)
    assert "Backfill complete" in output, output
    curl = next(line for line in lines if line.startswith("curl "))
    dashboard = json.loads(
        subprocess.run(
            ["bash", "-c", curl], capture_output=True, text=True, check=True, timeout=60
        ).stdout
    )
    assert dashboard["date"] is not None
    assert dashboard["sleep"]["avg_30d"] is not None
    assert dashboard["last_sync"]["status"] == "succeeded"
    assert f"http://127.0.0.1:{ports['api']}/docs" in output
    demo.send_signal(signal.SIGINT)
    output += demo.stdout.read()
    assert demo.wait(timeout=60) == 0, output
    cluster = re.search(r"throwaway cluster on 127\.0\.0\.1:(\d+) \(in (\S+),", output)
    assert cluster, output
    assert not _processes_mentioning(cluster[2])
    assert not Path(cluster[2]).exists()
    for port in [*ports.values(), int(cluster[1])]:
        assert not _listening(port), port


def test_demo_exit_after_backfill(tmp_path: Path) -> None:
    ports = _ports()
    result = subprocess.run(
        _argv(tmp_path, ports, "--exit-after-backfill", "--days", "30"),
        env=_environ(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-5000:]
    assert "API serves data up to" in result.stdout
    # It ends with the terminal view, plain text since stdout is not a terminal here.
    summary = result.stdout[result.stdout.index("myhealth summary") :]
    assert re.search(r"myHealth — latest day \d{4}-\d{2}-\d{2}", summary), summary
    assert "Sync: last run succeeded" in summary
    assert "\x1b[" not in summary
    # Everything `myhealth collect` needs is printed next to the API key.
    assert f"Processor:         http://127.0.0.1:{ports['processor']}" in result.stdout
    assert re.search(r"Ingest token:\s+\S{20,}\s+\(INGEST_TOKEN\)", result.stdout)
    for port in ports.values():
        assert not _listening(port), port
