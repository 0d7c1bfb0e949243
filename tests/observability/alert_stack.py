"""Real Prometheus and Alertmanager around the running myHealth services, for the end-to-end
alert test (test_alert_delivery.py).

What is real: the Prometheus 2.42 and Alertmanager 0.25 binaries (Debian's, installed by
tools/install-alerting.sh), the scrape jobs and `alerting:` section of
observability/prometheus/prometheus.yml, every rule of observability/prometheus/rules/ with its
expression, labels and annotations, and the Alertmanager configuration rendered from
observability/alertmanager/alertmanager.yml.tmpl by the project's renderer (routes, matchers,
receivers, inhibitions, the ntfy templates).

What is changed, so a test takes seconds instead of hours: time, and TLS towards the test's
own SMTP server (smtp_require_tls is turned off: it speaks plain SMTP on 127.0.0.1). Every rule's
`for:` and every route's group_wait/group_interval/repeat_interval is divided by TIME_SCALE
(a `for:` never drops under MIN_FOR, so a target's first scrape always lands before an
absence can fire), and Prometheus scrapes and evaluates every second. Range selectors and
thresholds (`[5m]`, `> 6 * 3600`) are untouched. The real durations are proven separately by
the promtool unit tests (observability/prometheus/tests/) and by test_alertmanager_config.py.
"""

from __future__ import annotations

import contextlib
import email
import email.message
import email.policy
import functools
import json
import re
import shutil
import signal
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import yaml

from myhealth.alerting import render
from myhealth.storage.local_cluster import free_port
from tests.processes import wait_until

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / ".tools" / "bin"
PROMETHEUS = TOOLS / "prometheus"
ALERTMANAGER = TOOLS / "alertmanager"
AMTOOL = TOOLS / "amtool"
RULES_DIR = REPO / "observability" / "prometheus" / "rules"
PROMETHEUS_CONFIG = REPO / "observability" / "prometheus" / "prometheus.yml"
ALERTMANAGER_DIR = REPO / "observability" / "alertmanager"
ALERTMANAGER_TEMPLATE = ALERTMANAGER_DIR / "alertmanager.yml.tmpl"
NTFY_RENDERER = Path(__file__).parent / "ntfy_template" / "main.go"

TIME_SCALE = 300
MIN_FOR_SECONDS = 5.0
SCRAPE_SECONDS = 1

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


def seconds(duration: str) -> float:
    """A Prometheus duration ("1h30m", "10s") in seconds."""
    parts = _DURATION.findall(duration)
    assert parts, f"not a duration: {duration}"
    assert "".join(n + u for n, u in parts) == duration, f"not a duration: {duration}"
    return sum(int(number) * _UNITS[unit] for number, unit in parts)


def _milliseconds(value: float) -> str:
    return f"{max(1, round(value * 1000))}ms"


def scaled_rules(path: Path) -> dict[str, Any]:
    """The rule file with every `for:` divided by TIME_SCALE (at least MIN_FOR_SECONDS)."""
    rules: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = _milliseconds(max(seconds(rule["for"]) / TIME_SCALE, MIN_FOR_SECONDS))
    return rules


def scaled_routes(route: dict[str, Any]) -> None:
    """Divide the route tree's group_wait/group_interval/repeat_interval by TIME_SCALE."""
    for key in ("group_wait", "group_interval", "repeat_interval"):
        if key in route:
            route[key] = _milliseconds(seconds(route[key]) / TIME_SCALE)
    for child in route.get("routes", []):
        scaled_routes(child)


def ntfy_render(template: str, body: dict[str, Any], workdir: Path) -> str:
    """`template` filled from the JSON `body` as the ntfy server does it (ntfy_template/)."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    assert Path(go).exists(), "go is missing (make tools needs it for kube-apiserver too)"
    path = workdir / "ntfy.tmpl"
    path.write_text(template, encoding="utf-8")
    result = subprocess.run(
        [go, "run", str(NTFY_RENDERER), str(path)],
        input=json.dumps(body),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@dataclass
class Delivery:
    """One HTTP request Alertmanager made to the local receiver."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: dict[str, Any]
    at: float

    def alertnames(self) -> set[str]:
        return {alert["labels"]["alertname"] for alert in self.body["alerts"]}

    def describe(self) -> str:
        lines = [f"{self.path} receiver={self.body['receiver']} status={self.body['status']}"]
        for alert in self.body["alerts"]:
            labels = ",".join(f"{k}={v}" for k, v in sorted(alert["labels"].items()))
            lines.append(f"  {alert['status']} {{{labels}}}")
            for name, value in sorted(alert["annotations"].items()):
                lines.append(f"    {name}: {value}")
        return "\n".join(lines)


