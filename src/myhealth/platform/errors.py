"""Errors meant for a person at a terminal: printed as one line, no traceback."""

from __future__ import annotations


class UserFacingError(Exception):
    """An expected failure (unreachable database, revoked token...) with a clear message."""

    exit_code = 1

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
