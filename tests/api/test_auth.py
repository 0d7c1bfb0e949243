"""Authentication: the API key buys an HS256 JWT; every other kind of token is refused."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from fastapi.testclient import TestClient

from myhealth.security import tokens

from .conftest import API_KEY, JWT_SECRET, ClientFactory

PROTECTED = [
    "/api/v1/sleep",
    "/api/v1/activity",
    "/api/v1/readiness",
    "/api/v1/dashboard",
    "/api/v1/trends/steps",
]


def test_login_returns_a_bearer_token(client: TestClient) -> None:
    response = client.post("/auth/login", json={"api_key": API_KEY})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86_400
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "HS256"
    claims = jwt.decode(body["access_token"], JWT_SECRET, algorithms=["HS256"])
    assert {"sub", "iat", "exp"} <= claims.keys()
    assert claims["exp"] - claims["iat"] == 86_400


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"api_key": "wrong"}, id="wrong-key"),
        pytest.param({"api_key": API_KEY + "x"}, id="longer-key"),
        pytest.param({"api_key": API_KEY[:-1]}, id="prefix-of-key"),
    ],
)
def test_wrong_api_key_is_401(client: TestClient, body: dict[str, str]) -> None:
    response = client.post("/auth/login", json=body)
    assert response.status_code == 401
    assert response.json() == {"detail": "invalid API key"}


def _unsigned(claims: dict[str, object]) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    return {"sub": "owner", "iss": "myhealth", "iat": now, "exp": now + 600, **overrides}


BAD_TOKENS = {
    "garbage": "not-a-jwt",
    "wrong-signature": jwt.encode(_claims(), "another-secret-0123456789abcdef0123", "HS256"),
    "alg-none": _unsigned(_claims()),
    "other-algorithm": jwt.encode(_claims(), JWT_SECRET, "HS512"),
    "expired": tokens.issue(JWT_SECRET, 60, now=time.time() - 3600),
    "missing-exp": jwt.encode({"sub": "owner", "iss": "myhealth", "iat": 1}, JWT_SECRET, "HS256"),
    "tampered": tokens.issue(JWT_SECRET, 600)[:-4] + "AAAA",
}


@pytest.mark.parametrize("path", PROTECTED)
def test_no_token_is_401(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.json() == {"detail": "missing bearer token"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("token", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
@pytest.mark.parametrize("path", ["/api/v1/dashboard", "/api/v1/trends/steps"])
def test_bad_token_is_401(client: TestClient, path: str, token: str) -> None:
    response = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert isinstance(response.json()["detail"], str)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Token abc", ""])
def test_malformed_authorization_header_is_401(client: TestClient, header: str) -> None:
    response = client.get("/api/v1/sleep", headers={"Authorization": header})
    assert response.status_code == 401


def test_expired_token_says_so(client: TestClient) -> None:
    response = client.get(
        "/api/v1/sleep", headers={"Authorization": f"Bearer {BAD_TOKENS['expired']}"}
    )
    assert response.json() == {"detail": "token expired"}


def test_a_valid_token_opens_every_route(client: TestClient, auth: dict[str, str]) -> None:
    for path in PROTECTED:
        assert client.get(path, headers=auth).status_code == 200, path


@pytest.mark.parametrize(
    ("require_current_key", "status"),
    [pytest.param("true", 401, id="bound-to-the-key"), pytest.param("false", 200, id="default")],
)
def test_rotating_the_api_key_can_log_everyone_out(
    make_client: ClientFactory, database_url: str, require_current_key: str, status: int
) -> None:
    """Tokens carry a key id of the API key they were issued for; with
    JWT_REQUIRE_CURRENT_API_KEY a new API_KEY invalidates them (before, nothing but a new
    JWT_SECRET could)."""
    settings = {"JWT_REQUIRE_CURRENT_API_KEY": require_current_key}
    before = make_client(database_url, **settings)
    login = before.post("/auth/login", json={"api_key": API_KEY})
    token = login.json()["access_token"]
    assert jwt.get_unverified_header(token)["kid"] == tokens.key_id(JWT_SECRET, API_KEY)
    headers = {"Authorization": f"Bearer {token}"}
    assert before.get("/api/v1/sleep", headers=headers).status_code == 200

    rotated = make_client(database_url, API_KEY="a-brand-new-api-key-0123456789", **settings)
    answer = rotated.get("/api/v1/sleep", headers=headers)
    assert answer.status_code == status
    if status == 401:
        assert "previous API_KEY" in answer.json()["detail"]
