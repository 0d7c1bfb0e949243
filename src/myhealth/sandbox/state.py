"""The sandbox's mutable state: fault switches, the movable clock, issued OAuth tokens, counters.

One `SandboxState` per app. Handlers run on the event loop while tests poke the state from
other threads, so every mutation goes through `lock`.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from myhealth.sandbox.generator import Person

# How a collection reads start_date/end_date (docs/oura-api.md#date-windows):
#   inclusive  the document's day in [start, end]
#   exclusive  the document's local time (timestamp / bedtime_start / ...) in [start, end)
#   utc        the document's time in UTC in [start, end): dates taken as UTC midnight
DateSemantics = Literal["inclusive", "exclusive", "utc"]

DEFAULT_DATE_SEMANTICS: dict[str, DateSemantics] = {
    "daily_activity": "exclusive",  # timestamp is 04:00 local, so end_date=D drops D
    "sleep": "exclusive",  # by bedtime_start: a night that starts on D-1 is found from D-1
    "workout": "utc",  # filtered by UTC date while `day` is local
}

DEFAULT_SCOPE = (
    "extapi:email extapi:personal extapi:daily extapi:heartrate extapi:workout extapi:tag "
    "extapi:session extapi:spo2"
)


class Faults(BaseModel):
    """Switches for tests and demos; `POST /_sandbox/faults` merges a partial JSON object."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    rate_limit_every: int = Field(default=0, ge=0, description="every Nth data request → 429")
    retry_after: int = Field(default=1, ge=0, description="Retry-After seconds on a 429")
    error_burst: int = Field(default=0, ge=0, description="the next K data requests → 5xx")
    error_status: int = Field(default=503, ge=500, le=599)
    delay_ms: int = Field(default=0, ge=0, le=60_000, description="added to every data request")
    repeat_next_token: list[str] = Field(
        default_factory=list, description="routes whose page-2 next_token repeats forever"
    )
    revise_days: int = Field(default=0, ge=0, description="the last N days are re-analysed")
    revision: int = Field(default=1, ge=1, description="which re-analysis revise_days serves")
    invalid_documents: int = Field(
        default=0, ge=0, le=50, description="wrong-typed documents added to each first page"
    )
    hostile_documents: bool = Field(
        default=False,
        description="each first page gets one hostile document (sandbox/hostile.py)",
    )
    strict_auth: bool = Field(default=False, description="only issued, unexpired tokens pass")
    enforce_scopes: bool = Field(
        default=False, description="issued tokens get 403 on routes their scope does not cover"
    )
    forbidden: bool = Field(
        default=False, description="403 on every data route (lapsed membership)"
    )
    page_size: int = Field(default=100, ge=1, le=100_000)
    heartrate_page_size: int = Field(default=1000, ge=1, le=100_000)
    date_semantics: dict[str, DateSemantics] = Field(default_factory=dict)
    access_token_ttl: int = Field(default=86_400, ge=1, description="expires_in of new tokens")
    scope: str = DEFAULT_SCOPE
    # Webhooks (sandbox/webhooks.py): how deliveries misbehave, and how long subscriptions live.
    webhook_duplicates: int = Field(
        default=0, ge=0, le=10, description="each event is delivered this many extra times"
    )
    webhook_reverse_order: bool = Field(
        default=False, description="a batch of events is delivered last first"
    )
    webhook_retry_seconds: float = Field(
        default=360.0,
        ge=0,
        le=3600,
        description="wait between delivery attempts (Oura: ~10 over an hour; tests: less)",
    )
    webhook_attempts: int = Field(default=10, ge=1, le=30, description="attempts per delivery")
    webhook_ttl_days: float = Field(
        default=30.0, gt=0, description="a subscription's life on the sandbox clock"
    )

    def semantics(self, data_type: str) -> DateSemantics:
        return self.date_semantics.get(
            data_type, DEFAULT_DATE_SEMANTICS.get(data_type, "inclusive")
        )


