"""The reconciliation watch lists: open sessions and unfinished refunds carry
GSI1PK = PAYWATCH#<list>, GSI1SK = <created at>#..., sparse (removed when they end)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shared.platform.schema import STATUS_INDEX
from shared.platform.table import Item, Table


def watched_items(table: Table, watch: str, *, older_than: str, limit: int) -> Iterator[Item]:
    """The items on `watch` created before `older_than`, oldest first, read whole from the
    table (the index holds only keys and list columns), at most `limit`."""
    start: dict[str, Any] | None = None
    seen = 0
    while seen < limit:
        request: dict[str, Any] = {
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": f"{STATUS_INDEX}PK = :watch AND {STATUS_INDEX}SK < :before",
            "ExpressionAttributeValues": {":watch": {"S": watch}, ":before": {"S": older_than}},
            "Limit": min(100, limit - seen),
        }
        if start:
            request["ExclusiveStartKey"] = start
        keys, start = table.query(**request)
        for key in keys:
            item = table.get(key["PK"], key["SK"], consistent=True)
            if item is not None:
                seen += 1
                yield item
        if not start:
            return
