"""A throwaway Kubernetes control plane for the tests: etcd and kube-apiserver as plain processes.

`ControlPlane(workdir, bindir).start()` starts etcd and kube-apiserver on free 127.0.0.1 ports
with a data directory, a self-signed serving certificate (the API server makes it in its
cert dir), a service-account key and a static token file whose one token is in
`system:masters`; it returns once `/readyz` answers ok and writes a kubeconfig. There is no
kubelet, scheduler or controller-manager: objects are stored and admitted, pods never run.

The processes are started in their own session (a Ctrl-C on the terminal reaches pytest, which
then stops them in order) with a parent-death signal, so they die with pytest even if pytest is
killed outright. `stop()` ends them by pid; the working directory (logs, etcd data, certs,
kubeconfig) belongs to the caller.
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from http import HTTPStatus
from pathlib import Path
from typing import Any

from myhealth.storage.local_cluster import free_port

CONTEXT = "myhealth-test"
READY_TIMEOUT_SECONDS = 120.0
_PR_SET_PDEATHSIG = 1
_MAX_ATTEMPTS = 10


class ControlPlaneError(RuntimeError):
    """The control plane did not start; the message carries the tail of the process log."""


def _die_with_parent(parent_pid: int) -> None:
    """Runs in the child before exec: SIGKILL this process when its parent (pytest) dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    # The parent may have died between fork and prctl; then nobody would ever signal us.
    if os.getppid() != parent_pid:
        os._exit(1)


def _tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return f"({path.name}: no output)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class ControlPlane:
    def __init__(self, workdir: Path, bindir: Path) -> None:
        self.workdir = workdir
        self.bindir = bindir
        self.etcd_port = free_port()
        self.etcd_peer_port = free_port()
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.kubeconfig = workdir / "kubeconfig"
        self.ca_file = workdir / "certs" / "apiserver.crt"
        self._processes: list[tuple[str, subprocess.Popen[bytes]]] = []

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> ControlPlane:
        try:
            self._start_etcd()
            self._start_apiserver()
            self._wait_ready()
            self._write_kubeconfig()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop kube-apiserver, then etcd (by pid: SIGTERM, then SIGKILL after 10 s)."""
        while self._processes:
            _, process = self._processes.pop()
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def running_pids(self) -> list[int]:
        return [p.pid for _, p in self._processes if p.poll() is None]

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("wb")
        parent = os.getpid()
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: _die_with_parent(parent),
        )
        log.close()
        self._processes.append((name, process))
        return process

    def _start_etcd(self) -> None:
        client = f"http://127.0.0.1:{self.etcd_port}"
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        self._spawn(
            "etcd",
            [
                str(self.bindir / "etcd"),
                "--name=default",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=default={peer}",
                "--listen-metrics-urls=",
                # Throwaway data: durability buys nothing and fsync is slow on a busy disk.
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )

    def _start_apiserver(self) -> None:
        key = self.workdir / "service-account.key"
        subprocess.run(
            ["openssl", "genrsa", "-out", str(key), "2048"],
            check=True,
            capture_output=True,
        )
        tokens = self.workdir / "tokens.csv"
        # token,user,uid,"group": the admin the tests (helm, kubectl) authenticate as.
        tokens.write_text(f'{self.token},admin,admin,"system:masters"\n')
        tokens.chmod(0o600)
        self._spawn(
            "kube-apiserver",
            [
                str(self.bindir / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
                "--bind-address=127.0.0.1",
                f"--secure-port={self.port}",
                f"--cert-dir={self.workdir / 'certs'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={key}",
                f"--service-account-signing-key-file={key}",
                f"--token-auth-file={tokens}",
                "--authorization-mode=RBAC",
                # PodSecurity is on by default; named so that nobody switches it off unnoticed.
                # NodeRestriction is off by default and stays off (there are no nodes).
                "--enable-admission-plugins=PodSecurity",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--allow-privileged=false",
                "--profiling=false",
                "--v=0",
            ],
        )

    def _ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def request(self, method: str, path: str, body: Any = None, content_type: str = "") -> Any:
        """One authenticated API call as the admin; the decoded JSON answer. Like client-go,
        it retries a 429 (e.g. a new CRD's watch cache still initialising) after Retry-After."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - https to our own server
            self.server + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": content_type or "application/json",
                "Accept": "application/json",
            },
        )
        for attempt in range(_MAX_ATTEMPTS):
            try:
                with urllib.request.urlopen(  # noqa: S310
                    request, timeout=30, context=self._ssl_context()
                ) as reply:
                    return json.loads(reply.read() or b"null")
            except urllib.error.HTTPError as error:
                if error.code != HTTPStatus.TOO_MANY_REQUESTS or attempt == _MAX_ATTEMPTS - 1:
                    raise
                time.sleep(min(float(error.headers.get("Retry-After") or 1), 5.0))
        raise AssertionError("unreachable")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            for name, process in self._processes:
                if process.poll() is not None:
                    raise ControlPlaneError(
                        f"{name} exited with {process.returncode}:\n"
                        + _tail(self.workdir / f"{name}.log")
                    )
            if self.ca_file.exists():
                try:
                    request = urllib.request.Request(  # noqa: S310 - https to our own server
                        self.server + "/readyz",
                        headers={"Authorization": f"Bearer {self.token}"},
                    )
                    with urllib.request.urlopen(  # noqa: S310
                        request, timeout=5, context=self._ssl_context()
                    ) as reply:
                        if reply.read() == b"ok":
                            return
                except (urllib.error.URLError, ConnectionError, ssl.SSLError, TimeoutError) as exc:
                    last_error = str(exc)
            time.sleep(0.25)
        raise ControlPlaneError(
            f"kube-apiserver not ready after {READY_TIMEOUT_SECONDS:.0f} s ({last_error}):\n"
            + _tail(self.workdir / "kube-apiserver.log")
        )

    def _write_kubeconfig(self) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": CONTEXT,
                    "cluster": {
                        "server": self.server,
                        "certificate-authority": str(self.ca_file),
                    },
                }
            ],
            "users": [{"name": "admin", "user": {"token": self.token}}],
            "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": "admin"}}],
            "current-context": CONTEXT,
        }
        self.kubeconfig.write_text(json.dumps(config, indent=2))
        self.kubeconfig.chmod(0o600)
