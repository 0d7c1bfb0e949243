"""Errors meant for a person at a terminal: printed as one line, no traceback."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class ErrorCode(StrEnum):
    """Stable codes of the product's expected failures.

    They appear in run records (`sync_run_types.error` starts with the code), logs and
    `docs/troubleshooting.md`; code branches on them, never on class names. Renaming an error
    class changes nothing here, and changing a value is a breaking change.
    """

    ERROR = "error"
    DATABASE_UNAVAILABLE = "database_unavailable"
    RUN_IN_PROGRESS = "run_in_progress"
    RUN_LOCK_LOST = "run_lock_lost"
    OURA_ERROR = "oura_error"
    REAUTHENTICATION_REQUIRED = "reauthentication_required"
    ACCESS_FORBIDDEN = "access_forbidden"
    APP_UPDATE_REQUIRED = "app_update_required"
    RATE_LIMIT_EXHAUSTED = "rate_limit_exhausted"
    PAGINATION_ERROR = "pagination_error"
    OURA_REQUEST_ERROR = "oura_request_error"
    DOCUMENT_NOT_FOUND = "document_not_found"
    TOKEN_REQUEST_REFUSED = "token_request_refused"  # noqa: S105 - a code, not a secret
    PROCESSOR_ERROR = "processor_error"
    PROCESSOR_UNAVAILABLE = "processor_unavailable"
    PROCESSOR_REFUSED = "processor_refused"
    TOKEN_NOT_FOUND = "token_not_found"  # noqa: S105 - a code, not a secret
    TOKEN_NAME_TAKEN = "token_name_taken"  # noqa: S105 - a code, not a secret
    ALERTING_TEMPLATE_INVALID = "alerting_template_invalid"
    NO_DATA = "no_data"
    EXPORT_REFUSED = "export_refused"
    IMPORT_REFUSED = "import_refused"
    WEBHOOK_SUBSCRIPTION_REFUSED = "webhook_subscription_refused"
    WEBHOOK_SUBSCRIPTION_UNAVAILABLE = "webhook_subscription_unavailable"


class CodedError(Exception):
    """An error class with an explicit, stable `code`."""

    code: ClassVar[ErrorCode] = ErrorCode.ERROR


class UserFacingError(CodedError):
    """An expected failure (unreachable database, revoked token...) with a clear message."""

    exit_code = 1

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
