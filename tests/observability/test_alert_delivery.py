"""Alerts reach the owner, end to end with real parts: the sandbox, a real `myhealth collect`,
the processor and the API as processes on a throwaway PostgreSQL; Debian's Prometheus 2.42
scraping them with the project's rule files; Alertmanager 0.25 with the configuration rendered
from the project's template; a local HTTP server standing in for ntfy and the webhook.

Only time is compressed (alert_stack.py says exactly how). Each test first watches the healthy
system for QUIET_SECONDS and requires that nothing arrives, then causes one fault and requires
its alert to arrive within the same time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from myhealth.storage.local_cluster import LocalCluster
from tests.processes import Service, myhealth_environ, wait_until

from .alert_stack import (
    ALERTMANAGER_DIR,
    Delivery,
    Receiver,
    Servers,
    SmtpReceiver,
    ntfy_render,
    prometheus_and_alertmanager,
)

QUIET_SECONDS = 15.0
INGEST_TOKEN = "alert-test-ingest-token"
NTFY_TOKEN = "tk_alert-test-ntfy-token"
WEBHOOK_TOKEN = "alert-test-webhook-token"
SYNCED_TYPES = ["daily_sleep", "daily_activity", "daily_readiness", "sleep", "heartrate"]
# What the insights are computed from: a long history of these, heart rate only recently.
DAILY_TYPES = ["daily_sleep", "daily_activity", "daily_readiness", "sleep"]
RECENT_DAYS = 3
_databases = iter(range(10**6))


@dataclass
class Stack:
    servers: Servers
    receiver: Receiver
    smtp: SmtpReceiver
    processor: Service
    sandbox: Service
    database_url: str

    def webhook(self) -> list[Delivery]:
        return self.receiver.received("/webhook")

    def ntfy(self) -> list[Delivery]:
        return self.receiver.received("/ntfy/myhealth")


def _collect(
    database_url: str,
    sandbox: Service,
    processor: Service,
    days: int,
    types: list[str],
    log: Path,
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    environ = myhealth_environ(
        DATABASE_URL=database_url,
        USER_TIMEZONE="UTC",
        OURA_API_BASE_URL=sandbox.url,
        OURA_API_KEY="sandbox-accepts-any-bearer",
        PROCESSOR_URL=processor.url,
        INGEST_TOKEN=INGEST_TOKEN,
    )
    argv = ["collect", "--no-progress", "--start-date", str(today - dt.timedelta(days=days - 1)),
            "--data-types", ",".join(types)]  # fmt: skip
    with log.open("ab") as sink:
        result = subprocess.run(
            [sys.executable, "-m", "myhealth", *argv],
            env=environ,
            stdout=sink,
            stderr=subprocess.STDOUT,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, f"collect failed: see {log}"


@contextlib.contextmanager
def running_stack(tmp_path: Path, pg_cluster: LocalCluster, history_days: int) -> Iterator[Stack]:
    """A healthy myHealth with `history_days` of synced sandbox data, watched by Prometheus
    and Alertmanager."""
    database_url = pg_cluster.create_database(
        f"alerts_{next(_databases)}", template="myhealth_template"
    )
    with contextlib.ExitStack() as stack:
        sandbox, processor, api = services = [
            Service("sandbox", myhealth_environ(USER_TIMEZONE="UTC", SANDBOX_SEED="7"),
                    tmp_path / "sandbox.log"),
            Service("processor",
                    myhealth_environ(DATABASE_URL=database_url, INGEST_TOKEN=INGEST_TOKEN),
                    tmp_path / "processor.log"),
            Service("api", myhealth_environ(
                        DATABASE_URL=database_url,
                        USER_TIMEZONE="UTC",
                        API_KEY="alert-test-api-key",
                        JWT_SECRET="alert-test-jwt-secret-0123456789abcdef",
                    ), tmp_path / "api.log"),
        ]  # fmt: skip
        for running in services:
            stack.callback(running.stop)
        # Side by side: each one spends seconds importing on a busy machine.
        with ThreadPoolExecutor(len(services)) as pool:
            list(pool.map(Service.start, services))
        log = tmp_path / "collect.log"
        if history_days > RECENT_DAYS:
            _collect(database_url, sandbox, processor, history_days, DAILY_TYPES, log)
        _collect(database_url, sandbox, processor, RECENT_DAYS, SYNCED_TYPES, log)
        receiver = stack.enter_context(Receiver().serving())
        smtp = stack.enter_context(SmtpReceiver().serving())
        (tmp_path / "ntfy-token").write_text(NTFY_TOKEN)
        (tmp_path / "webhook-token").write_text(WEBHOOK_TOKEN)
        servers = stack.enter_context(
            prometheus_and_alertmanager(
                tmp_path,
                targets={
                    name: running.url.removeprefix("http://")
                    for name, running in (
                        ("processor", processor),
                        ("api", api),
                        ("sandbox", sandbox),
                    )
                },
                alertmanager_environ={
                    "ALERTS_TEMPLATES_DIR": str(ALERTMANAGER_DIR / "templates"),
                    "ALERTS_NTFY_URL": f"{receiver.url}/ntfy/myhealth",
                    "ALERTS_NTFY_TOKEN_FILE": str(tmp_path / "ntfy-token"),
                    "ALERTS_WEBHOOK_URL": f"{receiver.url}/webhook",
                    "ALERTS_WEBHOOK_TOKEN_FILE": str(tmp_path / "webhook-token"),
                    "ALERTS_EMAIL_TO": "owner@example.org",
                    "ALERTS_EMAIL_FROM": "myhealth@example.org",
                    "ALERTS_SMTP_SMARTHOST": smtp.address,
                },
            )
        )
        yield Stack(servers, receiver, smtp, processor, sandbox, database_url)


def _print(title: str, deliveries: list[Delivery]) -> None:
    print(f"\n=== {title}: {len(deliveries)} notification(s)")
    for delivery in deliveries:
        print(delivery.describe())


def _watch_quietly(stack: Stack) -> None:
    """(a) The healthy system over QUIET_SECONDS: no notification at all, and no alert even
    pending in Prometheus (with every `for:` compressed, pending is as good as firing)."""
    deadline = time.monotonic() + QUIET_SECONDS
    active: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not active:
        active = stack.servers.firing()
        time.sleep(0.5)
    assert active == [], f"alerts on a healthy system: {active}"
    assert stack.receiver.deliveries == [], [d.describe() for d in stack.receiver.deliveries]
    assert stack.smtp.received() == [], [m.message["Subject"] for m in stack.smtp.received()]
    print(f"\n=== healthy for {QUIET_SECONDS:.0f} s: nothing received, no alert pending")


def _arrival(stack: Stack, alertname: str, since: float) -> Delivery:
    """The webhook's notification of `alertname`, once it reached the webhook, ntfy and the
    mailbox (Alertmanager notifies them side by side)."""
    wait_until(
        lambda: (
            all(
                any(alertname in d.alertnames() for d in deliveries)
                for deliveries in (stack.webhook(), stack.ntfy())
            )
            and bool(stack.smtp.received())
        ),
        f"{alertname} at the webhook, ntfy and the mailbox within {QUIET_SECONDS} s "
        f"(logs: {stack.servers.logs})",
        timeout=QUIET_SECONDS,
    )
    delivery = next(d for d in stack.webhook() if alertname in d.alertnames())
    print(f"\n=== {alertname} arrived {delivery.at - since:.1f} s after the fault")
    return delivery


def _mail(stack: Stack, receiver: str) -> str:
    """The e-mail of `receiver`'s first notification, as the owner reads it (printed)."""
    wait_until(lambda: bool(stack.smtp.received()), "the e-mail", timeout=QUIET_SECONDS)
    (mail,) = stack.smtp.received()
    assert mail.recipients == ["owner@example.org"]
    assert mail.message["To"] == "owner@example.org"
    text = f"Subject: {mail.message['Subject']}\n\n{mail.text()}"
    print(f"\n=== e-mail from {receiver}\n{text}")
    return text


