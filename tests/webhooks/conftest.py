"""Webhook fixtures: the API's client factory and the read-only role, shared with tests/api."""

from __future__ import annotations

from tests.api.conftest import make_client
from tests.api.test_read_only_role import reader_role

__all__ = ["make_client", "reader_role"]
