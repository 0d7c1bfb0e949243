"""`myhealth auth login`: the local callback over real HTTP, the state check, the code exchange,
the stored tokens and the scope report."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import psycopg
import pytest

from myhealth.cli import run
from myhealth.oura.login import authorize_url, granted_scopes, login, missing_scopes
from myhealth.platform.config import OuraSettings, load
from myhealth.platform.errors import UserFacingError
from myhealth.sandbox.server import RunningSandbox, running


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


# ---- paste-back mode against the sandbox, and the checks made before the URL is printed ----

SANDBOX_CLIENT_ID = "login-test-client"
SANDBOX_CLIENT_SECRET = "login-test-secret"


@pytest.fixture(scope="module")
def oura_sandbox() -> Iterator[RunningSandbox]:
    with running(client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_CLIENT_SECRET) as server:
        yield server


def sandbox_environ(sandbox: RunningSandbox, database_url: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": database_url,
        "OURA_CLIENT_ID": SANDBOX_CLIENT_ID,
        "OURA_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        "OURA_AUTHORIZE_URL": sandbox.authorize_url,
        "OURA_TOKEN_URL": sandbox.token_url,
    }


def approve(authorize: str) -> str:
    """What the person's browser does: the sandbox consents at once and redirects; the
    returned address is what they copy from the address bar."""
    response = httpx.get(authorize, timeout=10, follow_redirects=False)
    assert response.status_code == 302, response.text
    return response.headers["location"]


def test_paste_back_login_through_the_cli_stores_the_sandbox_tokens(
    oura_sandbox: RunningSandbox, database_url: str
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "myhealth", "auth", "login", "--paste"],
        env=sandbox_environ(oura_sandbox, database_url),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(60, process.kill)  # a hang fails the test instead of blocking
    watchdog.start()
    try:
        assert process.stdout is not None
        assert process.stdin is not None
        printed: list[str] = []
        while not any("oauth/authorize" in line for line in printed):
            line = process.stdout.readline()
            assert line, f"exited before printing the URL: {printed} {process.stderr}"
            printed.append(line)
        url = next(line.strip() for line in printed if "oauth/authorize" in line)
        redirected = approve(url)
        assert redirected.startswith("http://127.0.0.1:8765/callback?code=sbx_code_")
        process.stdin.write(redirected + "\n")
        process.stdin.close()
        rest = process.stdout.read()
        stderr = process.stderr.read() if process.stderr else ""
        assert process.wait(30) == 0, stderr
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()

    stored = stored_pair(database_url)
    assert stored is not None
    access, refresh, scope = stored
    assert access.startswith("sbx_at_")
    assert refresh.startswith("sbx_rt_")
    assert "extapi:daily" in scope
    output = "".join(printed) + rest
    assert "tokens are stored in the database" in output
    assert access not in output
    assert refresh not in output
    # The stored pair is live at the sandbox: it refreshes once (single-use rotation).
    refreshed = httpx.post(
        oura_sandbox.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": SANDBOX_CLIENT_ID,
            "client_secret": SANDBOX_CLIENT_SECRET,
        },
        timeout=10,
    )
    assert refreshed.status_code == 200, refreshed.text


class Pasted:
    """Stdin for an in-process login: answers with `make(authorize_url)`."""

    def __init__(self, out: io.StringIO, make: Callable[[str], str]) -> None:
        self.out = out
        self.make = make

    def readline(self) -> str:
        url = next(line for line in self.out.getvalue().splitlines() if "authorize?" in line)
        return self.make(url.strip()) + "\n"


def sandbox_settings(sandbox: RunningSandbox, database_url: str) -> OuraSettings:
    return load(OuraSettings, sandbox_environ(sandbox, database_url))


def test_only_the_code_may_be_pasted(oura_sandbox: RunningSandbox, database_url: str) -> None:
    out = io.StringIO()

    def code_only(url: str) -> str:
        return parse_qs(urlsplit(approve(url)).query)["code"][0]

    result = login(
        sandbox_settings(oura_sandbox, database_url),
        paste=True,
        out=out,
        stdin=Pasted(out, code_only),
    )
    assert result == 0
    assert stored_pair(database_url) is not None


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda address: address, id="whole-address"),
        pytest.param(lambda address: address.removeprefix("http://"), id="without-scheme"),
        pytest.param(lambda address: address.partition("?")[2], id="query-only"),
        pytest.param(lambda address: f"  {address}#  ", id="padded-with-fragment"),
    ],
)
def test_the_redirected_address_may_be_pasted_in_several_shapes(
    oura_sandbox: RunningSandbox, database_url: str, shape: Callable[[str], str]
) -> None:
    out = io.StringIO()
    result = login(
        sandbox_settings(oura_sandbox, database_url),
        paste=True,
        out=out,
        stdin=Pasted(out, lambda url: shape(approve(url))),
    )
    assert result == 0
    assert stored_pair(database_url) is not None


def _with_state(state: str) -> Callable[[str], str]:
    def make(url: str) -> str:
        redirected = urlsplit(approve(url))
        query = {k: v[0] for k, v in parse_qs(redirected.query).items()}
        return redirected._replace(query=urlencode({**query, "state": state})).geturl()

    return make


@pytest.mark.parametrize(
    ("paste", "message"),
    [
        pytest.param(_with_state("forged"), "wrong state", id="wrong-state"),
        pytest.param(_with_state(""), "wrong state", id="empty-state"),
        pytest.param(lambda url: "", "nothing was pasted", id="empty"),
        pytest.param(
            lambda url: "I clicked approve and nothing happened",
            "neither the redirected address nor an authorization code",
            id="prose",
        ),
        pytest.param(
            lambda url: "http://127.0.0.1:8765/callback?state=x",
            "has no code=",
            id="url-without-code",
        ),
        pytest.param(
            lambda url: "http://127.0.0.1:8765/callback?error=access_denied",
            "did not authorize myHealth: access_denied",
            id="denied",
        ),
    ],
)
def test_a_bad_paste_is_refused_and_nothing_is_stored(
    oura_sandbox: RunningSandbox,
    database_url: str,
    paste: Callable[[str], str],
    message: str,
) -> None:
    out = io.StringIO()
    with pytest.raises(UserFacingError, match=message):
        login(
            sandbox_settings(oura_sandbox, database_url),
            paste=True,
            out=out,
            stdin=Pasted(out, paste),
        )
    assert stored_pair(database_url) is None


def test_an_unreachable_database_stops_login_before_the_url_is_printed(
    oura_sandbox: RunningSandbox, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = f"postgresql://myhealth@127.0.0.1:{free_port()}/myhealth"
    code = run(["auth", "login", "--paste"], sandbox_environ(oura_sandbox, closed))
    captured = capsys.readouterr()
    assert code == 1
    assert "cannot reach the database at 127.0.0.1:" in captured.err
    assert "authorize" not in captured.out
    assert captured.out == ""


def test_an_unmigrated_database_stops_login_before_the_url_is_printed(
    oura_sandbox: RunningSandbox, empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["auth", "login", "--paste"], sandbox_environ(oura_sandbox, empty_database_url))
    captured = capsys.readouterr()
    assert code == 1
    assert "run `myhealth migrate` first" in captured.err
    assert captured.out == ""


def test_a_read_only_connection_stops_login_before_the_url_is_printed(
    oura_sandbox: RunningSandbox, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    read_only = database_url + "?options=-c%20default_transaction_read_only%3Don"
    code = run(["auth", "login", "--paste"], sandbox_environ(oura_sandbox, read_only))
    captured = capsys.readouterr()
    assert code == 1
    assert "cannot write the tokens" in captured.err
    assert captured.out == ""


@pytest.mark.parametrize(
    ("bind", "reachable"),
    [("0.0.0.0", True), (None, False)],
    ids=["bind-any", "default"],
)
def test_the_callback_server_listens_on_the_bind_address(
    settings: OuraSettings, bind: str | None, reachable: bool
) -> None:
    """`--bind 0.0.0.0` (a container with a published port) accepts the redirect on any
    address — 127.0.0.2 stands in for "not 127.0.0.1" — while the redirect URI Oura is given
    stays http://127.0.0.1:PORT/callback; by default only 127.0.0.1 is served."""
    transport, _ = code_exchange("extapi:daily")
    port = free_port()
    out = io.StringIO()
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["result"] = login(
                settings, port=port, bind=bind, open_browser=False, out=out,
                wait_seconds=5, transport=transport,
            )  # fmt: skip
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while "Waiting for Oura" not in out.getvalue():
        assert time.monotonic() < deadline, out.getvalue()
        time.sleep(0.02)
    url = next(line.strip() for line in out.getvalue().splitlines() if "authorize?" in line)
    query = parse_qs(urlsplit(url).query)
    assert query["redirect_uri"] == [f"http://127.0.0.1:{port}/callback"]
    assert f"listening on {bind or '127.0.0.1'}:{port}" in out.getvalue()
    callback = f"http://127.0.0.2:{port}/callback"
    params = {"code": "the-code", "state": query["state"][0]}
    if reachable:
        assert httpx.get(callback, params=params, timeout=10).status_code == 200
        thread.join(20)
        assert outcome == {"result": 0}
        assert stored_pair(settings.database_url) is not None
    else:
        with pytest.raises(httpx.ConnectError):
            httpx.get(callback, params=params, timeout=10)
        httpx.get(f"http://127.0.0.1:{port}/callback", params=params, timeout=10)
        thread.join(20)
        assert outcome == {"result": 0}