@dataclass
class Receiver:
    """A local HTTP server standing in for ntfy and the generic webhook: it records every
    request Alertmanager makes and answers 200."""

    deliveries: list[Delivery] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)

    def received(self, path: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.path == path]

    @contextlib.contextmanager
    def serving(self) -> Iterator[Receiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                parts = urlsplit(self.path)
                receiver.record(
                    Delivery(
                        path=parts.path,
                        query=parse_qs(parts.query),
                        headers={k.lower(): v for k, v in self.headers.items()},
                        body=body,
                        at=time.monotonic(),
                    )
                )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test prints what it received

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        with serving(server):
            yield self


@contextlib.contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[None]:
    """Run `server` on a thread until the block ends."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: email.message.EmailMessage
    at: float

    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        assert body is not None, "no text/plain part"
        return str(body.get_content())


@dataclass
class SmtpReceiver:
    """A minimal SMTP server (EHLO, MAIL, RCPT, DATA, QUIT; no TLS, no AUTH) that keeps every
    message Alertmanager's e-mail receiver sends."""

    mails: list[Mail] = field(default_factory=list)
    address: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> list[Mail]:
        with self._lock:
            return list(self.mails)

    @contextlib.contextmanager
    def serving(self) -> Iterator[SmtpReceiver]:
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 localhost test SMTP")
                sender, recipients = "", list[str]()
                while line := self.rfile.readline():
                    command = line.decode().strip()
                    verb = command[:4].upper()
                    if verb in {"EHLO", "HELO"}:
                        self.reply("250 localhost")
                    elif verb == "MAIL":
                        sender, recipients = command.partition(":")[2].strip(" <>"), list[str]()
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        recipients.append(command.partition(":")[2].strip(" <>"))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 end with .")
                        data = b""
                        while (chunk := self.rfile.readline()) not in {b".\r\n", b""}:
                            data += chunk[1:] if chunk.startswith(b"..") else chunk
                        message = email.message_from_bytes(data, policy=email.policy.default)
                        assert isinstance(message, email.message.EmailMessage)
                        with receiver._lock:
                            receiver.mails.append(
                                Mail(sender, recipients, message, time.monotonic())
                            )
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:  # RSET, NOOP
                        self.reply("250 OK")

        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self.address = f"127.0.0.1:{server.server_address[1]}"
        with serving(server):
            yield self


def render_alertmanager_config(environ: Mapping[str, str], workdir: Path) -> Path:
    """The project's template rendered with `environ`, its route timings scaled, checked by
    amtool. The test's SMTP server speaks no TLS, so STARTTLS is not required of it."""
    config = render.render(ALERTMANAGER_TEMPLATE, environ)
    scaled_routes(config["route"])
    config["global"]["smtp_require_tls"] = False
    path = workdir / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    check = subprocess.run(
        [str(AMTOOL), "check-config", str(path)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    return path


def prometheus_config(
    targets: Mapping[str, str], alertmanager: str, rule_files: list[Path]
) -> dict[str, Any]:
    """observability/prometheus/prometheus.yml with local targets, fast intervals and the
    scaled rule files."""
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    config["global"].update(
        scrape_interval=f"{SCRAPE_SECONDS}s",
        scrape_timeout=f"{SCRAPE_SECONDS}s",
        evaluation_interval=f"{SCRAPE_SECONDS}s",
    )
    config["rule_files"] = [str(path) for path in rule_files]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(targets) <= set(jobs), f"{PROMETHEUS_CONFIG.name} has no job for {targets}"
    config["scrape_configs"] = [
        {**jobs[name], "static_configs": [{"targets": [address]}]}
        for name, address in targets.items()
    ]
    (alerting,) = config["alerting"]["alertmanagers"]
    alerting["static_configs"] = [{"targets": [alertmanager]}]
    return config


@dataclass
class Servers:
    prometheus_url: str
    alertmanager_url: str
    logs: list[Path]

    def firing(self) -> list[dict[str, Any]]:
        """Prometheus's active alerts (pending and firing)."""
        response = httpx.get(f"{self.prometheus_url}/api/v1/alerts", timeout=5)
        alerts: list[dict[str, Any]] = response.json()["data"]["alerts"]
        return alerts

    def rule_groups(self) -> list[dict[str, Any]]:
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(f"{self.prometheus_url}/api/v1/rules", timeout=5)
            groups: list[dict[str, Any]] = response.json()["data"]["groups"]
            return groups
        return []

    def targets_up(self) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(f"{self.prometheus_url}/api/v1/targets", timeout=5)
            active = response.json()["data"]["activeTargets"]
            return bool(active) and all(target["health"] == "up" for target in active)
        return False

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            for log in self.logs
        )


def _running_and_ready(processes: list[subprocess.Popen[bytes]], url: str) -> bool:
    assert all(p.poll() is None for p in processes), "Prometheus or Alertmanager exited"
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
    return False


@contextlib.contextmanager
def prometheus_and_alertmanager(
    workdir: Path, targets: Mapping[str, str], alertmanager_environ: Mapping[str, str]
) -> Iterator[Servers]:
    """Alertmanager with the rendered configuration and Prometheus scraping `targets`
    (job name -> host:port) with the project's rules, both on 127.0.0.1; stopped on exit."""
    for binary in (PROMETHEUS, ALERTMANAGER, AMTOOL):
        assert binary.exists(), f"{binary} is missing: run `make tools`"
    am_config = render_alertmanager_config(alertmanager_environ, workdir)
    rule_files = []
    for path in sorted(RULES_DIR.glob("*.yaml")):
        scaled = workdir / f"scaled.{path.name}"
        scaled.write_text(yaml.safe_dump(scaled_rules(path), sort_keys=False), encoding="utf-8")
        rule_files.append(scaled)
    am_port, prom_port = free_port(), free_port()
    prom_config = workdir / "prometheus.yml"
    # First without rules: Prometheus applies its targets only every 5 s after start, and until
    # the first scrape every service looks absent. Real `for:` durations (10 minutes) cover
    # that; compressed ones would not, so the rules are loaded once every target is up.
    prom_config.write_text(
        yaml.safe_dump(prometheus_config(targets, f"127.0.0.1:{am_port}", [])), encoding="utf-8"
    )
    logs = [workdir / "alertmanager.log", workdir / "prometheus.log"]
    commands = [
        [
            str(ALERTMANAGER),
            f"--config.file={am_config}",
            f"--storage.path={workdir / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",  # one instance: no gossip port
        ],
        [
            str(PROMETHEUS),
            f"--config.file={prom_config}",
            f"--storage.tsdb.path={workdir / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
    ]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for command, log in zip(commands, logs, strict=True):
            with log.open("wb") as sink:
                processes.append(subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT))
        servers = Servers(f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{am_port}", logs)
        for url in (servers.alertmanager_url, servers.prometheus_url):
            wait_until(
                functools.partial(_running_and_ready, processes, url),
                f"{url} ready (logs: {workdir})",
                timeout=30,
            )
        wait_until(servers.targets_up, f"Prometheus scraping {sorted(targets)}", timeout=30)
        prom_config.write_text(
            yaml.safe_dump(prometheus_config(targets, f"127.0.0.1:{am_port}", rule_files)),
            encoding="utf-8",
        )
        processes[1].send_signal(signal.SIGHUP)  # reload: the rules start evaluating now
        wait_until(
            lambda: (
                len(servers.rule_groups())
                == sum(
                    len(yaml.safe_load(path.read_text(encoding="utf-8"))["groups"])
                    for path in rule_files
                )
            ),
            f"Prometheus loading the rules (logs: {workdir})",
            timeout=30,
        )
        yield servers
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
