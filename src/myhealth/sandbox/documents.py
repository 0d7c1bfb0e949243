"""The sandbox's documents as served right now: clock, revisions, windows, heart-rate pages.

No HTTP here; the routes in `data_routes` call this.
"""

from __future__ import annotations

import bisect
import datetime as dt

from myhealth.sandbox.availability import ready_at, served
from myhealth.sandbox.generator import Document
from myhealth.sandbox.state import SandboxState
from myhealth.sandbox.windows import LOOKAROUND, matches, shifted


def _unix_ms(row: Document) -> int:
    value: int = row["timestamp_unix"]
    return value


class Sandbox:
    """The document logic behind the routes (no HTTP here)."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.person = state.person

    def day_documents(self, data_type: str, day: dt.date) -> list[tuple[int, Document]]:
        """(index, document) of `day` as served right now (clock, revisions)."""
        state = self.state
        if day > state.today():
            return []
        now = state.now()
        docs = self.person.documents(data_type, day, state.revision_for(day))
        return [
            (index, served(data_type, doc, now))
            for index, doc in enumerate(docs)
            if ready_at(self.person, data_type, day, doc) <= now
            and (data_type, str(doc.get("id"))) not in state.deleted
        ]

    def list_documents(
        self,
        data_type: str,
        start: dt.datetime,
        end: dt.datetime,
        cursor: tuple[dt.date, int] | None,
        limit: int,
    ) -> tuple[list[Document], tuple[dt.date, int] | None]:
        """One page of documents in the window, and the cursor of the next one (or None)."""
        first = max(self.person.first_day, shifted(start.date(), -LOOKAROUND))
        last = min(self.state.today(), shifted(end.date(), LOOKAROUND))
        if cursor is not None:
            first = max(first, cursor[0])
        page: list[Document] = []
        day = first
        while day <= last:
            for index, doc in self.day_documents(data_type, day):
                if cursor is not None and day == cursor[0] and index < cursor[1]:
                    continue
                if not matches(self.state.faults.semantics(data_type), data_type, doc, start, end):
                    continue
                if len(page) == limit:
                    return page, (day, index)
                page.append(doc)
            day += dt.timedelta(days=1)
        return page, None

    def find_document(self, data_type: str, document_id: str) -> Document | None:
        if data_type == "ring_configuration":
            if ("ring_configuration", document_id) in self.state.deleted:
                return None
            rings = self.person.ring_configurations()
            return next((ring for ring in rings if ring["id"] == document_id), None)
        decoded = self.person.decode_id(data_type, document_id)
        if decoded is None:
            return None
        day, _ = decoded
        if day < self.person.first_day:
            return None
        return next(
            (doc for _, doc in self.day_documents(data_type, day) if doc.get("id") == document_id),
            None,
        )

    # ------------------------------------------------------------------ heart rate

    def heart_rate(
        self, start: dt.datetime, end: dt.datetime, after: int | None, limit: int
    ) -> tuple[list[Document], int | None]:
        """Rows with start <= timestamp < end (and >= `after`), and the next row's epoch."""
        low = int(start.timestamp()) if after is None else max(int(start.timestamp()), after)
        high = int(min(end, self.state.now()).timestamp())
        page: list[Document] = []
        day = max(self.person.first_day, dt.datetime.fromtimestamp(low, dt.UTC).date())
        while low < high:
            day_start = int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp())
            if day_start >= high:
                break
            rows = self.person.heart_rate(day)
            first = bisect.bisect_left(rows, low * 1000, key=_unix_ms)
            for row in rows[first:]:
                moment = row["timestamp_unix"] // 1000
                if moment >= high:
                    break
                if len(page) == limit:
                    return page, moment
                page.append(row)
            day += dt.timedelta(days=1)
        return page, None

    def latest_heart_rate(self) -> list[Document]:
        now = self.state.now()
        cutoff = int(now.timestamp()) * 1000
        for back in range(3):
            rows = self.person.heart_rate(now.date() - dt.timedelta(days=back))
            earlier = [row for row in rows if row["timestamp_unix"] <= cutoff]
            if earlier:
                return [earlier[-1]]
        return []
