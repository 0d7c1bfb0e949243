"""Oura's token endpoint under the retry policy: 5xx and connection failures are retried, an
OAuth2 refusal (4xx) is not."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import pytest

from myhealth.oura.auth import TokenRequestRefused, TokenSet, request_tokens
from myhealth.oura.errors import OuraRequestError
from myhealth.platform.errors import ErrorCode
from tests.fast_retry import FAST_RETRY

TOKEN_URL = "https://oura.test/oauth/token"
FORM = {"grant_type": "refresh_token", "refresh_token": "r-1"}
GRANTED = {"access_token": "a-2", "refresh_token": "r-2", "expires_in": 86400}


def post(answers: list[httpx.Response | Exception], attempts: int = 3) -> tuple[TokenSet, int]:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    policy = dataclasses.replace(FAST_RETRY, attempts=attempts)
    tokens = asyncio.run(
        request_tokens(TOKEN_URL, FORM, transport=httpx.MockTransport(handler), retry=policy)
    )
    return tokens, calls


def test_server_errors_and_connection_failures_are_retried() -> None:
    answers: list[httpx.Response | Exception] = [
        httpx.Response(503),
        httpx.ConnectError("refused"),
        httpx.Response(200, json=GRANTED),
    ]
    tokens, calls = post(answers)
    assert (tokens.access_token, calls) == ("a-2", 3)


def test_a_failing_endpoint_gives_up_after_the_configured_attempts() -> None:
    answers: list[httpx.Response | Exception] = [httpx.Response(502) for _ in range(5)]
    with pytest.raises(OuraRequestError, match="failed with 502") as raised:
        post(answers, attempts=2)
    assert raised.value.code == ErrorCode.OURA_REQUEST_ERROR
    assert raised.value.status == 502
    assert len(answers) == 3  # two attempts made


def test_an_oauth_refusal_is_not_retried() -> None:
    answers: list[httpx.Response | Exception] = [
        httpx.Response(400, json={"error": "invalid_grant"}),
        httpx.Response(200, json=GRANTED),
    ]
    with pytest.raises(TokenRequestRefused, match="invalid_grant"):
        post(answers)
    assert len(answers) == 1