def _ntfy_template(name: str) -> str:
    return (ALERTMANAGER_DIR / name).read_text(encoding="utf-8").strip()


def _ntfy_notification(delivery: Delivery, priority: str, workdir: Path) -> str:
    """What ntfy receives (Alertmanager's webhook JSON, the token, the templates in the query)
    and the notification it makes of it: title, then message (printed)."""
    assert delivery.headers["authorization"] == f"Bearer {NTFY_TOKEN}"
    assert delivery.query["tpl"] == ["1"]
    assert delivery.query["priority"] == [priority]
    title, message = delivery.query["t"][0], delivery.query["m"][0]
    assert title == _ntfy_template("ntfy-title.tmpl")
    assert message == _ntfy_template("ntfy-message.tmpl")
    shown = ntfy_render(title, delivery.body, workdir)
    shown += "\n" + ntfy_render(message, delivery.body, workdir)
    assert "<no value>" not in shown, shown
    print(f"\n=== ntfy notification ({delivery.body['receiver']}, priority {priority})\n{shown}")
    return shown


def test_quiet_while_healthy_then_the_processor_down_alert_arrives(
    tmp_path: Path, pg_cluster: LocalCluster
) -> None:
    with running_stack(tmp_path, pg_cluster, history_days=RECENT_DAYS) as stack:
        _watch_quietly(stack)

        stack.processor.kill()
        killed = time.monotonic()
        delivery = _arrival(stack, "MyhealthServiceMetricsMissing", killed)
        _print("webhook", stack.webhook())
        _print("ntfy", stack.ntfy())

        assert delivery.headers["authorization"] == f"Bearer {WEBHOOK_TOKEN}"
        assert delivery.body["receiver"] == "operations-page"
        assert delivery.body["status"] == "firing"
        # The inhibition leaves the cause alone: nothing else about the dead processor.
        assert {name for d in stack.webhook() for name in d.alertnames()} == {
            "MyhealthServiceMetricsMissing"
        }
        (alert,) = delivery.body["alerts"]
        assert alert["labels"] == {
            "alertname": "MyhealthServiceMetricsMissing",
            "service": "processor",
            "severity": "critical",
            "kind": "operations",
            # prometheus.yml's external labels (the health rules build links from grafana_url)
            "environment": "local",
            "grafana_url": "http://localhost:3000",
        }
        assert alert["annotations"]["summary"] == "processor: no metrics for 10 minutes"
        assert alert["annotations"]["runbook_url"].endswith(
            "docs/runbooks.md#myhealthservicemetricsmissing"
        )
        (ntfy,) = [d for d in stack.ntfy() if d.body["status"] == "firing"]
        # Title, then the message: what happened in words, and what to do.
        assert _ntfy_notification(ntfy, "5", tmp_path) == (
            "processor: no metrics for 10 minutes\n"
            f"{alert['annotations']['description']}\n"
            "What to do: https://github.com/eric-n/myhealth/blob/main/docs/runbooks.md"
            "#myhealthservicemetricsmissing\n"
        )
        mail = _mail(stack, "operations-page")
        assert mail.startswith("Subject: [myHealth] processor: no metrics for 10 minutes\n")
        assert "myHealth problem, act now" in mail
        assert "What to do: https://github.com/eric-n/myhealth/blob/main/docs/runbooks.md" in mail
        assert "Prometheus has not scraped the processor service" in mail


