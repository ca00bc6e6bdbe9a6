"""Where each poller resumes: one item per pull provider, `CURSOR#<provider>` / `CURSOR`.

Read before a poll and advanced only after the items fetched from it are stored, so a run that
fails midway fetches them again (the inbox dedupes them). The write is conditional on the cursor
the run started from: a slower, overlapping run (EventBridge delivers at least once) never moves
it back.
"""

from __future__ import annotations

from datetime import datetime

from shared.kernel.time import utc_iso
from shared.platform.table import ConditionFailed, Table

CURSOR_SK = "CURSOR"


def cursor_pk(source: str) -> str:
    return f"CURSOR#{source}"


class CursorRepository:
    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, source: str) -> str | None:
        item = self._table.get(cursor_pk(source), CURSOR_SK, consistent=True)
        return None if item is None else str(item["resume_from"])

    def advance(self, source: str, *, start: str | None, to: str, at: datetime) -> bool:
        """Move the cursor from `start` (None: never set) to `to`. False: another run moved it
        meanwhile, and its position is kept."""
        condition = "attribute_not_exists(PK)" if start is None else "resume_from = :start"
        try:
            self._table.put(
                {
                    "PK": cursor_pk(source),
                    "SK": CURSOR_SK,
                    "type": "cursor",
                    "source": source,
                    "resume_from": to,  # not "cursor": a DynamoDB reserved word
                    "updated_at": utc_iso(at),
                },
                condition=condition,
                values=None if start is None else {":start": start},
            )
        except ConditionFailed:
            return False
        return True
