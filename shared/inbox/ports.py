"""What the inbox's users need from its store, as Protocols (InboxRepository satisfies both as
it is; the unit tests' fakes do too)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from shared.inbox.store import InboxEntry


class InboxWriter(Protocol):
    """Where every source's deliveries are stored, once each (webhook, poll, queue)."""

    def record(self, entry: InboxEntry) -> bool:
        """Store a delivery once; False when its event id was stored before."""
        ...


class FailureLog(Protocol):
    """Where processing failures of stored deliveries are listed for operators."""

    def record_failure(
        self, source: str, event_id: str, error: str, *, at: datetime, kind: str = "error"
    ) -> None: ...