# --- (c) a health insight: HRV under the owner's usual ---------------------------------------

HRV_HISTORY_DAYS = 70
LOW_DAYS = 3


def _lower_hrv(stack: Stack) -> None:
    """Re-ingest the last LOW_DAYS nights with HRV at a third of the usual, through the
    processor's ingest route (the one the collector uses), as if Oura had served them so."""
    with psycopg.connect(stack.database_url) as conn:
        rows = conn.execute(
            "SELECT document FROM oura_documents WHERE data_type = 'sleep' "
            "ORDER BY day DESC LIMIT %s",
            (LOW_DAYS,),
        ).fetchall()
    assert len(rows) == LOW_DAYS
    documents = []
    for (document,) in rows:
        low = dict(document)
        low["average_hrv"] = max(5, round((document.get("average_hrv") or 45) / 3))
        documents.append(low)
    response = httpx.post(
        f"{stack.processor.url}/api/v1/ingest",
        json={"data_type": "sleep", "documents": documents},
        headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
        timeout=30,
    )
    response.raise_for_status()


def _hrv_flag(stack: Stack) -> bool:
    text = httpx.get(f"{stack.processor.url}/metrics", timeout=5).text
    return (
        re.search(r'^myhealth_insight_flag\{[^}]*flag="hrv_low"[^}]*\} 1(\.0)?$', text, re.M)
        is not None
    )


def test_quiet_while_normal_then_the_hrv_alert_arrives(
    tmp_path: Path, pg_cluster: LocalCluster
) -> None:
    with running_stack(tmp_path, pg_cluster, history_days=HRV_HISTORY_DAYS) as stack:
        _watch_quietly(stack)

        _lower_hrv(stack)
        lowered = time.monotonic()
        wait_until(
            lambda: _hrv_flag(stack),
            "myhealth_insight_flag{flag=hrv_low} = 1 on the processor's /metrics after the low "
            "nights went through /api/v1/ingest (if the insights are computed by `collect`, not "
            "on ingest, this test has to run a collect here)",
            timeout=30,
        )
        _arrival(stack, "MyhealthHrvLow", lowered)
        health = [d for d in stack.webhook() if d.body["receiver"] == "health-digest"]
        _print("webhook", stack.webhook())
        _print("ntfy", stack.ntfy())
        print(f"first health notification {health[0].at - lowered:.1f} s after the low nights")

        (alert,) = [a for d in health for a in d.body["alerts"]]
        assert alert["labels"]["kind"] == "health"
        assert alert["labels"]["severity"] == "info"
        assert alert["labels"]["alertname"] == "MyhealthHrvLow"
        assert re.search(r"\d", alert["annotations"]["summary"]), "the summary carries numbers"
        assert "/d/myhealth-today" in alert["annotations"]["dashboard_url"]
        (ntfy,) = [d for d in stack.ntfy() if d.body["receiver"] == "health-digest"]
        shown = _ntfy_notification(ntfy, "3", tmp_path)
        assert alert["annotations"]["summary"] in shown
        assert "Today: " in shown
        mail = _mail(stack, "health-digest")
        assert "myHealth health note" in mail
        assert "See it on your Today dashboard: " in mail
        assert "/d/myhealth-today" in mail