class Clock:
    """Real time plus an offset, or a frozen instant; tests move it to make a new day appear."""

    def __init__(self, frozen: dt.datetime | None = None) -> None:
        self._initial = frozen.astimezone(dt.UTC) if frozen is not None else None
        self._frozen = self._initial
        self._offset = dt.timedelta()

    def reset(self) -> None:
        self._frozen = self._initial
        self._offset = dt.timedelta()

    def now(self) -> dt.datetime:
        base = self._frozen if self._frozen is not None else dt.datetime.now(dt.UTC)
        return (base + self._offset).astimezone(dt.UTC)

    def set(self, moment: dt.datetime | None) -> None:
        """Freeze at `moment` (None: back to real time)."""
        self._frozen = moment.astimezone(dt.UTC) if moment is not None else None
        self._offset = dt.timedelta()

    def advance(self, delta: dt.timedelta) -> None:
        self._offset += delta


@dataclass
class TokenPair:
    access_token: str
    refresh_token: str
    expires_at: dt.datetime
    scope: str
    superseded: bool = False  # refreshed since: the access token no longer works
    refresh_used: bool = False


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str | None
    scope: str
    expires_at: dt.datetime
    used: bool = False


@dataclass
class SandboxState:
    person: Person
    timezone: zoneinfo.ZoneInfo
    clock: Clock
    faults: Faults = field(default_factory=Faults)
    client_id: str | None = None  # when set, the token endpoint checks client credentials
    client_secret: str | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    by_access: dict[str, TokenPair] = field(default_factory=dict)
    by_refresh: dict[str, TokenPair] = field(default_factory=dict)
    seeded_refresh_tokens: set[str] = field(default_factory=set)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    token_calls: Counter[str] = field(default_factory=Counter)
    data_requests: int = 0
    deleted: set[tuple[str, str]] = field(default_factory=set)  # (data_type, id) Oura deleted

    # ------------------------------------------------------------------ time

    def now(self) -> dt.datetime:
        return self.clock.now()

    def today(self) -> dt.date:
        """The sandbox's "today" in USER_TIMEZONE: no document lies after it."""
        return self.now().astimezone(self.timezone).date()

    def revision_for(self, day: dt.date) -> int:
        faults = self.faults
        if faults.revise_days and (self.today() - day).days < faults.revise_days:
            return faults.revision
        return 0

    # ------------------------------------------------------------------ tokens

    def issue_tokens(self, scope: str | None = None) -> TokenPair:
        """A fresh access/refresh pair (also handy for tests that need a valid token)."""
        with self.lock:
            pair = TokenPair(
                access_token="sbx_at_" + secrets.token_urlsafe(24),
                refresh_token="sbx_rt_" + secrets.token_urlsafe(24),
                expires_at=self.now() + dt.timedelta(seconds=self.faults.access_token_ttl),
                scope=scope or self.faults.scope,
            )
            self.by_access[pair.access_token] = pair
            self.by_refresh[pair.refresh_token] = pair
            return pair

    def expire_tokens(self) -> None:
        with self.lock:
            moment = self.now()
            for pair in self.by_access.values():
                pair.expires_at = min(pair.expires_at, moment)

    def access_allowed(self, token: str) -> bool:
        """Like Oura's sandbox any bearer works, except ours once expired or superseded."""
        with self.lock:
            pair = self.by_access.get(token)
            if pair is None:
                return not self.faults.strict_auth
            return not pair.superseded and pair.expires_at > self.now()

    def scope_of(self, token: str) -> set[str] | None:
        """The bare scope names granted to an issued token (None for tokens we never issued)."""
        with self.lock:
            pair = self.by_access.get(token)
            if pair is None:
                return None
            return {name.removeprefix("extapi:") for name in pair.scope.split()}

    def new_code(self, client_id: str, redirect_uri: str | None, scope: str) -> str:
        with self.lock:
            code = "sbx_code_" + secrets.token_urlsafe(16)
            self.codes[code] = AuthCode(
                client_id, redirect_uri, scope, self.now() + dt.timedelta(minutes=10)
            )
            return code

    def reset(self) -> None:
        """Faults, clock offset and counters back to the start; issued tokens are kept."""
        with self.lock:
            self.faults = Faults()
            self.clock.reset()
            self.requests.clear()
            self.token_calls.clear()
            self.data_requests = 0
