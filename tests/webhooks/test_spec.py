"""Our webhook lists and the sandbox's subscription API against Oura's OpenAPI document
(tests/data/oura/openapi.json, provenance in its README)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from myhealth.oura.catalog import DATA_TYPES
from myhealth.sandbox.server import running
from myhealth.sandbox.webhooks import Subscription
from myhealth.webhooks.catalog import EVENT_TYPES, WEBHOOK_DATA_TYPES, collected_type
from myhealth.webhooks.signature import sign, valid

SPEC = json.loads((Path(__file__).parents[1] / "data" / "oura" / "openapi.json").read_text())
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]


def test_the_subscribable_types_and_operations_are_oura_s() -> None:
    assert list(WEBHOOK_DATA_TYPES) == SCHEMAS["ExtApiV2DataType"]["enum"]
    assert list(EVENT_TYPES) == SCHEMAS["WebhookOperation"]["enum"]
    # Every type but meal is fetched by id; vo2_max through the route spelled vO2_max.
    fetched = {name for name in WEBHOOK_DATA_TYPES if collected_type(name) is not None}
    assert set(WEBHOOK_DATA_TYPES) - fetched == {"meal"}
    assert DATA_TYPES["vo2_max"].route == "vO2_max"
    for name in fetched:
        assert f"/v2/usercollection/{DATA_TYPES[name].route}/{{document_id}}" in SPEC["paths"]


def test_the_sandbox_serves_the_subscription_api_as_specified() -> None:
    paths = SPEC["paths"]
    assert set(paths["/v2/webhook/subscription"]) == {"get", "post"}
    assert set(paths["/v2/webhook/subscription/{id}"]) == {"get", "put", "delete"}
    assert set(paths["/v2/webhook/subscription/renew/{id}"]) == {"put"}
    assert "201" in paths["/v2/webhook/subscription"]["post"]["responses"]
    assert "204" in paths["/v2/webhook/subscription/{id}"]["delete"]["responses"]
    required = set(SCHEMAS["WebhookSubscriptionModel"]["required"])
    with running() as sandbox:
        hub = sandbox.app.state.webhooks
        headers = {"x-client-id": "app", "x-client-secret": "secret"}
        url = f"{sandbox.url}/v2/webhook/subscription"
        assert httpx.get(url).status_code == 401  # application credentials are required
        listing = httpx.get(url, headers=headers)
        assert listing.status_code == 200
        assert listing.json() == []  # a bare array
        missing = httpx.get(f"{url}/no-such-id", headers=headers)
        assert missing.status_code == 403
        assert missing.json() == {"detail": "Webhook with specified id does not exist."}
        bad = httpx.post(url, headers=headers, json={"callback_url": "http://x"})
        assert bad.status_code == 422
        unreachable = httpx.post(
            url,
            headers=headers,
            json={
                "callback_url": "http://127.0.0.1:9/hook",
                "verification_token": "t",
                "event_type": "create",
                "data_type": "sleep",
            },
        )
        assert unreachable.status_code == 400  # verification failed: no subscription
        assert hub.subscriptions == {}
    model = Subscription("i", "http://x", "t", "create", "sleep", dt.datetime.now(dt.UTC), "s")
    assert set(model.model()) == required


@pytest.mark.parametrize(
    ("timestamp", "body", "expected"),
    [
        # HMAC-SHA256("secret", "1700000000" + body), upper-case hex (computed independently
        # with `printf '%s' '1700000000{"a":1}' | openssl dgst -sha256 -hmac secret`).
        (
            "1700000000",
            b'{"a":1}',
            "F3A15680551495E7D27302C4D19E4CBEDC650F19FA5B40373C00CBEA52A64406",
        ),
    ],
)
def test_the_signature_is_upper_case_hex_hmac_of_timestamp_and_body(
    timestamp: str, body: bytes, expected: str
) -> None:
    signature = sign("secret", timestamp, body)
    assert signature == signature.upper()
    assert len(signature) == 64
    assert signature == expected
    assert valid("secret", timestamp, body, signature.lower())
    assert not valid("secret", timestamp, body + b" ", signature)
    assert not valid("other", timestamp, body, signature)
