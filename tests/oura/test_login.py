"""`myhealth auth login`: the local callback over real HTTP, the state check, the code exchange,
the stored tokens and the scope report."""

from __future__ import annotations

import io
import socket
import threading
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest

from myhealth.cli import run
from myhealth.oura.login import authorize_url, granted_scopes, login, missing_scopes
from myhealth.platform.config import OuraSettings, load
from myhealth.platform.errors import UserFacingError


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def code_exchange(scope: str) -> tuple[httpx.MockTransport, list[dict[str, str]]]:
    forms: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        form = {key: values[0] for key, values in parse_qs(request.content.decode()).items()}
        forms.append(form)
        if form["code"] != "the-code":
            return httpx.Response(400, json={"error": "invalid_grant"})
        return httpx.Response(
            200,
            json={
                "token_type": "bearer",
                "access_token": "new-access",
                "refresh_token": "new-refresh",
                "expires_in": 2591999,
                "scope": scope,
                "id_token": None,
            },
        )

    return httpx.MockTransport(handler), forms


class Login:
    """Runs `login()` in a thread, like a person's terminal, and plays the browser."""

    def __init__(self, settings: OuraSettings, transport: httpx.MockTransport | None) -> None:
        self.port = free_port()
        self.out = io.StringIO()
        self.result: int | None = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.result = login(
                    settings,
                    port=self.port,
                    open_browser=False,
                    out=self.out,
                    wait_seconds=20,
                    transport=transport,
                )
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def authorize_url(self) -> str:
        deadline = time.monotonic() + 10
        while "Waiting for Oura" not in self.out.getvalue():
            assert time.monotonic() < deadline, self.out.getvalue()
            time.sleep(0.02)
        return next(
            line.strip() for line in self.out.getvalue().splitlines() if "oauth/authorize" in line
        )

    def redirect(self, **params: str) -> httpx.Response:
        """What the browser does after Oura redirects it."""
        query = parse_qs(urlsplit(self.authorize_url()).query)
        redirect_uri = query["redirect_uri"][0]
        response = httpx.get(redirect_uri, params=params, timeout=10)
        self.thread.join(timeout=20)
        assert not self.thread.is_alive()
        return response


@pytest.fixture
def settings(database_url: str) -> OuraSettings:
    return load(
        OuraSettings,
        {
            "DATABASE_URL": database_url,
            "OURA_CLIENT_ID": "cid",
            "OURA_CLIENT_SECRET": "secret",
            "OURA_AUTHORIZE_URL": "https://cloud.oura.test/oauth/authorize",
            "OURA_TOKEN_URL": "https://api.oura.test/oauth/token",
        },
    )


def stored_pair(database_url: str) -> tuple[str, str, str] | None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT access_token, refresh_token, scope FROM oauth_tokens").fetchone()
    return None if row is None else (row[0], row[1], row[2])


def test_login_stores_tokens_and_reports_scopes(settings: OuraSettings) -> None:
    transport, forms = code_exchange("extapi:email extapi:personal extapi:daily extapi:heartrate")
    session = Login(settings, transport)
    url = session.authorize_url()
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://cloud.oura.test/oauth/authorize?")
    assert query["response_type"] == ["code"]
    assert query["client_id"] == ["cid"]
    assert query["redirect_uri"] == [f"http://127.0.0.1:{session.port}/callback"]
    state = query["state"][0]
    assert len(state) >= 32

    response = session.redirect(code="the-code", state=state)

    assert response.status_code == 200
    assert "close this tab" in response.text
    assert session.error is None
    assert session.result == 0
    assert forms == [
        {
            "grant_type": "authorization_code",
            "code": "the-code",
            "redirect_uri": f"http://127.0.0.1:{session.port}/callback",
            "client_id": "cid",
            "client_secret": "secret",
        }
    ]
    assert stored_pair(settings.database_url) == (
        "new-access",
        "new-refresh",
        "extapi:email extapi:personal extapi:daily extapi:heartrate",
    )
    output = session.out.getvalue()
    assert "Granted scopes: email, personal, daily, heartrate" in output
    assert "extapi:" not in output
    assert "warning: scope 'workout' was not granted: workout will stay empty" in output
    assert "warning: scope 'spo2' was not granted: daily_spo2" in output
    assert "new-access" not in output
    assert "new-refresh" not in output


def test_wrong_state_is_refused_and_nothing_is_stored(settings: OuraSettings) -> None:
    transport, forms = code_exchange("extapi:daily")
    session = Login(settings, transport)
    session.redirect(code="the-code", state="forged")
    assert isinstance(session.error, UserFacingError)
    assert "wrong state" in str(session.error)
    assert forms == []
    assert stored_pair(settings.database_url) is None


def test_denied_authorization_is_reported(settings: OuraSettings) -> None:
    transport, forms = code_exchange("extapi:daily")
    session = Login(settings, transport)
    state = parse_qs(urlsplit(session.authorize_url()).query)["state"][0]
    response = session.redirect(error="access_denied", state=state)
    assert response.status_code == 400
    assert isinstance(session.error, UserFacingError)
    assert "access_denied" in str(session.error)
    assert forms == []


def test_expired_code_explains_what_to_do(settings: OuraSettings) -> None:
    transport, _ = code_exchange("extapi:daily")
    session = Login(settings, transport)
    state = parse_qs(urlsplit(session.authorize_url()).query)["state"][0]
    session.redirect(code="stale-code", state=state)
    assert isinstance(session.error, UserFacingError)
    assert "invalid_grant" in str(session.error)
    assert "10 minutes" in str(session.error)
    assert stored_pair(settings.database_url) is None


def test_pasted_redirect_for_a_remote_redirect_uri(settings: OuraSettings) -> None:
    transport, _ = code_exchange("daily heartrate workout tag session spo2Daily personal email")
    out = io.StringIO()

    class Paste:
        def readline(self) -> str:
            url_line = next(line for line in out.getvalue().splitlines() if "authorize" in line)
            issued = parse_qs(urlsplit(url_line.strip()).query)["state"][0]
            return f"https://myhealth.example/oura/callback?code=the-code&state={issued}\n"

    result = login(
        settings,
        redirect_uri="https://myhealth.example/oura/callback",
        open_browser=False,
        out=out,
        stdin=Paste(),
        transport=transport,
    )
    assert result == 0
    assert "warning" not in out.getvalue()  # spo2Daily counts as spo2
    assert stored_pair(settings.database_url) is not None


@pytest.mark.parametrize(
    ("scope", "granted"),
    [
        ("extapi:daily extapi:heartrate", ["daily", "heartrate"]),
        ("daily,personal", ["daily", "personal"]),
        (None, []),
    ],
)
def test_granted_scopes(scope: str | None, granted: list[str]) -> None:
    assert granted_scopes(scope) == granted


def test_missing_scopes_accepts_either_spo2_name() -> None:
    everything = ["email", "personal", "daily", "heartrate", "workout", "tag", "session"]
    assert missing_scopes([*everything, "spo2Daily"]) == []
    assert missing_scopes([*everything, "spo2"]) == []
    assert missing_scopes(everything) == ["spo2"]


def test_authorize_url_keeps_an_existing_query() -> None:
    url = authorize_url("https://x.test/authorize?a=1", "cid", "http://127.0.0.1:1/cb", "s t")
    assert url == (
        "https://x.test/authorize?a=1&response_type=code&client_id=cid"
        "&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb&state=s+t"
    )


def test_missing_client_credentials_exit_2(database_url: str) -> None:
    assert run(["auth", "login", "--no-browser"], {"DATABASE_URL": database_url}) == 2
