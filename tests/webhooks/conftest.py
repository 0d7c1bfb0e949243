"""Webhook fixtures: the API's client factory, shared with tests/api (the read-only role is
a root fixture)."""

from __future__ import annotations

from tests.api.conftest import make_client

__all__ = ["make_client"]
