"""Configuration is read once, validated, and fails with one line naming the variable."""

from __future__ import annotations

import json

import pytest
import structlog

from myhealth.platform import logging as mh_logging
from myhealth.platform.config import (
    ApiSettings,
    CollectorSettings,
    ConfigError,
    ProcessorSettings,
    load,
)

DB = {"DATABASE_URL": "postgresql://u:pw@db/x"}
API = {**DB, "API_KEY": "k" * 24, "JWT_SECRET": "s" * 40}


@pytest.mark.parametrize(
    ("settings", "environ", "message"),
    [
        (ProcessorSettings, {}, "DATABASE_URL is required but not set"),
        (ApiSettings, {**DB, "API_KEY": "k"}, "JWT_SECRET is required but not set"),
        (ApiSettings, {**API, "JWT_SECRET": "short"}, "JWT_SECRET is invalid: must be at least"),
        (ProcessorSettings, {**DB, "PORT": "http"}, "PORT is invalid"),
        (ProcessorSettings, {**DB, "PORT": "70000"}, "PORT is invalid"),
        (CollectorSettings, {**DB, "USER_TIMEZONE": "Mars/Base"}, "USER_TIMEZONE is invalid"),
        (CollectorSettings, {**DB, "OURA_BACKFILL_START": "2018-13-01"}, "OURA_BACKFILL_START"),
        (CollectorSettings, {**DB, "OURA_REFETCH_DAYS": "-1"}, "OURA_REFETCH_DAYS is invalid"),
        (ProcessorSettings, {**DB, "LOG_LEVEL": "loud"}, "LOG_LEVEL is invalid"),
    ],
    ids=[
        "missing-db",
        "missing-jwt",
        "weak-jwt",
        "port-text",
        "port-range",
        "zone",
        "date",
        "refetch",
        "log-level",
    ],
)
def test_bad_settings_name_the_variable(
    settings: type[ProcessorSettings], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load(settings, environ)
    assert message in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


def test_defaults_and_lists() -> None:
    api = load(ApiSettings, {**API, "CORS_ORIGINS": "https://eric-n.com, https://x.eric-n.com"})
    assert api.PORT == 8080
    assert api.RATE_LIMIT_PER_MINUTE == 100
    assert api.CORS_ORIGINS == ["https://eric-n.com", "https://x.eric-n.com"]
    collector = load(CollectorSettings, DB)
    assert collector.OURA_REFETCH_DAYS == 7
    assert str(collector.PROCESSOR_URL).rstrip("/") == "http://127.0.0.1:8081"
    assert load(ProcessorSettings, DB).PORT == 8081


def test_secrets_never_appear_in_reprs() -> None:
    api = load(ApiSettings, API)
    text = repr(api) + str(api.model_dump())
    assert "s" * 40 not in text
    assert "k" * 24 not in text
    assert "pw@" not in text


def test_json_logs_bind_service_and_redact_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    mh_logging.configure("processor", "info", json=True)
    mh_logging.get_logger("t").info("hello", access_token="abc123", data_type="sleep")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["service"] == "processor"
    assert line["event"] == "hello"
    assert line["access_token"] == "[redacted]"
    assert line["data_type"] == "sleep"
    structlog.reset_defaults()
