"""`python -m myhealth.demo`: whatever happens, nothing it started is left running.

(The full run, `--exit-after-backfill` through sandbox -> collect -> processor -> API, needs
the sandbox, processor and collector; its test lives with the end-to-end tests.)
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from myhealth.storage.local_cluster import free_port


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{entry.name}: {cmdline}")
    return found


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _demo(workdir: Path, ports: dict[str, int], *extra: str) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.Popen(
        [
            sys.executable, "-m", "myhealth.demo", "--exit-after-backfill", "--days", "3",
            "--workdir", str(workdir),
            "--api-port", str(ports["api"]),
            "--processor-port", str(ports["processor"]),
            "--sandbox-port", str(ports["sandbox"]),
            *extra,
        ],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


def test_interrupted_demo_leaves_nothing_running(tmp_path: Path) -> None:
    ports = {"api": free_port(), "processor": free_port(), "sandbox": free_port()}
    demo = _demo(tmp_path, ports)
    assert demo.stdout is not None
    seen = []
    interrupted = False
    for line in demo.stdout:
        seen.append(line)
        if "Database migrated" in line:
            time.sleep(0.5)  # in the middle of starting the services
            demo.send_signal(signal.SIGINT)
            interrupted = True
            break
    output = "".join(seen) + demo.stdout.read()
    code = demo.wait(timeout=120)
    cluster = re.search(r"throwaway cluster on 127\.0\.0\.1:(\d+) \(in (\S+),", output)
    assert cluster, output
    cluster_port, cluster_root = int(cluster[1]), cluster[2]
    assert "Stopped everything the demo started." in output, output
    # Interrupted: exit 0. If a service could not start before the signal, that is reported.
    assert code == (0 if interrupted and "✗" not in output else 1), output
    assert not _processes_mentioning(cluster_root), output
    assert not Path(cluster_root).exists(), "the throwaway cluster was not removed"
    for port in [*ports.values(), cluster_port]:
        assert not _listening(port), port


@pytest.mark.parametrize("busy", ["api", "sandbox"])
def test_a_busy_port_is_reported_before_anything_starts(tmp_path: Path, busy: str) -> None:
    ports = {"api": free_port(), "processor": free_port(), "sandbox": free_port()}
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", ports[busy]))
        blocker.listen()
        demo = _demo(tmp_path, ports)
        output, _ = demo.communicate(timeout=120)
    assert demo.returncode == 1
    assert f"port {ports[busy]} (the {busy}) is in use" in output
    assert f"--{busy}-port" in output
    assert "PostgreSQL" not in output  # nothing was started
