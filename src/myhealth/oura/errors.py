"""Failures of the Oura client and token store, each with a message a person can act on.

They are `UserFacingError`s so that `myhealth collect` and `myhealth auth login` print them as
one line; `myhealth.oura.client` re-exports them (the collector imports them from there).
"""

from __future__ import annotations

from myhealth.platform.errors import ErrorCode, UserFacingError


class OuraError(UserFacingError):
    """Any failure talking to Oura."""

    code = ErrorCode.OURA_ERROR


class ReauthenticationRequired(OuraError):
    """Oura refused our credentials and a refresh cannot fix it: run `myhealth auth login`."""

    code = ErrorCode.REAUTHENTICATION_REQUIRED


class AccessForbidden(OuraError):
    """403: the Oura membership lapsed or the scope for this data was not granted."""

    code = ErrorCode.ACCESS_FORBIDDEN


class AppUpdateRequired(OuraError):
    """426: the owner's Oura app is too old to share this data type."""

    code = ErrorCode.APP_UPDATE_REQUIRED


class RateLimitExhausted(OuraError):
    """429 kept coming after every retry."""

    code = ErrorCode.RATE_LIMIT_EXHAUSTED


class PaginationError(OuraError):
    """A repeated `next_token` or too many pages: the listing would never end."""

    code = ErrorCode.PAGINATION_ERROR


class OuraRequestError(OuraError):
    """Any other failed request (4xx other than the above, 5xx or timeouts after retries)."""

    code = ErrorCode.OURA_REQUEST_ERROR

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class DocumentNotFound(OuraRequestError):
    """404 on a single-document route."""

    code = ErrorCode.DOCUMENT_NOT_FOUND
