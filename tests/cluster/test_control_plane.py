"""The control plane's processes never outlive the tests: stopped when starting fails, and
killed with their parent when pytest itself is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from .control_plane import ControlPlane, ControlPlaneError


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, already dead but not yet reaped, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_gone(pid: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while alive(pid):
        assert time.monotonic() < deadline, f"process {pid} still running"
        time.sleep(0.1)


def test_a_failed_start_stops_etcd(bindir: Path, tmp_path: Path) -> None:
    """kube-apiserver exits at once (here: /bin/false); start() reports it and stops etcd."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "etcd").symlink_to(bindir / "etcd")
    (fake / "kube-apiserver").symlink_to("/bin/false")
    plane = ControlPlane(tmp_path, fake)
    started: list[int] = []
    original = plane._spawn

    def spawn(name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        process = original(name, argv)
        started.append(process.pid)
        return process

    plane._spawn = spawn  # type: ignore[method-assign]
    with pytest.raises(ControlPlaneError, match="kube-apiserver exited with 1"):
        plane.start()
    assert len(started) == 2
    for pid in started:
        assert not alive(pid)
    assert plane.running_pids() == []


def test_etcd_dies_with_a_killed_parent(bindir: Path, tmp_path: Path) -> None:
    """A parent killed with SIGKILL runs no cleanup; the parent-death signal still ends etcd."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from tests.cluster.control_plane import ControlPlane
        plane = ControlPlane(Path({str(tmp_path)!r}), Path({str(bindir)!r}))
        plane._start_etcd()
        print(plane.running_pids()[0], flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert parent.stdout is not None
        etcd = int(parent.stdout.readline())
        assert alive(etcd)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        wait_gone(etcd)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
