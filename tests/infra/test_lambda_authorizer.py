"""The API Gateway Lambda authorizer: the same token rules as the API, in the simple-response
format, with the signing key from the environment or from Secrets Manager (cached)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from myhealth.security import api_tokens, lambda_authorizer, tokens
from myhealth.security.lambda_authorizer import SigningKeySource, authorize, bearer_token

from .helpers import REPO

SECRET = "a-signing-key-long-enough-for-every-hmac-algorithm-0123456789abcdef"
NOW = time.time()


def event(authorization: str | None) -> dict[str, Any]:
    """An HTTP API (payload 2.0) REQUEST authorizer event."""
    headers = {} if authorization is None else {"authorization": authorization}
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abc/$default/GET/api/v1/sleep",
        "identitySource": [] if authorization is None else [authorization],
        "routeKey": "ANY /api/{proxy+}",
        "headers": headers,
    }


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def valid_claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": "owner",
        "iss": "myhealth",
        "iat": int(NOW),
        "exp": int(NOW) + 3600,
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


DENIED = [
    pytest.param(
        "Bearer " + tokens.issue(SECRET, ttl_seconds=60, now=NOW - 3600),
        id="expired",
    ),
    pytest.param(
        "Bearer " + tokens.issue("another-key-another-key-another-key-0123", 3600, now=NOW),
        id="wrong-signature",
    ),
    pytest.param(
        "Bearer " + b64({"alg": "none", "typ": "JWT"}) + "." + b64(valid_claims()) + ".",
        id="alg-none",
    ),
    pytest.param(
        "Bearer " + jwt.encode(valid_claims(), SECRET, algorithm="HS512"),
        id="other-hmac-algorithm",
    ),
    pytest.param("Bearer not.a.jwt", id="malformed"),
    pytest.param("Bearer abc", id="not-three-parts"),
    pytest.param("Bearer ", id="empty-token"),
    pytest.param("Basic dXNlcjpwYXNz", id="not-bearer"),
    pytest.param(
        "Bearer " + jwt.encode(valid_claims(iss="someone-else"), SECRET, algorithm="HS256"),
        id="wrong-issuer",
    ),
    pytest.param(
        "Bearer " + jwt.encode(valid_claims(exp=None), SECRET, algorithm="HS256"),
        id="no-exp",
    ),
    pytest.param(
        "Bearer " + jwt.encode(valid_claims(sub=None), SECRET, algorithm="HS256"),
        id="no-sub",
    ),
    pytest.param(None, id="no-header"),
    pytest.param("Bearer mhp_short", id="long-lived-too-short"),
    pytest.param("Bearer " + api_tokens.generate() + "x", id="long-lived-too-long"),
    pytest.param("Bearer mhp_" + "!" * 43, id="long-lived-not-base64url"),
]


def test_a_valid_token_is_allowed_with_its_subject() -> None:
    token = tokens.issue(SECRET, ttl_seconds=3600)

    decision = authorize(event(f"Bearer {token}"), SECRET)

    assert decision == {"isAuthorized": True, "context": {"sub": "owner"}}


def test_the_bearer_scheme_is_case_insensitive() -> None:
    token = tokens.issue(SECRET, ttl_seconds=3600)

    assert authorize(event(f"bearer {token}"), SECRET)["isAuthorized"] is True


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_well_formed_long_lived_token_passes_for_the_api_to_decide(method: str) -> None:
    """The gateway cannot see revocations (no database): the API checks each use, and refuses
    non-GET ones, so the decision here must not depend on the method (it is cached per header)."""
    request = event(f"Bearer {api_tokens.generate()}")
    request["routeArn"] = request["routeArn"].replace("/GET/", f"/{method}/")

    assert authorize(request, SECRET) == {"isAuthorized": True, "context": {"sub": "api-token"}}


@pytest.mark.parametrize("authorization", DENIED)
def test_bad_tokens_are_denied(authorization: str | None) -> None:
    assert authorize(event(authorization), SECRET) == {"isAuthorized": False}


def test_a_denial_logs_the_reason_but_never_the_token(caplog: pytest.LogCaptureFixture) -> None:
    expired = tokens.issue(SECRET, ttl_seconds=60, now=NOW - 3600)

    with caplog.at_level("INFO", logger="myhealth.security.lambda_authorizer"):
        authorize(event(f"Bearer {expired}"), SECRET)

    assert "token expired" in caplog.text
    assert expired not in caplog.text


def test_the_identity_source_is_used_when_headers_are_absent() -> None:
    token = tokens.issue(SECRET, ttl_seconds=3600)
    request = {"identitySource": [f"Bearer {token}"]}

    assert bearer_token(request) == token


class FakeSecretsManager:
    def __init__(self, value: str) -> None:
        self.value = value
        self.calls: list[str] = []

    def __call__(self, secret_id: str) -> str:
        self.calls.append(secret_id)
        return self.value


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_key_is_read_from_secrets_manager_once_per_cache_period() -> None:
    fetch, clock = FakeSecretsManager(SECRET), FakeClock()
    source = SigningKeySource(
        {"JWT_SECRET_ARN": "arn:jwt", "JWT_SECRET_CACHE_SECONDS": "300"}, fetch, clock
    )

    assert [source.get() for _ in range(5)] == [SECRET] * 5
    assert fetch.calls == ["arn:jwt"]

    clock.now += 301
    fetch.value = "rotated-key"
    assert source.get() == "rotated-key"
    assert fetch.calls == ["arn:jwt", "arn:jwt"]


def test_a_key_in_the_environment_wins_and_secrets_manager_is_not_called() -> None:
    fetch = FakeSecretsManager("unused")
    source = SigningKeySource({"JWT_SECRET": SECRET, "JWT_SECRET_ARN": "arn:jwt"}, fetch)

    assert source.get() == SECRET
    assert fetch.calls == []


def test_without_any_key_configuration_the_authorizer_refuses_to_start() -> None:
    with pytest.raises(RuntimeError, match="JWT_SECRET_ARN"):
        SigningKeySource({})


@pytest.fixture
def handler_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.setattr(lambda_authorizer, "_key_source", None)


@pytest.mark.usefixtures("handler_environment")
def test_the_lambda_handler_decides_with_the_environment_key() -> None:
    good = tokens.issue(SECRET, ttl_seconds=3600)

    assert lambda_authorizer.handler(event(f"Bearer {good}"), None)["isAuthorized"] is True
    assert lambda_authorizer.handler(event("Bearer nope"), None) == {"isAuthorized": False}


@pytest.fixture(scope="module")
def built_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory scripts/build-authorizer.sh fills (what archive_file zips)."""
    out = tmp_path_factory.mktemp("authorizer") / "build"
    subprocess.run(
        ["bash", str(REPO / "scripts" / "build-authorizer.sh"), str(out)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return out


def test_the_package_holds_only_the_handler_the_token_code_and_pyjwt(built_package: Path) -> None:
    top_level = sorted(path.name for path in built_package.iterdir())
    modules = sorted(path.name for path in (built_package / "myhealth" / "security").iterdir())

    assert [name for name in top_level if not name.endswith(".dist-info")] == ["jwt", "myhealth"]
    assert modules == ["__init__.py", "api_tokens.py", "lambda_authorizer.py", "tokens.py"]
    assert (built_package / "myhealth" / "security" / "tokens.py").read_text() == (
        REPO / "src" / "myhealth" / "security" / "tokens.py"
    ).read_text()


def test_the_packaged_handler_runs_on_its_own(built_package: Path) -> None:
    """Import the handler from the build directory alone, as the Lambda runtime would."""
    good = tokens.issue(SECRET, ttl_seconds=3600)
    script = (
        "import json, sys\n"
        "from myhealth.security.lambda_authorizer import handler\n"
        "events = json.loads(sys.stdin.read())\n"
        "print(json.dumps([handler(e, None) for e in events]))\n"
        "import jwt; assert jwt.__file__.startswith(sys.path[0]), jwt.__file__\n"
    )
    events = [
        event(f"Bearer {good}"),
        event("Bearer not.a.jwt"),
        event(f"Bearer {api_tokens.generate()}"),
    ]

    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            f"import sys; sys.path.insert(0, {str(built_package)!r})\n" + script,
        ],
        input=json.dumps(events),
        capture_output=True,
        text=True,
        env={"JWT_SECRET": SECRET, "PATH": os.environ.get("PATH", "")},
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"isAuthorized": True, "context": {"sub": "owner"}},
        {"isAuthorized": False},
        {"isAuthorized": True, "context": {"sub": "api-token"}},
    ]
